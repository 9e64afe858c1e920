"""CloudWatch Embedded Metric Format lines (issue 17), read where CloudWatch
would read them: the functions' stdout, which the local stack writes to
.local/e2e/watch.log. Each line is checked against the EMF specification's
rules here, not by the project's own code."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

from test_async import wait_for
from test_orders import checkout, make_product, payment, put_line, webhook


def emf_lines(stack, since: int) -> list[dict]:
    """Every EMF document written after byte `since` of the log."""
    with open(stack.state / "watch.log", "rb") as log:
        log.seek(since)
        text = log.read().decode("utf-8", "replace")
    documents = []
    for line in text.splitlines():
        if '"_aws"' not in line:
            continue
        try:
            documents.append(json.loads(line[line.index("{"):]))
        except ValueError:
            continue
    return documents


def log_size(stack) -> int:
    return (stack.state / "watch.log").stat().st_size


def assert_valid_emf(doc: dict) -> None:
    """The specification's rules for a document CloudWatch will accept."""
    aws = doc["_aws"]
    assert isinstance(aws["Timestamp"], int) and aws["Timestamp"] > 1_600_000_000_000
    for directive in aws["CloudWatchMetrics"]:
        assert directive["Namespace"] == "QuietEngine"
        assert 1 <= len(directive["Metrics"]) <= 100
        for dimension_set in directive["Dimensions"]:
            assert len(dimension_set) <= 30
            for name in dimension_set:
                assert isinstance(doc[name], str), name
        for metric in directive["Metrics"]:
            assert metric["Unit"] in ("Count", "Milliseconds", "None")
            assert isinstance(doc[metric["Name"]], (int, float)), metric


def metric_docs(docs: list[dict], name: str) -> list[dict]:
    return [d for d in docs if any(m["Name"] == name
                                   for directive in d["_aws"]["CloudWatchMetrics"]
                                   for m in directive["Metrics"])]


def test_every_request_is_measured_by_function_and_status_class(stack):
    since = log_size(stack)
    assert stack.get("/v1/health").status_code == 200
    assert stack.get("/v1/products/NO-SUCH-SKU").status_code == 404

    def seen():
        docs = metric_docs(emf_lines(stack, since), "Latency")
        classes = {(d["function"], d["status_class"]) for d in docs}
        return docs if {("health", "2xx"), ("get-product", "4xx")} <= classes else None

    docs = wait_for(seen, timeout=20)
    assert docs, "latency lines for health 2xx and get-product 4xx"
    for doc in docs:
        assert_valid_emf(doc)
        assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
            ["function"], ["function", "status_class"]]
        assert doc["Requests"] == 1
        assert doc["Latency"] >= 0


def test_a_rush_counts_every_order_and_every_conflict(stack, admin_token):
    """Twenty buyers at once for ten units: ten OrdersPlaced, ten
    CheckoutConflicts (out_of_stock); paying one adds its revenue."""
    sku = make_product(stack, admin_token, stock=10, amount=1500)
    buyers = [stack.new_customer()["tokens"]["access_token"] for _ in range(20)]
    for token in buyers:
        assert put_line(stack.base, token, sku, 1).status_code == 200
    since = log_size(stack)
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda t: checkout(stack.base, t, str(uuid.uuid4())), buyers))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 10 + [409] * 10, codes
    order = next(r.json() for r in responses if r.status_code == 201)
    assert webhook(stack, payment(order)).status_code == 200

    def counted():
        docs = emf_lines(stack, since)
        placed = metric_docs(docs, "OrdersPlaced")
        conflicts = metric_docs(docs, "CheckoutConflicts")
        revenue = metric_docs(docs, "Revenue")
        if len(placed) >= 10 and len(conflicts) >= 10 and revenue:
            return placed, conflicts, revenue
        return None

    found = wait_for(counted, timeout=30)
    assert found, "ten orders, ten conflicts and one payment were measured"
    placed, conflicts, revenue = found
    assert len(placed) == 10 and len(conflicts) == 10
    assert all(d["reason"] == "out_of_stock" for d in conflicts)
    for doc in placed + conflicts + revenue:
        assert_valid_emf(doc)
        assert doc["service"] == "quiet-engine"
    assert [(d["Revenue"], d["currency"]) for d in revenue] == \
        [(order["total"]["amount"], order["total"]["currency"])]
