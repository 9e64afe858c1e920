"""Hostile input against the running stack: every answer is a clean
problem+json 4xx that leaks nothing, nothing is stored, and the service is
still healthy afterwards (DESIGN.md, HTTP API paragraph)."""

from __future__ import annotations

import uuid

import pytest
import requests

from test_orders import auth, make_product

LEAKS = ("dynamodb", "panicked", "backtrace", "stack trace", "thread '", "serde", "aws-sdk",
         "src/", ".rs:", "ConditionalCheck", "arn:aws")


def assert_clean_problem(response: requests.Response, *statuses: int) -> dict:
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    assert response.headers.get("x-content-type-options") == "nosniff"
    problem = response.json()
    assert problem["status"] == response.status_code
    assert problem["type"] and problem["title"] and "detail" in problem
    lowered = response.text.lower()
    for leak in LEAKS:
        assert leak.lower() not in lowered, (leak, response.text[:300])
    return problem


@pytest.fixture()
def shopper(stack):
    customer = stack.new_customer()
    return customer["tokens"]["access_token"]


def test_deeply_nested_json_is_refused_cleanly(stack, shopper):
    # The edge refuses more than 16 levels before parsing (http::MAX_JSON_DEPTH).
    for depth in (17, 200, 5000):
        body = '{"quantity":' + "[" * depth + "]" * depth + "}"
        response = requests.put(f"{stack.base}/v1/cart/items/TEA-001", data=body, timeout=30,
                                headers={**auth(shopper), "content-type": "application/json"})
        assert "nested deeper" in assert_clean_problem(response, 400)["detail"]
        body = '{"email":' + '{"a":' * depth + "1" + "}" * depth + "}"
        response = requests.post(f"{stack.base}/v1/auth/login", data=body, timeout=30,
                                 headers={"content-type": "application/json"})
        assert "nested deeper" in assert_clean_problem(response, 400)["detail"]
    assert stack.get("/v1/cart", headers=auth(shopper)).json()["items"] == []


@pytest.mark.parametrize("quantity", [
    "1e400", "18446744073709551616", "-1", "1.5", "99999999999999999999999999999", "NaN",
    "Infinity", '"3"', "true", "null", "0",
])
def test_out_of_range_and_odd_numbers_change_nothing(stack, shopper, quantity):
    response = requests.put(f"{stack.base}/v1/cart/items/TEA-001", timeout=30,
                            data='{"quantity":%s}' % quantity,
                            headers={**auth(shopper), "content-type": "application/json"})
    assert_clean_problem(response, 400, 422)
    assert stack.get("/v1/cart", headers=auth(shopper)).json()["items"] == []


@pytest.mark.parametrize("delta", ["1e400", "18446744073709551616", "-9223372036854775809",
                                   "2.5", '"5"'])
def test_stock_deltas_out_of_range_change_nothing(stack, admin_token, delta):
    sku = make_product(stack, admin_token, stock=7)
    response = requests.post(f"{stack.base}/v1/products/{sku}/stock", timeout=30,
                             data='{"delta":%s}' % delta,
                             headers={**auth(admin_token), "content-type": "application/json"})
    assert_clean_problem(response, 400, 422)
    assert stack.get(f"/v1/products/{sku}").json()["stock"] == 7


@pytest.mark.parametrize("name", ["Ada\u0000Lovelace", "Ada\u0007", "line\u001bbreak", "\u0000",
                                  "tab\there", "new\nline"])
def test_control_characters_in_text_are_422_and_not_stored(stack, name):
    email = f"ctl-{uuid.uuid4().hex[:10]}@example.com"
    response = stack.post("/v1/auth/register",
                          {"email": email, "password": "correct horse battery staple", "name": name})
    assert_clean_problem(response, 422)
    login = stack.post("/v1/auth/login", {"email": email, "password": "correct horse battery staple"})
    assert login.status_code == 401, "nothing was stored"


def test_valid_unicode_is_stored_and_returned_exactly(stack, admin_token):
    name = "Thé vert 🍵 — 緑茶 Ünïcödé"
    sku = f"UNI-{uuid.uuid4().hex[:8].upper()}"
    created = stack.post("/v1/products", {
        "sku": sku, "name": name, "description": "Zero\u200dwidth joiner and 👩‍👩‍👧",
        "category": "e2e-unicode", "price": {"amount": 100, "currency": "USD"}, "stock": 1,
    }, token=admin_token)
    assert created.status_code == 201, created.text
    product = stack.get(f"/v1/products/{sku}").json()
    assert product["name"] == name
    assert product["description"] == "Zero\u200dwidth joiner and 👩‍👩‍👧"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "application/xml", "multipart/form-data; boundary=x"])
