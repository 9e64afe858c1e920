"""Cart, checkout and orders over real HTTP, under real concurrency."""

from __future__ import annotations

import hashlib
import hmac
import json
import statistics
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from fleet_probe import Sampler, fleet, parked_outbox_events

# From a payment's 200 to the customer's confirmation: outbox, queue, event
# source mapping, worker, notification (issue 38's budget).
ASYNC_BUDGET_SECONDS = 5.0

ADDRESS = {"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London",
           "postal_code": "SW1Y 4JH", "country": "GB"}


def auth(token: str) -> dict:
    return {"authorization": f"Bearer {token}"}


def make_product(stack, admin_token: str, stock: int, amount: int = 1250) -> str:
    sku = f"ORD-{uuid.uuid4().hex[:10].upper()}"
    response = stack.post("/v1/products", {
        "sku": sku, "name": f"Order test {sku}", "category": "e2e-orders",
        "price": {"amount": amount, "currency": "USD"}, "stock": stock,
    }, token=admin_token)
    assert response.status_code == 201, response.text
    return sku


def put_line(base: str, token: str, sku: str, quantity) -> requests.Response:
    return requests.put(f"{base}/v1/cart/items/{sku}", json={"quantity": quantity},
                        headers=auth(token), timeout=60)


def checkout(base: str, token: str, key: str | None, address: dict = ADDRESS,
             timeout: float = 60) -> requests.Response:
    headers = auth(token)
    if key is not None:
        headers["idempotency-key"] = key
    return requests.post(f"{base}/v1/checkout", json={"shipping_address": address},
                         headers=headers, timeout=timeout)


def stock_of(stack, sku: str) -> int:
    return stack.get(f"/v1/products/{sku}").json()["stock"]


def my_orders(stack, token: str) -> list[dict]:
    response = stack.get("/v1/orders", headers=auth(token), params={"limit": 100})
    assert response.status_code == 200, response.text
    return response.json()["items"]


# --- cart ----------------------------------------------------------------------


def test_cart_lines_are_priced_from_the_catalog(stack, customer, admin_token):
    token = customer["tokens"]["access_token"]
    sku = make_product(stack, admin_token, stock=5, amount=250)
    response = put_line(stack.base, token, sku, 2)
    assert response.status_code == 200, response.text
    cart = response.json()
    assert cart["items"] == [{
        "sku": sku, "name": f"Order test {sku}", "quantity": 2,
        "unit_price": {"amount": 250, "currency": "USD"},
        "line_total": {"amount": 500, "currency": "USD"},
        "discount": {"amount": 0, "currency": "USD"},
        "tax": {"amount": 0, "currency": "USD"},
    }]
    assert cart["subtotal"] == {"amount": 500, "currency": "USD"}
    assert cart["discount"] == {"amount": 0, "currency": "USD"}
    assert cart["total"] == cart["subtotal"]
    assert "promotion" not in cart
    assert cart["tax"] == {"amount": 0, "currency": "USD"}  # no destination asked for
    assert stack.get("/v1/cart", headers=auth(token)).json() == cart
    assert put_line(stack.base, token, sku, 3).json()["subtotal"]["amount"] == 750
    emptied = requests.delete(f"{stack.base}/v1/cart/items/{sku}", headers=auth(token), timeout=30)
    assert emptied.status_code == 200
    assert emptied.json()["items"] == []
    again = requests.delete(f"{stack.base}/v1/cart/items/{sku}", headers=auth(token), timeout=30)
    assert again.status_code == 200


def test_bad_cart_input_changes_nothing(stack, customer, admin_token):
    token = customer["tokens"]["access_token"]
    sku = make_product(stack, admin_token, stock=5)
    deleted = make_product(stack, admin_token, stock=5)
    stack.request("DELETE", f"/v1/products/{deleted}", headers=auth(admin_token))
    assert put_line(stack.base, token, sku, 1).status_code == 200
    before = stack.get("/v1/cart", headers=auth(token)).json()

    for quantity in (0, 100, -1, "x", 1.5, None):
        assert put_line(stack.base, token, sku, quantity).status_code == 422, quantity
    priced = requests.put(f"{stack.base}/v1/cart/items/{sku}", headers=auth(token), timeout=30,
                          json={"quantity": 1, "unit_price": {"amount": 1, "currency": "USD"}})
    assert priced.status_code == 422
    assert put_line(stack.base, token, deleted, 1).status_code == 404
    assert put_line(stack.base, token, "NO-SUCH-SKU", 1).status_code == 404
    assert stack.get("/v1/cart", headers=auth(token)).json() == before


