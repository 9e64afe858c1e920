"""End-to-end harness: starts the real local stack (emulator + every function
under `cargo lambda watch`) on its own ports, hands the tests its base URL,
and stops it afterwards. It never touches a stack started by `make dev`."""

from __future__ import annotations

import contextlib
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


STATE_DIR = ROOT / ".local" / "e2e"
ADMIN = {"email": "admin@quiet.local", "password": "quiet-admin-password"}


class Stack:
    def __init__(self, base: str, emulator: str):
        self.base = base
        self.emulator = emulator
        self.state = STATE_DIR
        self.http = requests.Session()
        self.watch_log_start = 0

    def url(self, path: str) -> str:
        return self.base + path

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.url(path), timeout=30, **kwargs)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.http.request(method, self.url(path), timeout=30, **kwargs)

    def post(self, path: str, body=None, token: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["authorization"] = f"Bearer {token}"
        return self.request("POST", path, json=body, headers=headers, **kwargs)

    def login(self, email: str, password: str) -> dict:
        response = self.post("/v1/auth/login", {"email": email, "password": password})
        assert response.status_code == 200, response.text
        return response.json()

    def new_customer(self, password: str = "correct horse battery staple") -> dict:
        """Registers a fresh customer and logs in: {email, password, user, tokens}."""
        import uuid

        email = f"customer-{uuid.uuid4().hex[:12]}@example.com"
        response = self.post(
            "/v1/auth/register", {"email": email, "password": password, "name": "Test Customer"}
        )
        assert response.status_code == 201, response.text
        return {
            "email": email,
            "password": password,
            "user": response.json(),
            "tokens": self.login(email, password),
        }


# The suite drives hundreds of requests a second from one address and a few
# accounts, far past the budgets a shop sets for one client; limits are
# tested on a stack of their own (test_rate_limits.py), with the defaults.
GENEROUS_LIMITS = "read=1000000/1,write=1000000/1,auth=1000000/1"


# The state folders of the stacks this session started: each holds the
# AWS calls its functions made (tools/iam.py), checked by test_iam.py.
STARTED_STACKS: list[Path] = []


def pytest_collection_modifyitems(items):
    """Tests marked `after_all` run last: they check what the rest did."""
    items.sort(key=lambda item: item.get_closest_marker("after_all") is not None)


def pytest_configure(config):
    config.addinivalue_line("markers", "after_all: runs after every other test")


@contextlib.contextmanager
def local_stack(port: int, state_dir: str, table: str, rate_limits: str | None):
    """Starts tools/stack.py on `port` and yields its Stack once ready."""
    command = [
        sys.executable, str(ROOT / "tools/stack.py"), "dev",
        "--port", str(port),
        "--emulator-port", "0",
        "--state-dir", state_dir,
        "--table", table,
        "--ignore-changes",
        # Instances stop after 10 s unneeded (make dev: 30 s), so that
        # tests/test_fleet.py sees one go without waiting half a minute.
        "--idle-after", "10",
        # The refund tests run the payment provider themselves (PORT + 1).
        "--no-provider",
    ]
    env = dict(os.environ)
    env.pop("RATE_LIMITS", None)
    if rate_limits is not None:
        env["RATE_LIMITS"] = rate_limits
    # Logs are appended to run after run: this run's start where they end now.
    watch_log = ROOT / state_dir / "watch.log"
    watch_log_start = watch_log.stat().st_size if watch_log.exists() else 0
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
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
        pytest.fail(f"the local stack did not become ready; see {state_dir}/*.log")
    STARTED_STACKS.append(ROOT / state_dir)
    # Keep draining stdout so the stack never blocks on a full pipe.
    threading.Thread(target=process.stdout.read, daemon=True).start()
    try:
        running = Stack(base, emulator)
        running.state = ROOT / state_dir
        running.watch_log_start = watch_log_start
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def stack():
    with local_stack(PORT, ".local/e2e", "quiet-engine-e2e", GENEROUS_LIMITS) as running:
        yield running


# An access token lives 15 minutes and a full run takes longer: once the
# admin's is 10 minutes old it is renewed with the refresh token, as a
# front end would. Not by logging in again: a full run got 429 there (five
# failed logins for the admin's email in 15 minutes, from the fuzzing and
# abuse tests, lock login for that email as designed).
ADMIN_TOKEN_REUSE_SECS = 600
_admin_session: dict = {}


@pytest.fixture()
def admin_token(stack) -> str:
    age = time.monotonic() - _admin_session.get("at", -1e9)
    if "refresh" not in _admin_session:
        tokens = stack.login(ADMIN["email"], ADMIN["password"])
    elif age > ADMIN_TOKEN_REUSE_SECS:
        response = stack.post("/v1/auth/refresh", {"refresh_token": _admin_session["refresh"]})
        assert response.status_code == 200, response.text
        tokens = response.json()
    else:
        return _admin_session["token"]
    _admin_session.update(token=tokens["access_token"], refresh=tokens["refresh_token"],
                          at=time.monotonic())
    return _admin_session["token"]


@pytest.fixture()
def customer(stack) -> dict:
    return stack.new_customer()


def catalog() -> list[dict]:
    import json

    return json.loads((ROOT / "tools/seed/catalog.json").read_text())
