"""Privacy: a customer's export of everything held about them, and the
erasure of their account, over real HTTP against the running stack; the
erasure is checked by scanning the emulator's table."""

from __future__ import annotations

import json
import time
import uuid

from test_orders import ADDRESS, auth, checkout, make_product, payment, put_line, webhook
from test_webhooks import subscribed  # noqa: F401 (a fixture)


def test_an_export_holds_the_callers_data_and_no_secrets(stack, admin_token):
    me = stack.new_customer()
    token = me["tokens"]["access_token"]
    sku, later = make_product(stack, admin_token, stock=5), make_product(stack, admin_token, stock=5)
    assert put_line(stack.base, token, sku, 2).status_code == 200
    placed = checkout(stack.base, token, f"export-{uuid.uuid4().hex}")
    assert placed.status_code == 201, placed.text
    assert put_line(stack.base, token, later, 1).status_code == 200
    # A second login, then signing that one out: two sessions, one revoked.
    second = stack.login(me["email"], me["password"])
    out = stack.post("/v1/auth/logout", {"refresh_token": second["refresh_token"]},
                     token=second["access_token"])
    assert out.status_code == 204, out.text

    response = stack.get("/v1/me/export", headers=auth(token))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"].startswith("attachment;")
    export = response.json()
    assert export["account"] == me["user"]
    assert [o["order_id"] for o in export["orders"]] == [placed.json()["order_id"]]
    assert export["orders"][0]["shipping_address"] == ADDRESS
    assert [line["sku"] for line in export["cart"]["lines"]] == [later]
    notifications = stack.get("/v1/notifications", headers=auth(token)).json()["items"]
    assert export["notifications"] == notifications
    assert sorted(s["revoked"] for s in export["sessions"]) == [False, True]

    # Nothing that would let the reader sign in as the customer.
    text = response.text
    for secret in (me["password"], me["tokens"]["refresh_token"], second["refresh_token"]):
        assert secret not in text
    for word in ("argon2", "password", "hash", "family"):
        assert word not in text.lower(), word


def test_an_export_is_only_ever_the_callers_own(stack, admin_token):
    first, second = stack.new_customer(), stack.new_customer()
    sku = make_product(stack, admin_token, stock=5)
    token = first["tokens"]["access_token"]
    assert put_line(stack.base, token, sku, 1).status_code == 200
    assert checkout(stack.base, token, f"export-{uuid.uuid4().hex}").status_code == 201

    theirs = stack.get("/v1/me/export", headers=auth(second["tokens"]["access_token"]))
    assert theirs.status_code == 200
    export = theirs.json()
    assert export["account"]["email"] == second["email"]
    assert export["orders"] == [] and export["cart"]["lines"] == []
    assert first["email"] not in theirs.text and sku not in theirs.text

    assert stack.get("/v1/me/export").status_code == 401
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert stack.get("/v1/me/export", headers=auth(forged)).status_code == 401


# --- erasure -------------------------------------------------------------------