def test_a_cart_holds_at_most_fifty_lines(stack, customer, admin_token):
    token = customer["tokens"]["access_token"]
    with ThreadPoolExecutor(max_workers=16) as pool:
        skus = list(pool.map(lambda _: make_product(stack, admin_token, stock=5), range(51)))
    for sku in skus[:50]:
        assert put_line(stack.base, token, sku, 1).status_code == 200
    assert put_line(stack.base, token, skus[50], 1).status_code == 422
    cart = stack.get("/v1/cart", headers=auth(token)).json()
    assert len(cart["items"]) == 50
    assert skus[50] not in {line["sku"] for line in cart["items"]}
    # Existing lines still change at the cap.
    assert put_line(stack.base, token, skus[0], 2).status_code == 200


def test_cart_needs_a_signed_in_caller(stack):
    assert stack.get("/v1/cart").status_code == 401


# --- checkout --------------------------------------------------------------------


def test_two_hundred_buyers_ten_units(stack, admin_token):
    """Exactly the stock is sold: 10 orders, 190 clean refusals, no 5xx.
    Meanwhile 20 other orders are paid, one every 0.2 s: every function
    stays within its instance bound (tools/pool.py) and the confirmations
    keep their budget, p99 under ASYNC_BUDGET_SECONDS from the payment's 200."""
    bounds = {name: state["bound"] for name, state in fleet(stack).items()}
    parked_before = parked_outbox_events(stack)
    sku = make_product(stack, admin_token, stock=10)
    pay_sku = make_product(stack, admin_token, stock=100)

    def buyer(_: int) -> str:
        token = stack.new_customer()["tokens"]["access_token"]
        assert put_line(stack.base, token, sku, 1).status_code == 200
        return token

    def payer(_: int) -> list[tuple[str, dict]]:
        """A regular: five orders placed one after another, paid later."""
        token = stack.new_customer()["tokens"]["access_token"]
        orders = []
        for _ in range(5):
            assert put_line(stack.base, token, pay_sku, 1).status_code == 200
            placed = checkout(stack.base, token, str(uuid.uuid4()))
            assert placed.status_code == 201, placed.text
            orders.append((token, placed.json()))
        return orders

    with ThreadPoolExecutor(max_workers=32) as pool:
        tokens = list(pool.map(buyer, range(200)))
        payers = [order for orders in pool.map(payer, range(4)) for order in orders]

    latencies: list[float] = []

    def pay_and_time(entry: tuple[str, dict]) -> None:
        token, order = entry
        paid_at = time.monotonic()
        assert webhook(stack, payment(order)).json()["outcome"] == "paid"
        while time.monotonic() - paid_at < 30:
            listed = stack.get("/v1/notifications", headers=auth(token), params={"limit": 100})
            assert listed.status_code == 200, listed.text
            if any(n["type"] == "order_confirmation" and n["order_id"] == order["order_id"]
                   for n in listed.json()["items"]):
                latencies.append(time.monotonic() - paid_at)
                return
            time.sleep(0.1)

    with Sampler(stack) as sampler, ThreadPoolExecutor(max_workers=64) as rush, \
            ThreadPoolExecutor(max_workers=20) as pay:
        futures = [rush.submit(checkout, stack.base, t, str(uuid.uuid4())) for t in tokens]
        paid = []
        for entry in payers:
            paid.append(pay.submit(pay_and_time, entry))
            time.sleep(0.2)
        responses = [f.result() for f in futures]
        for future in paid:
            future.result()

    assert sampler.samples > 10, "the sampler never ran"
    assert not sampler.over(bounds), f"instances above their bound (peak, bound): {sampler.over(bounds)}"
    assert sampler.peaks["checkout"] >= 2, "the rush never ran checkouts side by side"
    assert len(latencies) == len(payers), f"{len(payers) - len(latencies)} confirmations never came"
    p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
    print(f"instances: peak {sampler.total_peak} live, checkout {sampler.peaks['checkout']}; "
          f"confirmation p50 {statistics.median(latencies):.2f} s, p99 {p99:.2f} s")
    assert p99 < ASYNC_BUDGET_SECONDS, sorted(latencies)
    assert parked_outbox_events(stack) == parked_before

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 10, 409: 190}, statuses
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["skus"] == [sku]
    assert stock_of(stack, sku) == 0

    winners = [(t, r.json()["order_id"]) for t, r in zip(tokens, responses) if r.status_code == 201]
    for token, order_id in winners[:3]:
        cancelled = requests.post(f"{stack.base}/v1/orders/{order_id}/cancel", headers=auth(token),
                                  timeout=30)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
    assert stock_of(stack, sku) == 3
    # Cancelling again gives nothing back twice.
    token, order_id = winners[0]
    again = requests.post(f"{stack.base}/v1/orders/{order_id}/cancel", headers=auth(token), timeout=30)
    assert again.status_code == 409
    assert stock_of(stack, sku) == 3


