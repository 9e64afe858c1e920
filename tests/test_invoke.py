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