def table_items(stack) -> list[dict]:
    """Every item of the e2e table, read straight from the emulator."""
    import boto3

    dynamodb = boto3.client("dynamodb", endpoint_url=stack.emulator, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")
    items, start = [], {}
    while True:
        page = dynamodb.scan(TableName="quiet-engine-e2e", **start)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def wait_for(check, seconds: float = 60, every: float = 0.25):
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def test_erasure_leaves_nothing_that_names_or_locates_the_customer(stack, admin_token, subscribed):
    tag = uuid.uuid4().hex[:12]
    email, name = f"erase-{tag}@example.com", f"Erasme {tag}"
    password = "correct horse battery staple"
    registered = stack.post("/v1/auth/register", {"email": email, "password": password, "name": name})
    assert registered.status_code == 201, registered.text
    tokens = stack.login(email, password)
    token = tokens["access_token"]
    address = dict(ADDRESS, name=f"Ada {tag}", line1=f"{tag} Forget Lane", postal_code=f"E{tag[:6]}")
    pii = [email, name, tag]

    # An order (paid, so a notification), a webhook body about it, a cart.
    receiver, _endpoint = subscribed(["order.placed", "order.paid"])
    sku = make_product(stack, admin_token, stock=5)
    assert put_line(stack.base, token, sku, 1).status_code == 200
    placed = checkout(stack.base, token, f"erase-{tag}", address=address)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert webhook(stack, payment(order)).status_code == 200
    assert put_line(stack.base, token, sku, 1).status_code == 200
    assert wait_for(lambda: stack.get("/v1/notifications", headers=auth(token)).json()["items"])
    # Both bodies delivered (the paid one is built after payment), so none
    # is written after the erasure from an order read before it.
    delivered = lambda: {json.loads(r["body"])["type"] for r in receiver.accepted()  # noqa: E731
                         if order["order_id"] in r["body"].decode()}
    assert wait_for(lambda: delivered() == {"order.placed", "order.paid"}), delivered()
    before = [item for item in table_items(stack) if any(p in json.dumps(item) for p in pii)]
    assert len(before) >= 4, "the account's data should be in the table before"

    # The password is asked again; a wrong one changes nothing.
    wrong = stack.request("DELETE", "/v1/me", json={"password": "not the password at all"},
                          headers=auth(token))
    assert wrong.status_code == 422, wrong.text
    assert stack.get("/v1/me", headers=auth(token)).status_code == 200

    erased = stack.request("DELETE", "/v1/me", json={"password": password}, headers=auth(token))
    assert erased.status_code == 202, erased.text
    assert erased.json()["status"] == "in_progress"
    location = erased.headers["location"]
    assert location == f"/v1/erasures/{erased.json()['id']}"

    # Sessions die at once: no refresh, no login; the access token within seconds.
    again = stack.post("/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 401
    assert stack.post("/v1/auth/login", {"email": email, "password": password}).status_code == 401
    refused = wait_for(
        lambda: stack.get("/v1/orders", headers=auth(token)).status_code == 401, seconds=10)
    assert refused, "the erased account's access token still works"
    assert stack.get("/v1/me/export", headers=auth(token)).status_code == 401

    status = wait_for(lambda: stack.get(location).json()["status"] == "completed", seconds=90)
    assert status, stack.get(location).text
    shown = stack.get(location).json()
    assert set(shown) == {"id", "status", "requested_at", "completed_at"}

    # Nothing in the table holds the email, the name or the address.
    items = table_items(stack)
    holding = [item for item in items if any(p in json.dumps(item) for p in pii)]
    assert holding == [], holding
    # The order is kept for the books: amounts, lines, country; no address.
    kept = [item for item in items if item["pk"]["S"] == f"ORDER#{order['order_id']}"]
    assert len(kept) == 1
    shipping = json.loads(kept[0]["shipping_address"]["S"])
    assert shipping["name"] == "erased" and shipping["line1"] == "erased"
    assert shipping["country"] == ADDRESS["country"]
    assert kept[0]["status"]["S"] == "paid"

    # The email is free again, for a new account.
    anew = stack.post("/v1/auth/register", {"email": email, "password": password, "name": "Someone"})
    assert anew.status_code == 201, anew.text
    assert anew.json()["id"] != registered.json()["id"]


def test_erasure_needs_the_account_and_its_password(stack, customer):
    token = customer["tokens"]["access_token"]
    assert stack.request("DELETE", "/v1/me", json={"password": customer["password"]}).status_code == 401
    for body in ({}, {"password": "short"}, {"password": customer["password"], "extra": 1}):
        response = stack.request("DELETE", "/v1/me", json=body, headers=auth(token))
        assert response.status_code == 422, (body, response.text)
    assert stack.get("/v1/me", headers=auth(token)).status_code == 200
    unknown = stack.get("/v1/erasures/era_" + "0" * 32)
    assert unknown.status_code == 404
    assert stack.get("/v1/erasures/not-an-id").status_code == 404


def test_erasure_scrubs_the_address_from_staff_answers_kept_for_replays(stack, admin_token):
    """Staff ship an order under an Idempotency-Key: the answer kept for a
    replay (24 hours, in the staff member's partition) holds the order and
    its address. A completed erasure leaves none of it (issue 37, defect 7),
    and a replay of that key still answers, without the address."""
    tag = uuid.uuid4().hex[:12]
    email = f"erase-staff-{tag}@example.com"
    password = "correct horse battery staple"
    assert stack.post("/v1/auth/register", {"email": email, "password": password,
                                            "name": "Someone"}).status_code == 201
    token = stack.login(email, password)["access_token"]
    address = dict(ADDRESS, name=f"Ada {tag}", line1=f"{tag} Replay Road", postal_code=f"R{tag[:6]}")
    sku = make_product(stack, admin_token, stock=5)
    assert put_line(stack.base, token, sku, 1).status_code == 200
    placed = checkout(stack.base, token, f"erase-staff-{tag}", address=address)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert webhook(stack, payment(order)).status_code == 200
    key = {"idempotency-key": f"ship-{tag}"}
    ship = f"/v1/admin/orders/{order['order_id']}/ship"
    shipped = stack.post(ship, token=admin_token, headers=dict(key))
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["shipping_address"]["line1"] == address["line1"]

    erased = stack.request("DELETE", "/v1/me", json={"password": password}, headers=auth(token))
    assert erased.status_code == 202, erased.text
    location = erased.headers["location"]
    assert wait_for(lambda: stack.get(location).json()["status"] == "completed", seconds=90)

    holding = [item for item in table_items(stack) if tag in json.dumps(item)]
    assert holding == [], holding
    replay = stack.post(ship, token=admin_token, headers=dict(key))
    assert replay.status_code == 200 and replay.headers.get("idempotent-replayed") == "true"
    assert replay.json()["order_id"] == order["order_id"]
    assert replay.json()["shipping_address"]["line1"] == "erased"
