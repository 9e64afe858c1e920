"""The sample events drive the functions through `cargo lambda invoke`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import PORT, ROOT


def invoke(function: str) -> dict:
    venv_bin = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{venv_bin}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(
        ["cargo", "lambda", "invoke", function,
         "--invoke-address", "127.0.0.1", "--invoke-port", str(PORT),
         "--data-file", str(ROOT / "events" / f"{function}.json")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_health_sample_event(stack):
    response = invoke("health")
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"status": "ok"}


def test_get_product_sample_event(stack):
    response = invoke("get-product")
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["sku"] == "TEA-001"
    assert response["headers"]["x-correlation-id"] == "sample-event"


def test_notifications_worker_sample_event(stack):
    # order.placed needs no message: applied, nothing failed.
    assert invoke("notifications-worker") == {"batchItemFailures": []}


def test_reports_worker_sample_event_keeps_a_message_it_cannot_apply(stack):
    # The sample's job does not exist here: reported failed, so SQS keeps it.
    response = invoke("reports-worker")
    assert response == {"batchItemFailures": [
        {"itemIdentifier": "0b1c6a53-5b8f-4d2c-9a55-2f7f4e3f1a01"}]}


def test_scheduled_sample_events(stack):
    assert set(invoke("expire-orders")) == {"expired", "skipped"}
    assert set(invoke("relay-outbox")) == {"resent", "parked", "failed"}
    assert set(invoke("rebalance-stock")) == {"skus", "moves", "units_moved", "skipped", "shrunk"}
