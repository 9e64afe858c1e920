"""Privacy: a customer's export of everything held about them, over real
HTTP against the running stack."""

from __future__ import annotations

import uuid

from test_orders import ADDRESS, auth, checkout, make_product, put_line


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
