"""The flash-sale model (bench/simulate.py) behaves as DynamoDB's documented
limits say it must: a single counter stops near 500 checkouts/s, ten shards
read eventually consistent carry about ten times that, and a sell-out sells
every unit exactly once. Pure Python, no stack: a few seconds."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import simulate  # noqa: E402

SECONDS = 3.0


def capacity(shards: int, read_units: float, rate: int) -> simulate.Outcome:
    scenario = simulate.Scenario(shards, read_units, "test")
    sale = simulate.Sale(scenario, rate, SECONDS, stock=10**7, seed=rate, conflict_ms=0,
                         rebalance_s=1.0)
    return sale.run()


def test_one_counter_stops_near_500_per_second_and_sheds_the_rest_as_503():
    below = capacity(1, 1.0, 300)
    above = capacity(1, 1.0, 2000)
    assert simulate.throughput(below, SECONDS) > 270
    assert below.failed == 0
    assert 450 <= simulate.throughput(above, SECONDS) <= 520
    assert above.failed > above.accepted
    assert simulate.p99(above.latencies) > 0.1  # store::transact's backoff, not milliseconds


def test_ten_shards_carry_ten_times_one_counter():
    sharded = capacity(10, 0.5, 4500)
    assert simulate.throughput(sharded, SECONDS) > 4200
    assert sharded.failed == 0
    # Read strongly consistent, the product item's 3,000 read units cap it.
    consistent = capacity(10, 1.0, 4500)
    assert 2800 <= simulate.throughput(consistent, SECONDS) <= 3100


def test_a_sell_out_sells_every_unit_once_at_any_rate():
    for shards in (1, 10):
        for rate in (500, 5000):
            scenario = simulate.Scenario(shards, 0.5, "test")
            sale = simulate.Sale(scenario, rate, SECONDS, stock=700, seed=rate, conflict_ms=0,
                                 rebalance_s=0.5)
            outcome = sale.run()  # asserts sold + left == stock, never below zero
            assert outcome.accepted == 700
            assert sum(shard.stock for shard in sale.shards) == 0
            assert outcome.sold_out > 0


def test_a_sharded_sell_out_refuses_with_409_not_errors():
    scenario = simulate.Scenario(10, 0.5, "test")
    sale = simulate.Sale(scenario, 2000, SECONDS, stock=1000, seed=11, conflict_ms=0,
                         rebalance_s=1.0)
    outcome = sale.run()
    assert outcome.accepted == 1000
    assert outcome.failed == 0
    assert outcome.sold_out > 3000


def test_conflicts_are_retried_not_lost():
    scenario = simulate.Scenario(10, 0.5, "test")
    sale = simulate.Sale(scenario, 1000, SECONDS, stock=10**6, seed=3, conflict_ms=1.0,
                         rebalance_s=1.0)
    outcome = sale.run()
    assert outcome.conflicts > 0
    assert outcome.accepted + outcome.failed + outcome.sold_out == len(outcome.answers)


def test_the_report_names_its_assumptions(tmp_path):
    args = argparse.Namespace(shards=4, seconds=2.0, rates=[200, 800], seed=1, conflict_ms=0.0,
                              rebalance_s=1.0, visible_s=1.0,
                              out=str(tmp_path / "FLASH-SALE.md"))
    results = simulate.sweep(args)
    text = simulate.report(args, results, simulate.sell_out(args))
    assert "1,000 write units" in text and "3,000 read units" in text
    assert simulate.svg(results, args.seconds).startswith("<svg")