def test_one_key_twenty_concurrent_checkouts_one_order(stack, customer, admin_token):
    token = customer["tokens"]["access_token"]
    sku = make_product(stack, admin_token, stock=50)
    put_line(stack.base, token, sku, 2)
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: checkout(stack.base, token, key), range(20)))
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] >= 1
    order_ids = {r.json()["order_id"] for r in responses if r.status_code == 201}
    assert len(order_ids) == 1
    assert [o["order_id"] for o in my_orders(stack, token)] == list(order_ids)
    assert stock_of(stack, sku) == 48

    replay = checkout(stack.base, token, key)
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["order_id"] in order_ids

    other_body = checkout(stack.base, token, key, address=dict(ADDRESS, city="Paris"))
    assert other_body.status_code == 422
    assert checkout(stack.base, token, None).status_code == 400
    assert len(my_orders(stack, token)) == 1


def test_a_client_that_times_out_and_retries_gets_one_order(stack, customer, admin_token):
    token = customer["tokens"]["access_token"]
    sku = make_product(stack, admin_token, stock=5)
    put_line(stack.base, token, sku, 1)
    key = str(uuid.uuid4())
    try:
        checkout(stack.base, token, key, timeout=0.005)
    except requests.exceptions.Timeout:
        pass  # the client gave up; the server did not
    deadline = time.monotonic() + 30
    while True:
        retry = checkout(stack.base, token, key)
        if retry.status_code != 409 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert retry.status_code == 201, retry.text
    assert len(my_orders(stack, token)) == 1
    assert stock_of(stack, sku) == 4


def test_an_empty_cart_cannot_check_out(stack, customer):
    response = checkout(stack.base, customer["tokens"]["access_token"], str(uuid.uuid4()))
    assert response.status_code == 422


def test_a_deleted_product_in_the_cart_is_named(stack, customer, admin_token):
    token = customer["tokens"]["access_token"]
    live = make_product(stack, admin_token, stock=5)
    gone = make_product(stack, admin_token, stock=5)
    put_line(stack.base, token, live, 1)
    put_line(stack.base, token, gone, 1)
    stack.request("DELETE", f"/v1/products/{gone}", headers=auth(admin_token))
    key = str(uuid.uuid4())
    refused = checkout(stack.base, token, key)
    assert refused.status_code == 409
    assert refused.json()["skus"] == [gone]
    assert stock_of(stack, live) == 5
    # Nothing was kept under the key: after fixing the cart it goes through.
    requests.delete(f"{stack.base}/v1/cart/items/{gone}", headers=auth(token), timeout=30)
    assert checkout(stack.base, token, key).status_code == 201


def test_bad_addresses_are_422(stack, customer, admin_token):
    token = customer["tokens"]["access_token"]
    put_line(stack.base, token, make_product(stack, admin_token, stock=5), 1)
    for address in (dict(ADDRESS, country="gb"), dict(ADDRESS, name="  "), dict(ADDRESS, city="x" * 101),
                    {k: v for k, v in ADDRESS.items() if k != "line1"}, dict(ADDRESS, phone="1")):
        assert checkout(stack.base, token, str(uuid.uuid4()), address=address).status_code == 422


