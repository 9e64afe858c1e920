"""Async work end to end: events relayed to SQS after commit, the local
event source mapping feeding the workers, notifications and reports."""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from test_orders import auth, checkout, make_product, payment, put_line, webhook


def sqs(stack):
    return boto3.client("sqs", endpoint_url=stack.emulator, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def queue_url(stack, name: str) -> str:
    return sqs(stack).get_queue_url(QueueName=name)["QueueUrl"]


def wait_for(predicate, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def notifications(stack, token: str) -> list[dict]:
    response = stack.get("/v1/notifications", headers=auth(token), params={"limit": 100})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def queue_drained(stack, name: str) -> bool:
    attributes = sqs(stack).get_queue_attributes(
        QueueUrl=queue_url(stack, name),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(int(v) == 0 for v in attributes.values())


def new_order(stack, admin_token: str, lines: list[tuple[str, int]] | None = None) -> tuple[dict, dict]:
    customer = stack.new_customer()
    token = customer["tokens"]["access_token"]
    for sku, quantity in lines or [(make_product(stack, admin_token, stock=10, amount=1999), 2)]:
        assert put_line(stack.base, token, sku, quantity).status_code == 200
    response = checkout(stack.base, token, str(uuid.uuid4()))
    assert response.status_code == 201, response.text
    return customer, response.json()


def test_paying_shows_exactly_one_confirmation_even_with_a_duplicate_message(stack, admin_token):
    customer, order = new_order(stack, admin_token)
    token = customer["tokens"]["access_token"]
    assert notifications(stack, token) == [], "placing an order notifies nobody yet"

    paid_at = time.monotonic()
    assert webhook(stack, payment(order)).json()["outcome"] == "paid"
    confirmations = wait_for(
        lambda: [n for n in notifications(stack, token) if n["type"] == "order_confirmation"],
        timeout=10,
    )
    assert confirmations, "no confirmation within 10 s"
    elapsed = time.monotonic() - paid_at
    (confirmation,) = confirmations
    assert confirmation["order_id"] == order["order_id"]
    # 2 x 19.99 and 20% tax to GB (the seeded demo rate): what was paid.
    assert order["total"]["amount"] == 4798
    assert "USD 47.98" in confirmation["body"]

    # Inject two more copies of the order.paid message, as SQS may deliver
    # it: the same event id (its first 12 hex digits are its millisecond).
    event_id = confirmation["id"]
    copy = json.dumps({
        "event_id": event_id,
        "occurred_ms": int(event_id[4:16], 16),
        "type": "order.paid",
        "order_id": order["order_id"],
        "user_id": customer["user"]["id"],
    })
    for _ in range(2):
        sqs(stack).send_message(
            QueueUrl=queue_url(stack, "OrderEventsQueue"), MessageBody=copy,
            MessageAttributes={"correlation_id": {"DataType": "String", "StringValue": "dup-test"}},
        )
    assert wait_for(lambda: queue_drained(stack, "OrderEventsQueue"), timeout=15)
    time.sleep(0.5)
    kinds = [n["type"] for n in notifications(stack, token)]
    assert kinds == ["order_confirmation"], kinds
    print(f"confirmation visible {elapsed:.2f} s after the webhook")


def test_shipping_and_expiry_notices_follow_their_changes(stack, admin_token):
    customer, order = new_order(stack, admin_token)
    token = customer["tokens"]["access_token"]
    webhook(stack, payment(order))
    shipped = stack.post(f"/v1/admin/orders/{order['order_id']}/ship", token=admin_token)
    assert shipped.status_code == 200, shipped.text
    kinds = wait_for(
        lambda: (k := [n["type"] for n in notifications(stack, token)]) and len(k) == 2 and k,
        timeout=10,
    )
    # Newest first.
    assert kinds == ["shipping_notice", "order_confirmation"], kinds

    other, cancelled = new_order(stack, admin_token)
    other_token = other["tokens"]["access_token"]
    assert stack.post(f"/v1/orders/{cancelled['order_id']}/cancel",
                      token=other_token).status_code == 200
    assert wait_for(lambda: [n["type"] for n in notifications(stack, other_token)], 10) == [
        "order_cancelled"]
    # Nobody sees another customer's notifications.
    assert all(n["order_id"] == order["order_id"] for n in notifications(stack, token))


def test_notifications_need_a_signed_in_caller(stack):
    response = stack.get("/v1/notifications")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_a_report_totals_what_the_orders_made(stack, admin_token):
    skus = [make_product(stack, admin_token, stock=50, amount=amount) for amount in (1250, 399)]
    start = datetime.now(timezone.utc) - timedelta(milliseconds=5)
    time.sleep(0.02)

    paid_lines = [[(skus[0], 2)], [(skus[0], 1), (skus[1], 3)], [(skus[1], 5)]]
    counted = []
    for lines in paid_lines:
        _, order = new_order(stack, admin_token, lines)
        assert webhook(stack, payment(order)).json()["outcome"] == "paid"
        counted.append(order)
    # The last paid order ships: still revenue.
    assert stack.post(f"/v1/admin/orders/{counted[-1]['order_id']}/ship",
                      token=admin_token).status_code == 200
    # Unpaid and cancelled orders bring in nothing.
    new_order(stack, admin_token, [(skus[0], 4)])
    customer, cancelled = new_order(stack, admin_token, [(skus[1], 1)])
    assert stack.post(f"/v1/orders/{cancelled['order_id']}/cancel",
                      token=customer["tokens"]["access_token"]).status_code == 200
    time.sleep(0.02)
    end = datetime.now(timezone.utc) + timedelta(milliseconds=5)

    expected_units: dict[str, int] = defaultdict(int)
    expected_revenue: dict[str, int] = defaultdict(int)
    for order in counted:
        for item in order["items"]:
            expected_units[item["sku"]] += item["quantity"]
            expected_revenue[item["sku"]] += item["line_total"]["amount"] - item["discount"]["amount"]

    response = stack.post("/v1/admin/reports", {"from": iso(start), "to": iso(end)},
                          token=admin_token)
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "queued"
    assert response.headers["location"] == f"/v1/admin/reports/{job['job_id']}"

    def finished():
        report = stack.get(response.headers["location"], headers=auth(admin_token)).json()
        return report if report["status"] in ("succeeded", "failed") else None

    report = wait_for(finished, timeout=15)
    assert report and report["status"] == "succeeded", report
    result = report["result"]
    assert result["orders"] == len(counted)
    # Net sales: after discounts, before tax (prices exclude tax here).
    assert result["revenue"] == {
        "amount": sum(o["subtotal"]["amount"] - o["discount"]["amount"] for o in counted),
        "currency": "USD"}
    assert result["tax"] == {"amount": sum(o["tax"]["amount"] for o in counted), "currency": "USD"}
    assert result["revenue"]["amount"] + result["tax"]["amount"] == sum(
        o["total"]["amount"] for o in counted)
    assert result["skus"] == [
        {"sku": sku, "units": expected_units[sku],
         "revenue": {"amount": expected_revenue[sku], "currency": "USD"}}
        for sku in sorted(expected_units)
    ]


@pytest.mark.parametrize("body, field", [
    ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to"),
    ({"from": "yesterday", "to": "2026-01-01T00:00:00Z"}, "from"),
    ({"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to"),
    ({"from": "2026-01-01T00:00:00Z"}, None),
    ({"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "status": "done"}, None),
])
def test_bad_report_windows_are_422(stack, admin_token, body, field):
    response = stack.post("/v1/admin/reports", body, token=admin_token)
    assert response.status_code == 422, response.text
    if field:
        assert field in [e["field"] for e in response.json()["errors"]]


def test_reports_are_for_staff_only(stack, customer, admin_token):
    token = customer["tokens"]["access_token"]
    window = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}
    assert stack.post("/v1/admin/reports", window, token=token).status_code == 403
    assert stack.post("/v1/admin/reports", window).status_code == 401
    created = stack.post("/v1/admin/reports", window, token=admin_token)
    assert stack.get(created.headers["location"], headers=auth(token)).status_code == 403
    missing = stack.get(f"/v1/admin/reports/rpt_{uuid.uuid4().hex}", headers=auth(admin_token))
    assert missing.status_code == 404
    assert stack.get("/v1/admin/reports/nonsense", headers=auth(admin_token)).status_code == 404


def test_a_message_no_worker_can_read_goes_to_the_dlq_at_once(stack):
    """A permanent failure is parked on its first delivery instead of being
    tried five times (issue 37, defect 11): with the local visibility
    timeout of 5 s, five deliveries take at least 20 s. It is not lost."""
    client = sqs(stack)
    body = f"not an event {uuid.uuid4()}"
    started = time.monotonic()
    client.send_message(QueueUrl=queue_url(stack, "ReportsQueue"), MessageBody=body)
    dlq = queue_url(stack, "ReportsDeadLetterQueue")

    def parked():
        for message in client.receive_message(
            QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
            VisibilityTimeout=0,
        ).get("Messages", []):
            if message["Body"] == body:
                return message
        return None

    message = wait_for(parked, timeout=15)
    assert message is not None, "the message never reached the DLQ"
    assert time.monotonic() - started < 15
    reason = message["MessageAttributes"]["parked_reason"]["StringValue"]
    assert reason.startswith("malformed message"), reason
    client.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
    assert wait_for(lambda: queue_drained(stack, "ReportsQueue"), timeout=10)