def test_bodies_that_are_not_json_are_415(stack, shopper, content_type):
    headers = auth(shopper)
    if content_type:
        headers["content-type"] = content_type
    response = requests.put(f"{stack.base}/v1/cart/items/TEA-001", data='{"quantity":1}',
                            headers=headers, timeout=30)
    assert_clean_problem(response, 415)
    assert stack.get("/v1/cart", headers=auth(shopper)).json()["items"] == []


def test_invalid_utf8_is_400(stack, shopper):
    """API Gateway hands a body that is not text to the function base64
    encoded. `cargo lambda watch` 1.9.2 cannot (it answers 500 itself without
    invoking anything), so this sends the event API Gateway would send
    straight to the function through watch's Lambda invoke API."""
    import base64
    import json

    from conftest import ROOT

    event = json.loads((ROOT / "events/put-cart-item.json").read_text())
    event["headers"]["authorization"] = f"Bearer {shopper}"
    event["headers"]["content-type"] = "application/json"
    event["body"] = base64.b64encode(b'{"quantity":1,"name":"\xff\xfe"}').decode()
    event["isBase64Encoded"] = True
    response = requests.post(
        f"{stack.base}/2015-03-31/functions/put-cart-item/invocations", json=event, timeout=60)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["statusCode"] == 400, result
    assert result["headers"]["content-type"] == "application/problem+json"
    assert "UTF-8" in json.loads(result["body"])["detail"]
    assert stack.get("/v1/cart", headers=auth(shopper)).json()["items"] == []


@pytest.mark.parametrize("segment", [
    "'%20OR%201=1--", "%27%3B%20DROP%20TABLE%20products%3B--", "..%2F..%2Fetc%2Fpasswd",
    "%00", "%E2%80%AE", "A" * 2000, "PRODUCT%23TEA-001", "%7B%22%24ne%22%3A1%7D",
])
def test_injection_looking_and_overlong_path_parameters_are_404(stack, shopper, segment):
    assert_clean_problem(stack.get(f"/v1/products/{segment}"), 404)
    assert_clean_problem(stack.get(f"/v1/orders/{segment}", headers=auth(shopper)), 404)
    response = requests.put(f"{stack.base}/v1/cart/items/{segment}", json={"quantity": 1},
                            headers=auth(shopper), timeout=30)
    assert_clean_problem(response, 404)


@pytest.mark.parametrize("size", [4_000, 7_000])
def test_oversized_authorization_headers_are_401(stack, size):
    response = stack.get("/v1/me", headers={"authorization": "Bearer " + "a" * size})
    assert_clean_problem(response, 401)


@pytest.mark.parametrize("size", [11_000, 60_000])
def test_headers_beyond_the_edge_limit_are_431(stack, shopper, size):
    # 10 KiB together, API Gateway's own limit (http::MAX_HEADER_BYTES).
    response = stack.get("/v1/me", headers={"authorization": "Bearer " + "a" * size})
    assert_clean_problem(response, 431)
    response = stack.get("/v1/cart", headers={**auth(shopper), "x-padding": "p" * size})
    assert_clean_problem(response, 431)


def test_overlong_targets_are_414(stack, shopper):
    for path in ("/v1/products/" + "A" * 3000, "/v1/products?category=" + "a" * 3000,
                 "/v1/orders/" + "ord_" + "0" * 3000):
        assert_clean_problem(stack.get(path, headers=auth(shopper)), 414)


def test_the_service_is_healthy_afterwards(stack, shopper):
    assert stack.get("/v1/health").json() == {"status": "ok"}
    assert stack.get("/v1/cart", headers=auth(shopper)).status_code == 200


def test_authenticated_responses_are_never_cached(stack, shopper, admin_token):
    for path, token in [("/v1/me", shopper), ("/v1/cart", shopper), ("/v1/orders", shopper),
                        ("/v1/notifications", shopper), ("/v1/admin/orders?status=paid", admin_token)]:
        response = stack.get(path, headers=auth(token))
        assert response.status_code == 200, (path, response.text)
        assert response.headers.get("cache-control") == "no-store", path
    # Errors for a signed-in caller too: a 404 must not be cached by a proxy either.
    missing = stack.get(f"/v1/orders/ord_{uuid.uuid4().hex}", headers=auth(shopper))
    assert missing.status_code == 404
    assert missing.headers.get("cache-control") == "no-store"
