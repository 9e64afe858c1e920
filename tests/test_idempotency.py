"""`Idempotency-Key` on every mutating POST (issue 17): twenty parallel
retries of one key make one effect, every success is the same response,
and a later retry is that response again marked `Idempotent-Replayed`.
Checkout and refunds have their own tests (test_orders, test_refunds)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import requests

from test_async import iso, wait_for
from test_orders import (auth, checkout, make_product, order_status, payment, placed_order,
                         put_line, stock_of, webhook)


def post(stack, path: str, body, key: str | None, token: str | None = None) -> requests.Response:
    headers = {} if token is None else auth(token)
    if key is not None:
        headers["idempotency-key"] = key
    return requests.post(stack.url(path), json=body, headers=headers, timeout=60)


def twenty_retries(stack, path: str, body, token: str | None = None,
                   other=None, other_path: str | None = None) -> requests.Response:
    """Sends one request twenty times at once under one key, then once more,
    then `other` (another valid body) under the same key; returns the one
    response all of them agree on."""
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: post(stack, path, body, key, token), range(20)))
    succeeded = [r for r in responses if r.status_code < 300]
    assert succeeded, [(r.status_code, r.text) for r in responses]
    for r in responses:
        # The only other answer: the first is still running.
        assert r.status_code < 300 or (r.status_code == 409 and "in progress" in r.text), \
            (r.status_code, r.text)
    first = succeeded[0]
    assert len({(r.status_code, r.text) for r in succeeded}) == 1, "every success is the same"
    again = post(stack, path, body, key, token)
    assert (again.status_code, again.text) == (first.status_code, first.text)
    assert again.headers.get("idempotent-replayed") == "true"
    for header in ("etag", "location"):
        assert again.headers.get(header) == first.headers.get(header), header
    # Another body under the same key is refused, and changes nothing.
    if other is not None or other_path is not None:
        refused = post(stack, other_path or path, other if other is not None else body, key, token)
        assert refused.status_code == 422, refused.text
        assert "Idempotency-Key" in refused.text
    return first


def test_registering_twenty_times_under_one_key_makes_one_account(stack):
    email = f"idem-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": "correct horse battery staple", "name": "Idem Potent"}
    account = twenty_retries(stack, "/v1/auth/register", body,
                             other={**body, "name": "Someone Else"})
    assert account.status_code == 201
    assert account.json()["email"] == email
    assert stack.login(email, body["password"])["access_token"]
    # One account: without the key, the email is taken.
    assert post(stack, "/v1/auth/register", body, None).status_code == 409
    assert post(stack, "/v1/auth/register", body, str(uuid.uuid4())).status_code == 409


def test_creating_a_product_twenty_times_under_one_key_makes_one(stack, admin_token):
    sku = f"IDEM-{uuid.uuid4().hex[:10].upper()}"
    body = {"sku": sku, "name": "Idempotent tea", "category": "e2e-idem",
            "price": {"amount": 900, "currency": "USD"}, "stock": 7}
    created = twenty_retries(stack, "/v1/products", body, admin_token,
                             other={**body, "name": "Another tea"})
    assert created.status_code == 201
    assert created.headers["location"] == f"/v1/products/{sku}"
    assert stack.get(f"/v1/products/{sku}").json()["stock"] == 7
    assert post(stack, "/v1/products", body, str(uuid.uuid4()), admin_token).status_code == 409


def test_a_stock_delta_retried_twenty_times_is_added_once(stack, admin_token):
    sku = make_product(stack, admin_token, stock=10)
    path = f"/v1/products/{sku}/stock"
    adjusted = twenty_retries(stack, path, {"delta": 5}, admin_token, other={"delta": 6})
    assert adjusted.status_code == 200
    assert adjusted.json() == {"sku": sku, "stock": 15}
    assert stock_of(stack, sku) == 15
    # Without a key every request is its own change, as before.
    for _ in range(2):
        assert post(stack, path, {"delta": 1}, None, admin_token).status_code == 200
    assert stock_of(stack, sku) == 17
    # A keyed change that would break the bounds is a 409 that stores
    # nothing: the key can be used again once the change fits.
    key = str(uuid.uuid4())
    assert post(stack, path, {"delta": -18}, key, admin_token).status_code == 409
    assert post(stack, path, {"delta": 1}, None, admin_token).status_code == 200
    retried = post(stack, path, {"delta": -18}, key, admin_token)
    assert retried.status_code == 200 and retried.json()["stock"] == 0, retried.text
    assert stock_of(stack, sku) == 0


def test_a_keyed_stock_change_composes_with_concurrent_checkouts(stack, admin_token):
    """Keyed adjustments read and set the stock; checkouts move it at the
    same time. No unit may be lost or made up."""
    sku = make_product(stack, admin_token, stock=40)
    buyers = [stack.new_customer()["tokens"]["access_token"] for _ in range(10)]
    for token in buyers:
        assert put_line(stack.base, token, sku, 2).status_code == 200

    def buy(token: str) -> int:
        return checkout(stack.base, token, str(uuid.uuid4())).status_code

    def receive(_: int) -> int:
        return post(stack, f"/v1/products/{sku}/stock", {"delta": 3}, str(uuid.uuid4()),
                    admin_token).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        bought = pool.map(buy, buyers)
        received = pool.map(receive, range(10))
        bought, received = list(bought), list(received)
    assert bought.count(201) == 10, bought
    assert received.count(200) + received.count(409) == 10, received
    assert stock_of(stack, sku) == 40 - 2 * 10 + 3 * received.count(200)


def test_a_cancel_retried_twenty_times_returns_the_stock_once(stack, admin_token):
    token = stack.new_customer()["tokens"]["access_token"]
    sku = make_product(stack, admin_token, stock=5)
    assert put_line(stack.base, token, sku, 2).status_code == 200
    order = checkout(stack.base, token, str(uuid.uuid4())).json()
    assert stock_of(stack, sku) == 3
    assert put_line(stack.base, token, sku, 1).status_code == 200
    other = checkout(stack.base, token, str(uuid.uuid4())).json()
    assert stock_of(stack, sku) == 2
    # The key names one cancel: on the other order it is refused.
    cancelled = twenty_retries(stack, f"/v1/orders/{order['order_id']}/cancel", None, token,
                               other_path=f"/v1/orders/{other['order_id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert stock_of(stack, sku) == 4
    assert order_status(stack, token, other["order_id"]) == "pending_payment"
    # Without the key a second cancel is what it always was.
    assert post(stack, f"/v1/orders/{order['order_id']}/cancel", None, None, token).status_code == 409


def test_shipping_retried_twenty_times_ships_once(stack, admin_token):
    token, order = placed_order(stack, admin_token)
    assert webhook(stack, payment(order)).status_code == 200
    shipped = twenty_retries(stack, f"/v1/admin/orders/{order['order_id']}/ship", None,
                             admin_token)
    assert shipped.status_code == 200
    assert shipped.json()["status"] == "shipped"
    assert stack.get(f"/v1/orders/{order['order_id']}", headers=auth(token)).json()["status"] \
        == "shipped"


def test_a_report_requested_twenty_times_under_one_key_is_one_job(stack, admin_token):
    now = datetime.now(timezone.utc)
    body = {"from": iso(now - timedelta(hours=1)), "to": iso(now + timedelta(hours=1))}
    later = {**body, "to": iso(now + timedelta(hours=2))}
    accepted = twenty_retries(stack, "/v1/admin/reports", body, admin_token, other=later)
    assert accepted.status_code == 202
    job = accepted.json()["job_id"]
    assert accepted.headers["location"] == f"/v1/admin/reports/{job}"
    wait_for(lambda: stack.get(f"/v1/admin/reports/{job}", headers=auth(admin_token))
             .json()["status"] == "succeeded", timeout=60)
    # Without a key each request is its own job.
    jobs = {post(stack, "/v1/admin/reports", body, None, admin_token).json()["job_id"]
            for _ in range(2)}
    assert len(jobs | {job}) == 3


def test_a_code_created_twenty_times_under_one_key_is_one_code(stack, admin_token):
    code = f"IDEM-{uuid.uuid4().hex[:10].upper()}"
    body = {"code": code, "discount": {"kind": "percent", "percent": 15}}
    created = twenty_retries(stack, "/v1/admin/promotions", body, admin_token,
                             other={**body, "discount": {"kind": "percent", "percent": 16}})
    assert created.status_code == 201
    assert created.json()["code"] == code
    assert created.headers["location"] == f"/v1/admin/promotions/{code}"
    assert post(stack, "/v1/admin/promotions", body, str(uuid.uuid4()), admin_token) \
        .status_code == 409


def test_a_key_belongs_to_its_caller_and_its_route(stack, admin_token):
    key = str(uuid.uuid4())
    sku = make_product(stack, admin_token, stock=1)
    first = post(stack, f"/v1/products/{sku}/stock", {"delta": 1}, key, admin_token)
    assert first.status_code == 200 and first.json()["stock"] == 2
    # The same key on another route is another request, not a replay.
    code = f"IDEM-{uuid.uuid4().hex[:10].upper()}"
    created = post(stack, "/v1/admin/promotions",
                   {"code": code, "discount": {"kind": "percent", "percent": 5}}, key, admin_token)
    assert created.status_code == 201 and "idempotent-replayed" not in created.headers
    # And another customer's key of the same value is theirs alone.
    tokens = [stack.new_customer()["tokens"]["access_token"] for _ in range(2)]
    orders = []
    for token in tokens:
        assert put_line(stack.base, token, make_product(stack, admin_token, stock=2), 1) \
            .status_code == 200
        orders.append(checkout(stack.base, token, str(uuid.uuid4())).json())
    for token, order in zip(tokens, orders):
        cancelled = post(stack, f"/v1/orders/{order['order_id']}/cancel", None, key, token)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["order_id"] == order["order_id"]


def test_bad_keys_are_400_and_spend_nothing(stack, admin_token):
    sku = make_product(stack, admin_token, stock=1)
    too_long = post(stack, f"/v1/products/{sku}/stock", {"delta": 1}, "k" * 256, admin_token)
    assert too_long.status_code == 400
    assert too_long.headers["content-type"].startswith("application/problem+json")
    empty = post(stack, f"/v1/products/{sku}/stock", {"delta": 1}, "", admin_token)
    assert empty.status_code == 400
    # Bad input is refused before the key is claimed: the key still works.
    key = str(uuid.uuid4())
    assert post(stack, f"/v1/products/{sku}/stock", {"delta": "x"}, key, admin_token) \
        .status_code == 422
    assert post(stack, f"/v1/products/{sku}/stock", {"delta": 1}, key, admin_token) \
        .json()["stock"] == 2
    assert stock_of(stack, sku) == 2
