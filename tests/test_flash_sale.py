"""Flash sales on sharded stock, over real HTTP under real concurrency: the
stock of a hot SKU spread over shards (PATCH stock_shards) sells exactly
once, while staff change the shard count and the rebalancer runs."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from test_orders import auth, checkout, make_product, put_line, stock_of


# Mid-rush the single-threaded emulator serves every checkout's calls one
# at a time, and late in the suite each transaction costs it more (the
# table is large): answers take tens of seconds here, milliseconds on AWS.
PATIENCE = 180


def shard(stack, admin_token: str, sku: str, count, if_match: str = "*") -> requests.Response:
    return requests.patch(f"{stack.base}/v1/products/{sku}", json={"stock_shards": count},
                          headers={**auth(admin_token), "if-match": if_match}, timeout=PATIENCE)


def buyers(stack, sku: str, count: int, quantity: int = 1) -> list[str]:
    def one(_: int) -> str:
        token = stack.new_customer()["tokens"]["access_token"]
        assert put_line(stack.base, token, sku, quantity).status_code == 200
        return token

    with ThreadPoolExecutor(max_workers=32) as pool:
        return list(pool.map(one, range(count)))


def test_sharding_is_an_admin_edit_with_the_total_shown(stack, admin_token, customer):
    sku = make_product(stack, admin_token, stock=50)
    etag = stack.get(f"/v1/products/{sku}").headers["etag"]

    for bad in (0, 33, -1, "4", 2.5, None):
        refused = shard(stack, admin_token, sku, bad, etag)
        assert refused.status_code == 422, (bad, refused.text)
    customer_token = customer["tokens"]["access_token"]
    assert shard(stack, customer_token, sku, 4, etag).status_code == 403
    assert shard(stack, admin_token, sku, 4, '"v99-s50"').status_code == 412

    sharded = shard(stack, admin_token, sku, 4, etag)
    assert sharded.status_code == 200, sharded.text
    assert sharded.json()["stock_shards"] == 4
    assert sharded.json()["stock"] == 50
    product = stack.get(f"/v1/products/{sku}")
    assert (product.json()["stock"], product.json()["stock_shards"]) == (50, 4)
    assert product.headers["etag"] == sharded.headers["etag"] != etag

    # Stock adjustments see one total, in both directions.
    taken = stack.post(f"/v1/products/{sku}/stock", {"delta": -30}, token=admin_token)
    assert taken.status_code == 200, taken.text
    assert taken.json()["stock"] == 20
    too_many = stack.post(f"/v1/products/{sku}/stock", {"delta": -21}, token=admin_token)
    assert too_many.status_code == 409
    assert "stock is 20" in too_many.json()["detail"]
    received = stack.post(f"/v1/products/{sku}/stock", {"delta": 5}, token=admin_token,
                          headers={"idempotency-key": str(uuid.uuid4())})
    assert received.status_code == 200, received.text
    assert received.json()["stock"] == 25
    assert stock_of(stack, sku) == 25


def test_an_order_larger_than_any_shard_spans_shards(stack, admin_token):
    sku = make_product(stack, admin_token, stock=6)
    assert shard(stack, admin_token, sku, 3).status_code == 200  # 2 units a shard

    [big, late] = buyers(stack, sku, 1, quantity=5) + buyers(stack, sku, 1, quantity=2)
    placed = checkout(stack.base, big, str(uuid.uuid4()))
    assert placed.status_code == 201, placed.text
    assert placed.json()["items"][0]["quantity"] == 5
    assert stock_of(stack, sku) == 1

    refused = checkout(stack.base, late, str(uuid.uuid4()))
    assert refused.status_code == 409, refused.text
    assert refused.json()["skus"] == [sku]
    assert stock_of(stack, sku) == 1

    # A cancel gives the units back; the sharded SKU sells them again.
    order_id = placed.json()["order_id"]
    cancelled = requests.post(f"{stack.base}/v1/orders/{order_id}/cancel", headers=auth(big),
                              timeout=30)
    assert cancelled.status_code == 200, cancelled.text
    assert stock_of(stack, sku) == 6
    again = checkout(stack.base, late, str(uuid.uuid4()))
    assert again.status_code == 201, again.text
    assert stock_of(stack, sku) == 4


def test_a_sharded_rush_sells_every_unit_once_while_the_shard_count_changes(stack, admin_token):
    """24 units over 8 shards, 72 buyers of one unit, 48 at a time; staff
    change the shard count four times mid-sale and the rebalancer runs every
    few seconds. Exactly 24 orders, every other answer a 409, stock 0."""
    stock = 24
    sku = make_product(stack, admin_token, stock=stock)
    assert shard(stack, admin_token, sku, 8).status_code == 200
    tokens = buyers(stack, sku, 3 * stock)

    reshards: list[int] = []
    selling = threading.Event()

    def staff() -> None:
        selling.wait()
        for count in (3, 16, 1, 5):
            time.sleep(0.3)
            try:
                reshards.append(shard(stack, admin_token, sku, count).status_code)
            except requests.RequestException as err:
                reshards.append(repr(err))

    changer = threading.Thread(target=staff)
    changer.start()

    def buy(token: str) -> requests.Response:
        selling.set()
        return checkout(stack.base, token, str(uuid.uuid4()), timeout=PATIENCE)

    with ThreadPoolExecutor(max_workers=48) as pool:
        responses = list(pool.map(buy, tokens))
    changer.join()

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: stock, 409: len(tokens) - stock}, statuses
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["skus"] == [sku]
    assert reshards == [200, 200, 200, 200], reshards
    orders = {r.json()["order_id"] for r in responses if r.status_code == 201}
    assert len(orders) == stock
    product = stack.get(f"/v1/products/{sku}").json()
    assert (product["stock"], product["stock_shards"]) == (0, 5)

    # Nothing hides in a shard: back to one counter, staff add 3, and
    # exactly 3 more sell.
    assert shard(stack, admin_token, sku, 1).status_code == 200
    added = stack.post(f"/v1/products/{sku}/stock", {"delta": 3}, token=admin_token)
    assert added.json()["stock"] == 3
    late = buyers(stack, sku, 5)
    with ThreadPoolExecutor(max_workers=5) as pool:
        more = Counter(r.status_code for r in pool.map(
            lambda t: checkout(stack.base, t, str(uuid.uuid4()), timeout=PATIENCE), late))
    assert more == {201: 3, 409: 2}, more
    assert stock_of(stack, sku) == 0
