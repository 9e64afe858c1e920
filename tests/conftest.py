"""End-to-end harness: starts the real local stack (emulator + every function
under `cargo lambda watch`) on its own ports, hands the tests its base URL,
and stops it afterwards. It never touches a stack started by `make dev`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
PORT = int(os.environ.get("E2E_PORT", 3300))


class Stack:
    def __init__(self, base: str, emulator: str):
        self.base = base
        self.emulator = emulator
        self.http = requests.Session()

    def url(self, path: str) -> str:
        return self.base + path

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.url(path), timeout=30, **kwargs)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.http.request(method, self.url(path), timeout=30, **kwargs)


@pytest.fixture(scope="session")
def stack():
    command = [
        sys.executable, str(ROOT / "tools/stack.py"), "dev",
        "--port", str(PORT),
        "--emulator-port", "0",
        "--state-dir", ".local/e2e",
        "--table", "quiet-engine-e2e",
        "--ignore-changes",
        "--concurrency", "64",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    base = emulator = None
    deadline = time.monotonic() + 1200
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("emulator: "):
            emulator = line.split(": ", 1)[1].strip()
        if line.startswith("ready: "):
            base = line.split(": ", 1)[1].strip()
            break
        if time.monotonic() > deadline:
            break
    if base is None or emulator is None:
        process.kill()
        pytest.fail("the local stack did not become ready; see .local/e2e/*.log")
    # Keep draining stdout so the stack never blocks on a full pipe.
    threading.Thread(target=process.stdout.read, daemon=True).start()
    try:
        yield Stack(base, emulator)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def catalog() -> list[dict]:
    import json

    return json.loads((ROOT / "tools/seed/catalog.json").read_text())
