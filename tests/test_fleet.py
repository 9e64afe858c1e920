"""The local stack's instances (tools/pool.py): idle ones stopped and the
next request served, requests no route takes answered at once, and after
the whole suite every function within its bound with nothing parked. The
200-buyer rush checks the bounds and the async budget while it runs
(test_orders.py::test_two_hundred_buyers_ten_units)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from fleet_probe import fleet, live_instances, parked_outbox_events

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from pool import Fleet  # noqa: E402


def test_an_idle_instance_is_stopped_and_the_next_request_starts_another(stack):
    """The e2e stack stops an instance after 10 s unneeded (conftest)."""
    assert stack.get("/.well-known/jwks.json").status_code == 200
    assert live_instances(stack)["jwks"] >= 1
    started = fleet(stack)["jwks"]["started"]
    deadline = time.monotonic() + 20
    while live_instances(stack)["jwks"] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert live_instances(stack)["jwks"] == 0, "an idle jwks instance was never stopped"
    # Watch forgot the stopped instance: nothing is handed to it and lost.
    for _ in range(20):
        assert stack.get("/.well-known/jwks.json").status_code == 200
    assert fleet(stack)["jwks"]["started"] == started + 1
    assert live_instances(stack)["jwks"] == 1


@pytest.mark.parametrize("method, path", [
    ("GET", "/v1/no-such-route"),
    # /v1/products/{sku} takes PATCH, but this path is search's, which does
    # not: as API Gateway (and watch's router) pick the path first.
    ("PATCH", "/v1/products/search"),
    ("TRACE", "/v1/products"),
])
def test_a_request_no_route_takes_is_404_at_once(stack, method, path):
    response = requests.request(method, stack.url(path), timeout=5)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


@pytest.mark.after_all
def test_after_the_suite_every_function_is_within_its_bound_and_nothing_is_parked(stack):
    state = fleet(stack)
    live = live_instances(stack)
    over = {name: (live[name], s["bound"]) for name, s in state.items() if live[name] > s["bound"]}
    assert not over, f"live instances above their bound (live, bound): {over}"
    assert all(s["peak"] <= s["bound"] for s in state.values()), state
    turned_away = {name: s["turned_away"] for name, s in state.items() if s["turned_away"]}
    assert not turned_away, f"requests that waited past the deadline: {turned_away}"
    assert parked_outbox_events(stack) == 0
    print(f"after the suite: {sum(live.values())} live instances "
          f"(bounds sum to {sum(s['bound'] for s in state.values())}); "
          f"{sum(s['started'] for s in state.values())} started, "
          f"{sum(s['stopped'] for s in state.values())} stopped when idle")


# --- the pool on its own -------------------------------------------------------


def sleeper(_name: str) -> subprocess.Popen:
    return subprocess.Popen(["sleep", "60"], start_new_session=True)


def test_the_pool_starts_one_instance_per_request_in_flight_up_to_its_bound():
    fleet = Fleet({"f": 3}, sleeper, idle_after=60, deadline=0.3, log=lambda _: None)
    try:
        assert fleet.acquire("f") and fleet.acquire("f") and fleet.acquire("f")
        assert fleet.report()["f"]["live"] == 3
        # At the bound a fourth waits, then is turned away: nothing started.
        began = time.monotonic()
        assert not fleet.acquire("f")
        assert time.monotonic() - began >= 0.3
        assert fleet.report()["f"]["started"] == 3
        assert fleet.report()["f"]["turned_away"] == 1
        # A request that waits gets the first instance freed.
        got = []
        waiter = threading.Thread(target=lambda: got.append(fleet.acquire("f")))
        waiter.start()
        time.sleep(0.1)
        fleet.release("f")
        waiter.join()
        assert got == [True]
        assert fleet.report()["f"]["started"] == 3
    finally:
        fleet.stop()


def test_the_pool_stops_unneeded_instances_and_replaces_dead_ones():
    fleet = Fleet({"f": 4}, sleeper, idle_after=0.5, deadline=1, log=lambda _: None)
    try:
        for _ in range(3):
            assert fleet.acquire("f")
        for _ in range(3):
            fleet.release("f")
        function = fleet.functions["f"]
        with function.cond:
            fleet._keep(function, time.monotonic())
        assert len(function.instances) == 3, "stopped while still recently needed"
        with function.cond:
            fleet._keep(function, time.monotonic() + 1)
        assert len(function.instances) == 0
        assert function.stopped == 3

        assert fleet.acquire("f")
        (instance,) = function.instances
        instance.process.kill()
        instance.process.wait()
        with function.cond:
            fleet._keep(function, time.monotonic())
        # Its request is still in flight, so a replacement starts.
        assert len(function.instances) == 1 and function.instances[0] is not instance
        fleet.release("f")
    finally:
        fleet.stop()
