"""The catalog read path over real HTTP, against the running local stack."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from conftest import catalog


def walk(stack, **params) -> list[dict]:
    """Every item of a listing, following next_cursor to the end."""
    items, cursor = [], None
    for _ in range(200):
        query = dict(params)
        if cursor:
            query["cursor"] = cursor
        response = stack.get("/v1/products", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= int(params.get("limit", 20))
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("cursor chain did not end")


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert {"type", "title", "detail"} <= problem.keys()
    return problem


def test_health(stack):
    response = stack.get("/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]


def test_first_page_has_five_products_and_a_cursor(stack):
    response = stack.get("/v1/products", params={"limit": 5})
    assert response.status_code == 200
    page = response.json()
    assert len(page["items"]) == 5
    assert isinstance(page["next_cursor"], str)


def test_following_cursors_visits_every_seeded_product_exactly_once(stack):
    seeded = {p["sku"] for p in catalog()}
    assert len(seeded) >= 50
    visited = [p["sku"] for p in walk(stack, limit=7)]
    counts = Counter(visited)
    assert [sku for sku, n in counts.items() if n > 1] == []
    assert seeded <= set(visited)
    assert visited == sorted(visited)


def test_category_narrows_the_listing(stack):
    by_category: dict[str, set[str]] = {}
    for product in catalog():
        by_category.setdefault(product["category"], set()).add(product["sku"])
    assert len(by_category) >= 3
    for category, expected in by_category.items():
        items = walk(stack, category=category, limit=4)
        assert {p["category"] for p in items} == {category}
        assert {p["sku"] for p in items} == expected


def test_product_matches_the_seed_and_has_validators(stack):
    seeded = catalog()[0]
    response = stack.get(f"/v1/products/{seeded['sku']}")
    assert response.status_code == 200
    product = response.json()
    for field in ("sku", "name", "description", "category", "price", "stock"):
        assert product[field] == seeded[field], field
    assert response.headers["etag"]
    assert "max-age" in response.headers["cache-control"]


def test_if_none_match_with_the_etag_is_304(stack):
    sku = catalog()[1]["sku"]
    etag = stack.get(f"/v1/products/{sku}").headers["etag"]
    response = stack.get(f"/v1/products/{sku}", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag


def test_unknown_sku_is_404_problem(stack):
    assert_problem(stack.get("/v1/products/NO-SUCH-SKU"), 404)


def test_bad_limits_are_422(stack):
    for limit in ("0", "101", "abc"):
        problem = assert_problem(stack.get("/v1/products", params={"limit": limit}), 422)
        assert problem["errors"][0]["field"] == "limit"


def test_tampered_cursor_is_400(stack):
    cursor = stack.get("/v1/products", params={"limit": 2}).json()["next_cursor"]
    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    assert_problem(stack.get("/v1/products", params={"cursor": flipped}), 400)


def test_a_70_kib_body_is_413(stack):
    body = b'{"pad":"' + b"x" * (70 * 1024) + b'"}'
    response = stack.request(
        "GET", "/v1/products", data=body, headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)


def test_correlation_id_is_echoed(stack):
    response = stack.get("/v1/health", headers={"x-correlation-id": "e2e-corr-42"})
    assert response.headers["x-correlation-id"] == "e2e-corr-42"


def test_parallel_reads_all_succeed(stack):
    """64 clients at once (watch runs 64 instances): nothing queues forever,
    nothing fails."""
    skus = [p["sku"] for p in catalog()]

    def fetch(i: int) -> int:
        return requests.get(stack.url(f"/v1/products/{skus[i % len(skus)]}"), timeout=60).status_code

    with ThreadPoolExecutor(max_workers=64) as pool:
        statuses = Counter(pool.map(fetch, range(256)))
    assert statuses == {200: 256}