# --- orders -----------------------------------------------------------------------


def test_nobody_sees_or_cancels_another_customers_order(stack, admin_token):
    alice, mallory = stack.new_customer(), stack.new_customer()
    a_token, m_token = alice["tokens"]["access_token"], mallory["tokens"]["access_token"]
    put_line(stack.base, a_token, make_product(stack, admin_token, stock=5), 1)
    order = checkout(stack.base, a_token, str(uuid.uuid4())).json()
    path = f"/v1/orders/{order['order_id']}"

    assert stack.get(path, headers=auth(m_token)).status_code == 404
    assert stack.post(f"{path}/cancel", token=m_token).status_code == 404
    assert order["order_id"] not in {o["order_id"] for o in my_orders(stack, m_token)}
    unknown = f"/v1/orders/ord_{'0' * 32}"
    assert stack.get(unknown, headers=auth(m_token)).json() == stack.get(path, headers=auth(m_token)).json()

    mine = stack.get(path, headers=auth(a_token))
    assert mine.status_code == 200
    assert mine.json()["status"] == "pending_payment"
    assert mine.json()["shipping_address"] == ADDRESS


def test_orders_list_newest_first_with_cursors(stack, customer, admin_token):
    token = customer["tokens"]["access_token"]
    sku = make_product(stack, admin_token, stock=10)
    placed = []
    for _ in range(3):
        put_line(stack.base, token, sku, 1)
        placed.append(checkout(stack.base, token, str(uuid.uuid4())).json()["order_id"])
        time.sleep(0.01)
    first = stack.get("/v1/orders", headers=auth(token), params={"limit": 2}).json()
    second = stack.get("/v1/orders", headers=auth(token),
                       params={"limit": 2, "cursor": first["next_cursor"]}).json()
    listed = [o["order_id"] for o in first["items"] + second["items"]]
    assert listed == placed[::-1]
    # A cursor is bound to its owner.
    other = stack.new_customer()["tokens"]["access_token"]
    stolen = stack.get("/v1/orders", headers=auth(other), params={"cursor": first["next_cursor"]})
    assert stolen.status_code == 400


def test_staff_list_orders_by_status_and_ship_only_paid_ones(stack, customer, admin_token):
    token = customer["tokens"]["access_token"]
    put_line(stack.base, token, make_product(stack, admin_token, stock=5), 1)
    order_id = checkout(stack.base, token, str(uuid.uuid4())).json()["order_id"]
    pending = stack.get("/v1/admin/orders", headers=auth(admin_token),
                        params={"status": "pending_payment", "limit": 100}).json()["items"]
    assert order_id in {o["order_id"] for o in pending}
    assert stack.get("/v1/admin/orders", headers=auth(token),
                     params={"status": "paid"}).status_code == 403
    assert stack.get("/v1/admin/orders", headers=auth(admin_token),
                     params={"status": "lost"}).status_code == 422
    ship = stack.post(f"/v1/admin/orders/{order_id}/ship", token=admin_token)
    assert ship.status_code == 409


# --- payments ------------------------------------------------------------------------

WEBHOOK_SECRET = b"whsec_local_dev"


def webhook(stack, event: dict, timestamp: int | None = None, secret: bytes = WEBHOOK_SECRET):
    body = json.dumps(event).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return requests.post(f"{stack.base}/v1/payments/webhook", data=body, timeout=30, headers={
        "content-type": "application/json", "payment-signature": f"t={timestamp},v1={signature}"})


def placed_order(stack, admin_token: str) -> tuple[str, dict]:
    token = stack.new_customer()["tokens"]["access_token"]
    put_line(stack.base, token, make_product(stack, admin_token, stock=5, amount=1250), 2)
    response = checkout(stack.base, token, str(uuid.uuid4()))
    assert response.status_code == 201, response.text
    return token, response.json()


def payment(order: dict, **overrides) -> dict:
    return {"id": f"evt_{uuid.uuid4().hex}", "type": "payment.succeeded",
            "order_id": order["order_id"], "amount": order["total"]["amount"],
            "currency": order["total"]["currency"], **overrides}


def order_status(stack, token: str, order_id: str) -> str:
    return stack.get(f"/v1/orders/{order_id}", headers=auth(token)).json()["status"]


