"""Refunds end to end: staff refund captured money (in full, in part, by
line with restock) under an Idempotency-Key; the refunds worker takes each
to a payment provider (a real HTTP server this file runs on loopback, which
fails on purpose for a while); the provider's signed webhook settles it; the
customer is told; the report nets it out."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import requests

from conftest import PORT
from test_async import iso, notifications, wait_for
from test_orders import (auth, checkout, make_product, payment, put_line,
                         stock_of, webhook)

# The local stack's dev-only secret for our refund requests (tools/stack.py);
# the provider's webhooks to us are signed with another (WEBHOOK_SECRET).
REFUND_REQUEST_SECRET = b"rrsec_local_dev"


class Provider:
    """The payment provider's refunds endpoint. Checks our signature with
    its own HMAC (not the project's signer), counts every attempt per
    Idempotency-Key, and answers 503 while `failing`."""

    def __init__(self, port: int):
        self.failing = False
        self.attempts: Counter[str] = Counter()
        self.accepted: dict[str, dict] = {}
        self.bad_signatures = 0
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                key = self.headers.get("idempotency-key", "")
                provider.attempts[key] += 1
                if not provider.verify(self.headers.get("payment-signature", ""), body):
                    provider.bad_signatures += 1
                    self.send_response(401)
                elif provider.failing:
                    self.send_response(503)
                else:
                    provider.accepted.setdefault(key, json.loads(body))
                    self.send_response(202)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def verify(header: str, body: bytes) -> bool:
        parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        if abs(time.time() - int(parts.get("t", "0"))) > 300:
            return False
        expected = hmac.new(REFUND_REQUEST_SECRET, parts["t"].encode() + b"." + body,
                            hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts.get("v1", ""))


@pytest.fixture(scope="module")
def provider(stack):
    provider = Provider(PORT + 1)
    yield provider
    provider.server.shutdown()
    provider.server.server_close()


def paid_order(stack, admin_token: str, quantity: int = 2, amount: int = 1250) -> tuple[str, dict, str]:
    """A paid order of `quantity` units of a fresh product (GB: 20% tax on
    top): (customer token, order, sku)."""
    token = stack.new_customer()["tokens"]["access_token"]
    sku = make_product(stack, admin_token, stock=10, amount=amount)
    assert put_line(stack.base, token, sku, quantity).status_code == 200
    response = checkout(stack.base, token, str(uuid.uuid4()))
    assert response.status_code == 201, response.text
    order = response.json()
    assert webhook(stack, payment(order)).json()["outcome"] == "paid"
    return token, order, sku


def refund(stack, admin_token: str, order_id: str, body: dict, key: str | None = None):
    headers = auth(admin_token)
    if key is not False:
        headers["idempotency-key"] = key or str(uuid.uuid4())
    return requests.post(f"{stack.base}/v1/admin/orders/{order_id}/refunds", json=body,
                         headers=headers, timeout=60)


def order_of(stack, token: str, order_id: str) -> dict:
    response = stack.get(f"/v1/orders/{order_id}", headers=auth(token))
    assert response.status_code == 200, response.text
    return response.json()


def refund_event(order: dict, refund: dict, **overrides) -> dict:
    return {"id": f"evt_{uuid.uuid4().hex}", "type": "refund.succeeded",
            "order_id": order["order_id"], "refund_id": refund["refund_id"],
            "amount": refund["amount"]["amount"], "currency": refund["amount"]["currency"],
            **overrides}


def test_a_full_refund_restocks_reaches_the_provider_once_and_settles(stack, admin_token, provider):
    token, order, sku = paid_order(stack, admin_token)
    assert stock_of(stack, sku) == 8
    key = str(uuid.uuid4())
    body = {"restock": True, "reason": "Customer returned the parcel"}
    response = refund(stack, admin_token, order["order_id"], body, key)
    assert response.status_code == 201, response.text
    made = response.json()["refund"]
    assert made["status"] == "pending"
    assert made["amount"] == {"amount": 3000, "currency": "USD"}, "2 x 12.50 + 20% tax"
    assert made["restocked"] == [{"sku": sku, "quantity": 2}]
    assert stock_of(stack, sku) == 10, "both units are back on the shelf"

    # The key replays; another body with it is refused; neither adds a refund.
    again = refund(stack, admin_token, order["order_id"], body, key)
    assert again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == response.json()
    other = refund(stack, admin_token, order["order_id"], {**body, "reason": "other"}, key)
    assert other.status_code == 422
    assert stock_of(stack, sku) == 10

    now = order_of(stack, token, order["order_id"])
    assert now["status"] == "refunded"
    assert now["captured"] == now["refunded"] == now["total"]
    assert [r["refund_id"] for r in now["refunds"]] == [made["refund_id"]]

    # The worker takes it to the provider, signed, keyed by the refund id.
    sent = wait_for(lambda: provider.accepted.get(made["refund_id"]), timeout=20)
    assert sent == {"refund_id": made["refund_id"], "order_id": order["order_id"],
                    "amount": 3000, "currency": "USD"}
    assert wait_for(lambda: order_of(stack, token, order["order_id"])["refunds"][0]["status"]
                    == "submitted", timeout=10)

    settled = webhook(stack, refund_event(order, made))
    assert settled.status_code == 200, settled.text
    assert settled.json()["outcome"] == "refund_succeeded"
    before = order_of(stack, token, order["order_id"])
    assert before["refunds"][0]["status"] == "succeeded"
    # A replayed webhook, or the same news under a new id, changes nothing.
    replay = refund_event(order, made)
    for event in (replay, replay, refund_event(order, made)):
        response = webhook(stack, event)
        assert response.status_code == 200
        assert response.json()["outcome"] == "duplicate"
    assert order_of(stack, token, order["order_id"]) == before
    # The opposite news afterwards is a conflict.
    assert webhook(stack, refund_event(order, made, type="refund.failed")).status_code == 409

    notices = wait_for(lambda: [n for n in notifications(stack, token)
                                if n["type"] == "refund_issued"], timeout=15)
    assert len(notices) == 1, notices
    assert "USD 30.00" in notices[0]["body"]
    assert provider.attempts[made["refund_id"]] == 1
    assert provider.bad_signatures == 0


def test_concurrent_refunds_never_exceed_the_capture(stack, admin_token, provider):
    token, order, _ = paid_order(stack, admin_token)
    assert order["total"]["amount"] == 3000

    def seven_hundred(_: int) -> requests.Response:
        return refund(stack, admin_token, order["order_id"], {
            "amount": {"amount": 700, "currency": "USD"}, "restock": False, "reason": "rush"})

    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(seven_hundred, range(16)))
    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 4, 409: 12}, [(r.status_code, r.text) for r in responses]
    now = order_of(stack, token, order["order_id"])
    assert now["refunded"]["amount"] == 2800
    assert now["status"] == "partially_refunded"
    assert len(now["refunds"]) == 4

    # Twenty parallel retries of one key: one refund of the last 200.
    key = str(uuid.uuid4())

    def last_two_hundred(_: int) -> requests.Response:
        return refund(stack, admin_token, order["order_id"], {
            "amount": {"amount": 200, "currency": "USD"}, "restock": False, "reason": "rest"}, key)

    with ThreadPoolExecutor(max_workers=20) as pool:
        retries = list(pool.map(last_two_hundred, range(20)))
    created = [r for r in retries if r.status_code == 201]
    assert created and all(r.status_code in (201, 409) for r in retries), \
        [(r.status_code, r.text) for r in retries]
    assert len({r.text for r in created}) == 1, "every success is the same refund"
    now = order_of(stack, token, order["order_id"])
    assert now["refunded"] == now["captured"]
    assert now["status"] == "refunded"
    assert len(now["refunds"]) == 5
    nothing_left = refund(stack, admin_token, order["order_id"], {"restock": False, "reason": "x"})
    assert nothing_left.status_code == 409


def test_a_refund_survives_the_provider_failing_and_lands_once(stack, admin_token, provider):
    token, order, _ = paid_order(stack, admin_token, quantity=1)
    provider.failing = True
    try:
        response = refund(stack, admin_token, order["order_id"],
                          {"restock": False, "reason": "provider outage drill"})
        assert response.status_code == 201, response.text
        refund_id = response.json()["refund"]["refund_id"]
        assert wait_for(lambda: provider.attempts[refund_id] >= 2, timeout=30), \
            "the worker retries while the provider fails"
        assert refund_id not in provider.accepted
        assert order_of(stack, token, order["order_id"])["refunds"][0]["status"] == "pending"
    finally:
        provider.failing = False
    assert wait_for(lambda: refund_id in provider.accepted, timeout=40), "lands when it is back"
    assert wait_for(lambda: order_of(stack, token, order["order_id"])["refunds"][0]["status"]
                    == "submitted", timeout=10)
    attempts = provider.attempts[refund_id]
    time.sleep(8)  # longer than a visibility timeout and a sweeper round
    assert provider.attempts[refund_id] == attempts, "nothing is sent once accepted"
    assert provider.accepted[refund_id]["amount"] == order["total"]["amount"]


def test_line_refunds_restock_exactly_the_refunded_units(stack, admin_token, provider):
    token, order, sku = paid_order(stack, admin_token, quantity=3)
    assert stock_of(stack, sku) == 7
    one = {"lines": [{"sku": sku, "quantity": 1}], "restock": True, "reason": "chipped"}
    for expected_stock in (8, 9):
        response = refund(stack, admin_token, order["order_id"], one)
        assert response.status_code == 201, response.text
        assert response.json()["refund"]["amount"]["amount"] == 1500, "12.50 + 20% each"
        assert stock_of(stack, sku) == expected_stock
    too_many = refund(stack, admin_token, order["order_id"],
                      {"lines": [{"sku": sku, "quantity": 2}], "restock": True, "reason": "x"})
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "lines"
    unknown = refund(stack, admin_token, order["order_id"],
                     {"lines": [{"sku": "NOT-IN-ORDER", "quantity": 1}], "restock": False,
                      "reason": "x"})
    assert unknown.status_code == 422
    assert stock_of(stack, sku) == 9, "refusals change nothing"
    last = refund(stack, admin_token, order["order_id"], one)
    assert last.status_code == 201
    assert last.json()["order"]["status"] == "refunded"
    assert stock_of(stack, sku) == 10


def test_a_failed_refund_gives_the_money_back_to_refund(stack, admin_token, provider):
    token, order, _ = paid_order(stack, admin_token)
    response = refund(stack, admin_token, order["order_id"], {
        "amount": {"amount": 1000, "currency": "USD"}, "restock": False, "reason": "goodwill"})
    assert response.status_code == 201
    made = response.json()["refund"]
    wrong = webhook(stack, refund_event(order, made, amount=999))
    assert wrong.status_code == 409
    other_currency = webhook(stack, refund_event(order, made, currency="EUR"))
    assert other_currency.status_code == 409
    failed = webhook(stack, refund_event(order, made, type="refund.failed"))
    assert failed.json()["outcome"] == "refund_failed"
    now = order_of(stack, token, order["order_id"])
    assert now["status"] == "paid", "back where it was before the refund"
    assert now["refunded"]["amount"] == 0
    assert now["refunds"][0]["status"] == "failed"
    assert webhook(stack, refund_event(order, made)).status_code == 409
    whole = refund(stack, admin_token, order["order_id"], {"restock": False, "reason": "again"})
    assert whole.status_code == 201
    assert whole.json()["refund"]["amount"]["amount"] == 3000


def test_a_failed_refund_that_restocked_leaves_the_order_unshippable(stack, admin_token, provider):
    """The units a refund put back on sale stay there when it fails (they
    may be sold already), so the unshipped order does not go back to
    `paid`, where staff could ship units it no longer holds (issue 37,
    defect 2)."""
    token, order, sku = paid_order(stack, admin_token)
    before = stock_of(stack, sku)
    made = refund(stack, admin_token, order["order_id"], {
        "lines": [{"sku": sku, "quantity": 1}], "restock": True, "reason": "damaged"})
    assert made.status_code == 201, made.text
    assert stock_of(stack, sku) == before + 1
    failed = webhook(stack, refund_event(order, made.json()["refund"], type="refund.failed"))
    assert failed.json()["outcome"] == "refund_failed"
    now = order_of(stack, token, order["order_id"])
    assert now["refunded"]["amount"] == 0
    assert now["status"] == "partially_refunded", now["status"]
    assert stock_of(stack, sku) == before + 1, "the restock stands"
    ship = stack.post(f"/v1/admin/orders/{order['order_id']}/ship", None, token=admin_token,
                      headers={"idempotency-key": str(uuid.uuid4())})
    assert ship.status_code == 409, ship.text
    # Staff refund it again; the restock is not made twice.
    again = refund(stack, admin_token, order["order_id"], {
        "lines": [{"sku": sku, "quantity": 1}], "restock": False, "reason": "damaged"})
    assert again.status_code == 201, again.text
    assert stock_of(stack, sku) == before + 1


def test_money_for_a_cancelled_order_is_refunded_through_the_same_path(stack, admin_token, provider):
    token = stack.new_customer()["tokens"]["access_token"]
    sku = make_product(stack, admin_token, stock=5)
    put_line(stack.base, token, sku, 1)
    order = checkout(stack.base, token, str(uuid.uuid4())).json()
    assert stack.post(f"/v1/orders/{order['order_id']}/cancel", token=token).status_code == 200
    assert webhook(stack, payment(order)).json()["outcome"] == "refund_required"
    now = order_of(stack, token, order["order_id"])
    assert now["status"] == "cancelled" and now["captured"] == order["total"]
    # Its stock went back at the cancel: restocking again would invent units.
    restock = refund(stack, admin_token, order["order_id"], {"restock": True, "reason": "late"})
    assert restock.status_code == 422
    assert stock_of(stack, sku) == 5
    settled = refund(stack, admin_token, order["order_id"], {"restock": False, "reason": "late"})
    assert settled.status_code == 201, settled.text
    assert settled.json()["order"]["status"] == "refunded"
    assert settled.json()["refund"]["amount"] == order["total"]


def test_refund_requests_are_checked(stack, admin_token, customer, provider):
    token, order, _ = paid_order(stack, admin_token)
    ok = {"restock": False, "reason": "x"}
    assert refund(stack, customer["tokens"]["access_token"], order["order_id"], ok).status_code == 403
    assert refund(stack, admin_token, order["order_id"], ok, key=False).status_code == 400
    assert refund(stack, admin_token, "ord_" + "0" * 32, ok).status_code == 404
    for bad in ({"restock": False}, {**ok, "amount": {"amount": 0, "currency": "USD"}},
                {**ok, "status": "succeeded"}, {**ok, "amount": 5}):
        response = refund(stack, admin_token, order["order_id"], bad)
        assert response.status_code == 422, (bad, response.text)
    too_much = refund(stack, admin_token, order["order_id"],
                      {**ok, "amount": {"amount": 3001, "currency": "USD"}})
    assert too_much.status_code == 409
    unpaid_token = stack.new_customer()["tokens"]["access_token"]
    put_line(stack.base, unpaid_token, make_product(stack, admin_token, stock=5), 1)
    unpaid = checkout(stack.base, unpaid_token, str(uuid.uuid4())).json()
    assert refund(stack, admin_token, unpaid["order_id"], ok).status_code == 409
    assert order_of(stack, token, order["order_id"])["refunds"] == []
    # A refund event must name its refund; a payment event must not.
    no_id = refund_event(order, {"refund_id": None, "amount": {"amount": 1, "currency": "USD"}})
    del no_id["refund_id"]
    assert webhook(stack, no_id).status_code == 422
    named = payment(order, refund_id="rfd_" + "0" * 32)
    assert webhook(stack, named).status_code == 422
    unknown = refund_event(order, {"refund_id": "rfd_" + "0" * 32,
                                   "amount": {"amount": 1, "currency": "USD"}})
    assert webhook(stack, unknown).status_code == 404


def test_the_report_nets_refunds_out(stack, admin_token, provider):
    start = datetime.now(timezone.utc) - timedelta(milliseconds=5)
    time.sleep(0.02)
    _, kept, _ = paid_order(stack, admin_token)
    _, halved, _ = paid_order(stack, admin_token)
    time.sleep(0.02)
    end = datetime.now(timezone.utc) + timedelta(milliseconds=5)
    response = refund(stack, admin_token, halved["order_id"], {
        "amount": {"amount": 1500, "currency": "USD"}, "restock": False, "reason": "half"})
    assert response.status_code == 201
    job = stack.post("/v1/admin/reports", {"from": iso(start), "to": iso(end)}, token=admin_token)
    assert job.status_code == 202

    def finished():
        report = stack.get(job.headers["location"], headers=auth(admin_token)).json()
        return report if report["status"] in ("succeeded", "failed") else None

    report = wait_for(finished, timeout=15)
    assert report and report["status"] == "succeeded", report
    result = report["result"]
    assert result["orders"] == 2
    # 2500 + 2500 net sales, 500 + 500 tax; half of one order (1250 + 250)
    # went back.
    assert result["refunded"] == {"amount": 1500, "currency": "USD"}
    assert result["revenue"] == {"amount": 5000 - 1250, "currency": "USD"}
    assert result["tax"] == {"amount": 1000 - 250, "currency": "USD"}
