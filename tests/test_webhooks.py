"""Outgoing webhooks end to end (issue 17): staff subscribe a merchant
endpoint, and every order, payment and refund event reaches it signed the
Standard Webhooks way, through the outbox, SQS and the webhooks worker.

The receivers are real HTTP servers this file runs on loopback (the local
stack's dev-only setting allows loopback; nothing else is ever contacted).
Signatures are checked with the Standard Webhooks reference library
(`standardwebhooks`), not the project's signer."""

from __future__ import annotations

import http.server
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from standardwebhooks import Webhook, WebhookVerificationError

from test_async import wait_for
from test_metrics import emf_lines, log_size, metric_docs
from test_orders import auth, checkout, make_product, payment, put_line, webhook

ALL_TYPES = ["order.placed", "order.paid", "order.shipped", "order.cancelled",
             "order.expired", "refund.requested", "refund.succeeded", "refund.failed"]


class Receiver:
    """A merchant's endpoint. Answers `status` (503 while failing), and
    keeps every request with whether its signature verified."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.secret: str | None = None
        self.answer = lambda: 204
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = False
                if receiver.secret:
                    try:
                        Webhook(receiver.secret).verify(body, headers)
                        verified = True
                    except WebhookVerificationError:
                        pass
                with receiver.lock:
                    status = receiver.answer()
                    receiver.requests.append({"headers": headers, "body": body,
                                              "verified": verified, "status": status,
                                              "at": time.time()})
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.requests)

    def accepted(self) -> list[dict]:
        return [r for r in self.snapshot() if 200 <= r["status"] < 300]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def create_endpoint(stack, token: str, url: str, types: list[str], key: str | None = None):
    headers = auth(token)
    if key:
        headers["idempotency-key"] = key
    return requests.post(f"{stack.base}/v1/admin/webhook-endpoints",
                         json={"url": url, "event_types": types}, headers=headers, timeout=60)


@pytest.fixture()
def subscribed(stack, admin_token):
    """A receiver and an endpoint for it; both gone after the test."""
    made = []

    def subscribe(types: list[str]) -> tuple[Receiver, dict]:
        receiver = Receiver()
        response = create_endpoint(stack, admin_token, receiver.url, types)
        assert response.status_code == 201, response.text
        endpoint = response.json()
        receiver.secret = endpoint["secret"]
        made.append((receiver, endpoint))
        return receiver, endpoint

    yield subscribe
    for receiver, endpoint in made:
        stack.request("DELETE", f"/v1/admin/webhook-endpoints/{endpoint['id']}",
                      headers=auth(admin_token))
        receiver.close()


def deliveries(stack, admin_token: str, endpoint_id: str, **params) -> list[dict]:
    response = stack.get(f"/v1/admin/webhook-endpoints/{endpoint_id}/deliveries",
                         headers=auth(admin_token), params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def events_of(requests_: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """(event type, order id) -> the requests that carried it."""
    seen: dict[tuple[str, str], list[dict]] = {}
    for r in requests_:
        payload = json.loads(r["body"])
        seen.setdefault((payload["type"], payload["data"]["order"]["order_id"]), []).append(r)
    return seen


def placed(stack, admin_token: str) -> tuple[str, dict]:
    token = stack.new_customer()["tokens"]["access_token"]
    sku = make_product(stack, admin_token, stock=5, amount=1250)
    assert put_line(stack.base, token, sku, 1).status_code == 200
    response = checkout(stack.base, token, str(uuid.uuid4()))
    assert response.status_code == 201, response.text
    return token, response.json()


def test_endpoints_are_checked_at_registration(stack, admin_token, customer):
    url = "http://127.0.0.1:9/hooks"
    refused = {
        "https://169.254.169.254/latest/meta-data/": "url",
        "https://[fd00:ec2::254]/": "url",
        "https://10.0.0.8/hooks": "url",
        "https://192.168.1.20/hooks": "url",
        "https://[::ffff:169.254.169.254]/": "url",
        "http://169.254.169.254/": "url",
        "https://0.0.0.0/": "url",
        # Plain http only to loopback, and only under the dev setting.
        "http://erp.example.com/hooks": "url",
        "https://admin:secret@127.0.0.1/hooks": "url",
        "ftp://127.0.0.1/hooks": "url",
        "not a url": "url",
        "https://" + "a" * 2100 + ".example/": "url",
    }
    for bad, field in refused.items():
        response = create_endpoint(stack, admin_token, bad, ["order.paid"])
        assert response.status_code == 422, (bad, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in response.json()["errors"]] == [field], bad
    for types in ([], ["order.teleported"], ["report.requested"], ["webhook.replay_requested"]):
        response = create_endpoint(stack, admin_token, url, types)
        assert response.status_code == 422, (types, response.text)
        assert response.json()["errors"][0]["field"] == "event_types"
    assert create_endpoint(stack, customer["tokens"]["access_token"], url,
                           ["order.paid"]).status_code == 403
    assert requests.post(f"{stack.base}/v1/admin/webhook-endpoints", timeout=30,
                         json={"url": url, "event_types": ["order.paid"]}).status_code == 401
    listed = stack.get("/v1/admin/webhook-endpoints", headers=auth(admin_token)).json()["items"]
    assert all(e["url"] != url for e in listed), "nothing refused was stored"

    key = str(uuid.uuid4())
    first = create_endpoint(stack, admin_token, url, ["order.paid", "order.placed"], key)
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["id"].startswith("whep_") and created["secret"].startswith("whsec_")
    assert created["event_types"] == ["order.paid", "order.placed"]
    assert first.headers["location"] == f"/v1/admin/webhook-endpoints/{created['id']}"
    again = create_endpoint(stack, admin_token, url, ["order.paid", "order.placed"], key)
    assert again.status_code == 201 and again.headers.get("idempotent-replayed") == "true"
    assert again.json() == created
    assert create_endpoint(stack, admin_token, url, ["order.paid"], key).status_code == 422

    listed = stack.get("/v1/admin/webhook-endpoints", headers=auth(admin_token)).json()["items"]
    mine = [e for e in listed if e["id"] == created["id"]]
    assert mine == [{k: v for k, v in created.items() if k != "secret"}], "secret shown once"
    assert sum(e["url"] == url for e in listed) == 1, "the replay made no second endpoint"

    path = f"/v1/admin/webhook-endpoints/{created['id']}"
    assert stack.request("DELETE", path, headers=auth(customer["tokens"]["access_token"])).status_code == 403
    assert stack.request("DELETE", path, headers=auth(admin_token)).status_code == 204
    assert stack.request("DELETE", path, headers=auth(admin_token)).status_code == 404
    assert stack.get(path + "/deliveries", headers=auth(admin_token)).status_code == 404
    assert stack.request("DELETE", "/v1/admin/webhook-endpoints/whep_nope",
                         headers=auth(admin_token)).status_code == 404


def test_every_event_arrives_signed_though_the_receiver_fails_for_a_while(
        stack, admin_token, subscribed):
    receiver, endpoint = subscribed(ALL_TYPES)
    # Down (503) for the first 2.5 s after the first delivery reaches it.
    first_seen: list[float] = []

    def answer() -> int:
        if not first_seen:
            first_seen.append(time.time())
        return 503 if time.time() < first_seen[0] + 2.5 else 204

    receiver.answer = answer
    # Real concurrency: twelve customers check out at once; half pay, the
    # rest cancel; two of the paid ones are shipped.
    with ThreadPoolExecutor(max_workers=12) as pool:
        orders = list(pool.map(lambda _: placed(stack, admin_token), range(12)))
    paid, cancelled = orders[:6], orders[6:]
    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(lambda o: webhook(stack, payment(o[1])), paid))
        cancels = list(pool.map(lambda o: requests.post(
            f"{stack.base}/v1/orders/{o[1]['order_id']}/cancel", headers=auth(o[0]),
            timeout=60), cancelled))
    assert [r.json()["outcome"] for r in outcomes] == ["paid"] * 6
    assert [r.status_code for r in cancels] == [200] * 6, [r.text for r in cancels]
    for _, order in paid[:2]:
        shipped = stack.post(f"/v1/admin/orders/{order['order_id']}/ship", token=admin_token)
        assert shipped.status_code == 200, shipped.text

    expected = ({("order.placed", o["order_id"]) for _, o in orders}
                | {("order.paid", o["order_id"]) for _, o in paid}
                | {("order.shipped", o["order_id"]) for _, o in paid[:2]}
                | {("order.cancelled", o["order_id"]) for _, o in cancelled})
    arrived = wait_for(lambda: expected <= set(events_of(receiver.accepted())), timeout=90)
    got = events_of(receiver.accepted())
    assert arrived, f"missing: {sorted(expected - set(got))}"

    failed = [r for r in receiver.snapshot() if r["status"] == 503]
    assert failed, "the receiver was down for a while, so some attempts failed"
    assert all(r["verified"] for r in receiver.snapshot()), "every attempt is signed"
    by_id: dict[str, set[bytes]] = {}
    for r in receiver.snapshot():
        by_id.setdefault(r["headers"]["webhook-id"], set()).add(r["body"])
        assert abs(int(r["headers"]["webhook-timestamp"]) - r["at"]) < 30
        assert r["headers"]["content-type"] == "application/json"
    assert all(len(bodies) == 1 for bodies in by_id.values()), "a retry sends the same bytes"
    for (kind, order_id), carried in got.items():
        if (kind, order_id) not in expected:
            continue
        # One webhook-id per event, however often it was tried.
        assert len({r["headers"]["webhook-id"] for r in carried}) == 1
        payload = json.loads(carried[0]["body"])
        assert payload["data"]["order"]["order_id"] == order_id
        assert payload["timestamp"].endswith("Z") and "customer_id" in payload["data"]

    listed = {d["id"]: d for d in deliveries(stack, admin_token, endpoint["id"])}
    retried = {r["headers"]["webhook-id"] for r in failed}
    for delivery_id in retried:
        assert listed[delivery_id]["status"] == "delivered"
        assert listed[delivery_id]["attempts"] >= 2
    assert deliveries(stack, admin_token, endpoint["id"], status="parked") == []


def test_a_delivery_that_keeps_failing_is_parked_then_replayed_once(
        stack, admin_token, subscribed):
    receiver, endpoint = subscribed(["order.placed"])
    receiver.answer = lambda: 500
    since = log_size(stack)
    _, order = placed(stack, admin_token)

    def parked():
        # This order's delivery: the endpoint may hear of other orders
        # placed while the test runs.
        ours = {r["headers"]["webhook-id"] for r in receiver.snapshot()
                if json.loads(r["body"])["data"]["order"]["order_id"] == order["order_id"]}
        found = [d for d in deliveries(stack, admin_token, endpoint["id"], status="parked")
                 if d["id"] in ours]
        return found or None

    parked_now = wait_for(parked, timeout=90, interval=0.5)
    assert parked_now, "after its last retry the delivery is parked"
    delivery = parked_now[0]
    tries = [r for r in receiver.snapshot()
             if r["headers"]["webhook-id"] == delivery["id"]]
    # The queue's five receives, with the local schedule's delays between.
    assert delivery["attempts"] == 5 == len(tries), (delivery, len(tries))
    assert delivery["last_response_status"] == 500 and delivery["event_type"] == "order.placed"
    gaps = [b["at"] - a["at"] for a, b in zip(tries, tries[1:])]
    assert all(gap >= 0.8 for gap in gaps), f"retries wait for the schedule: {gaps}"
    assert json.loads(tries[0]["body"])["data"]["order"]["order_id"] == order["order_id"]
    failures = metric_docs(emf_lines(stack, since), "WebhookDeliveriesFailed")
    assert sum(d["WebhookDeliveriesFailed"] for d in failures) >= 5
    assert metric_docs(emf_lines(stack, since), "WebhookDeliveriesParked")

    path = f"/v1/admin/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/replay"
    receiver.answer = lambda: 200
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=10) as pool:
        replays = list(pool.map(lambda _: requests.post(
            stack.url(path), headers={**auth(admin_token), "idempotency-key": key}, timeout=60),
            range(10)))
    statuses = sorted(r.status_code for r in replays)
    assert set(statuses) <= {202, 409}, [r.text for r in replays]
    accepted = [r for r in replays if r.status_code == 202]
    assert accepted and all(r.json()["id"] == delivery["id"] for r in accepted)
    assert sum(r.headers.get("idempotent-replayed") != "true" for r in accepted) == 1

    sent = wait_for(lambda: [r for r in receiver.accepted()
                             if r["headers"]["webhook-id"] == delivery["id"]], timeout=60)
    assert sent, "the replay reached the receiver"
    assert sent[0]["verified"] and sent[0]["body"] == tries[0]["body"]
    assert wait_for(lambda: [d for d in deliveries(stack, admin_token, endpoint["id"])
                             if d["id"] == delivery["id"] and d["status"] == "delivered"],
                    timeout=30)
    time.sleep(3)
    again = [r for r in receiver.accepted() if r["headers"]["webhook-id"] == delivery["id"]]
    assert len(again) == 1, "one key, one replay"

    missing = f"/v1/admin/webhook-endpoints/{endpoint['id']}/deliveries/evt_{'0' * 32}/replay"
    assert stack.post(missing, token=admin_token).status_code == 404
    assert stack.get(f"/v1/admin/webhook-endpoints/{endpoint['id']}/deliveries",
                     headers=auth(admin_token), params={"status": "lost"}).status_code == 422


def test_a_deleted_endpoint_gets_nothing_more_and_unsubscribed_types_never(
        stack, admin_token, subscribed):
    paid_only, kept = subscribed(["order.paid"])
    dropped, gone = subscribed(["order.placed", "order.paid"])
    assert stack.request("DELETE", f"/v1/admin/webhook-endpoints/{gone['id']}",
                         headers=auth(admin_token)).status_code == 204
    _, order = placed(stack, admin_token)
    assert webhook(stack, payment(order)).json()["outcome"] == "paid"
    assert wait_for(lambda: ("order.paid", order["order_id"]) in events_of(paid_only.accepted()),
                    timeout=60)
    time.sleep(2)
    kinds = {kind for kind, oid in events_of(paid_only.snapshot()) if oid == order["order_id"]}
    assert kinds == {"order.paid"}
    assert not [r for r in dropped.snapshot()
                if json.loads(r["body"])["data"]["order"]["order_id"] == order["order_id"]]