def test_a_signed_payment_pays_the_order_exactly_once(stack, admin_token):
    token, order = placed_order(stack, admin_token)
    # 2 x 12.50 to GB: 20% tax on top (the seeded demo rate).
    assert order["subtotal"] == {"amount": 2500, "currency": "USD"}
    assert order["tax"] == {"amount": 500, "currency": "USD"}
    assert order["total"] == {"amount": 3000, "currency": "USD"}
    event = payment(order)

    assert webhook(stack, event, secret=b"not-the-secret").status_code == 401
    assert webhook(stack, event, timestamp=int(time.time()) - 301).status_code == 400
    unsigned = requests.post(f"{stack.base}/v1/payments/webhook", json=event, timeout=30)
    assert unsigned.status_code == 401
    assert order_status(stack, token, order["order_id"]) == "pending_payment"

    paid = webhook(stack, event)
    assert paid.status_code == 200, paid.text
    assert paid.json()["outcome"] == "paid"
    assert order_status(stack, token, order["order_id"]) == "paid"

    again = webhook(stack, event)
    assert again.status_code == 200
    assert again.json()["outcome"] == "duplicate"
    assert order_status(stack, token, order["order_id"]) == "paid"

    shipped = stack.post(f"/v1/admin/orders/{order['order_id']}/ship", token=admin_token)
    assert shipped.status_code == 200
    assert shipped.json()["status"] == "shipped"
    assert stack.post(f"/v1/admin/orders/{order['order_id']}/ship", token=admin_token).status_code == 409


def test_a_payment_of_the_wrong_amount_changes_nothing(stack, admin_token):
    token, order = placed_order(stack, admin_token)
    for wrong in (payment(order, amount=1), payment(order, amount=2501)):
        response = webhook(stack, wrong)
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
    assert order_status(stack, token, order["order_id"]) == "pending_payment"
    # The genuine event still works afterwards.
    assert webhook(stack, payment(order)).json()["outcome"] == "paid"


def test_a_payment_in_another_currency_is_a_conflict_not_a_bad_body(stack, admin_token):
    token, order = placed_order(stack, admin_token)
    product = stack.get(f"/v1/products/{order['items'][0]['sku']}").json()
    # A well-formed ISO 4217 code, sold here or not, that differs from the
    # order's: a disagreement about the money.
    for other in ("EUR", "JPY", "XXX"):
        response = webhook(stack, payment(order, currency=other))
        assert response.status_code == 409, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 409
    # Not three capital letters: a malformed body.
    for malformed in ("usd", "US", "EURO", 840):
        response = webhook(stack, payment(order, currency=malformed))
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert any(e["field"] == "currency" for e in response.json().get("errors", [])), response.text
    assert order_status(stack, token, order["order_id"]) == "pending_payment"
    assert stack.get(f"/v1/products/{product['sku']}").json()["stock"] == product["stock"]
    # Each mismatch is in the function logs as a security event naming the order.
    deadline = time.monotonic() + 10
    while True:
        logs = "\n".join(p.read_text(errors="replace") for p in stack.state.glob("*.log"))
        mismatches = [line for line in logs.splitlines()
                      if "payment_amount_mismatch" in line and order["order_id"] in line]
        if len(mismatches) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(mismatches) >= 3, mismatches
    assert any('"event_currency":"JPY"' in line for line in mismatches), mismatches
    assert webhook(stack, payment(order)).json()["outcome"] == "paid"


def test_money_for_a_cancelled_order_is_flagged_for_refund(stack, admin_token):
    token, order = placed_order(stack, admin_token)
    assert stack.post(f"/v1/orders/{order['order_id']}/cancel", token=token).status_code == 200
    late = webhook(stack, payment(order))
    assert late.status_code == 200
    assert late.json()["outcome"] == "refund_required"
    assert order_status(stack, token, order["order_id"]) == "cancelled"


def test_a_failed_payment_leaves_the_order_waiting(stack, admin_token):
    token, order = placed_order(stack, admin_token)
    response = webhook(stack, payment(order, type="payment.failed"))
    assert response.status_code == 200
    assert order_status(stack, token, order["order_id"]) == "pending_payment"
