#!/usr/bin/env python3
"""A bounded soak of the stack `make dev` runs: a few minutes of ordinary
traffic, then a report of what it did to the machine. `make soak` runs it;
it is not part of `make test`.

It starts `tools/stack.py dev` as `make dev` does (file watching on, the
dev concurrency) but on its own ports and state folder, so a developer's
`make dev` is untouched, and stops it at the end. CLIENTS threads loop
over what a shop's visitors do for SECONDS: browse the catalog, search, fill a cart, check out, pay
(a signed provider webhook), and now and then staff ask for a report;
a merchant webhook endpoint on a loopback receiver gets the order events.

Every SAMPLE seconds it counts each function's live processes, all
processes, and the load average; after the traffic it waits for the idle
instances to be stopped (IDLE_AFTER, tools/pool.py) and counts again. For every payment it times the webhook's
200 to the confirmation notification (the async path: outbox, relay,
queue, worker). The report (printed, and written to docs/SOAK.md with
--write) gives per-function peaks, process and load peaks, notification
latency p50/p99, events parked by the relay, deliveries received, report
jobs finished, and every 5xx or failed request. All traffic goes to
loopback; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
STATE = ".local/soak"
ADMIN = {"email": "admin@quiet.local", "password": "quiet-admin-password"}
WEBHOOK_SECRET = b"whsec_local_dev"  # the local stack's dev-only default
ADDRESS = {"name": "Soak Tester", "line1": "1 Loopback Way", "city": "Localhost",
           "postal_code": "12700", "country": "DE"}


class Receiver:
    """A merchant's webhook endpoint on loopback: counts what arrives."""

    def __init__(self) -> None:
        self.received = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the stdlib's name)
                self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.received += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"


class Soak:
    def __init__(self, base: str, seconds: float) -> None:
        self.base = base
        self.deadline = time.monotonic() + seconds
        self.lock = threading.Lock()
        self.statuses: Counter[str] = Counter()
        self.failures: list[str] = []
        self.latencies: list[float] = []
        self.missed_notifications = 0
        self.reports: list[str] = []

    def call(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response | None:
        headers = kwargs.pop("headers", {})
        if token:
            headers["authorization"] = f"Bearer {token}"
        try:
            response = requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)
        except requests.RequestException as error:
            with self.lock:
                self.failures.append(f"{method} {path}: {type(error).__name__}")
            return None
        route = path.split("?")[0]
        with self.lock:
            self.statuses[f"{response.status_code // 100}xx"] += 1
            if response.status_code >= 500:
                self.failures.append(f"{method} {route}: {response.status_code}")
        return response

    def customer(self) -> str:
        email = f"soak-{uuid.uuid4().hex[:12]}@example.com"
        password = "correct horse battery staple"
        self.call("POST", "/v1/auth/register", json={"email": email, "password": password, "name": "Soak"})
        login = self.call("POST", "/v1/auth/login", json={"email": email, "password": password})
        return login.json()["access_token"] if login is not None and login.status_code == 200 else ""

    def pay(self, order: dict) -> bool:
        body = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": "payment.succeeded",
                           "order_id": order["order_id"], "amount": order["total"]["amount"],
                           "currency": order["total"]["currency"]}).encode()
        stamp = str(int(time.time()))
        digest = hmac.new(WEBHOOK_SECRET, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        paid = self.call("POST", "/v1/payments/webhook", data=body, headers={
            "content-type": "application/json", "payment-signature": f"t={stamp},v1={digest}"})
        return paid is not None and paid.status_code == 200

    def confirmation_latency(self, token: str, order_id: str, paid_at: float) -> None:
        """Polls the customer's notifications until the confirmation shows
        (at most 30 s: past that it counts as missed)."""
        while time.monotonic() - paid_at < 30:
            seen = self.call("GET", "/v1/notifications", token)
            if seen is not None and seen.status_code == 200 and any(
                n.get("order_id") == order_id for n in seen.json().get("items", [])
            ):
                with self.lock:
                    self.latencies.append(time.monotonic() - paid_at)
                return
            time.sleep(0.1)
        with self.lock:
            self.missed_notifications += 1

    def visitor(self, skus: list[str], admin: str, i: int) -> None:
        token = self.customer()
        if not token:
            with self.lock:
                self.failures.append("a visitor could not sign up and in")
        round_ = 0
        while token and time.monotonic() < self.deadline:
            round_ += 1
            sku = skus[(i + round_) % len(skus)]
            self.call("GET", "/v1/products?limit=20")
            self.call("GET", f"/v1/products/{sku}")
            self.call("GET", "/v1/products/search?q=tea")
            self.call("PUT", f"/v1/cart/items/{sku}", token, json={"quantity": 1})
            placed = self.call("POST", "/v1/checkout", token, json={"shipping_address": ADDRESS},
                               headers={"idempotency-key": str(uuid.uuid4())})
            if placed is not None and placed.status_code == 201 and self.pay(placed.json()):
                self.confirmation_latency(token, placed.json()["order_id"], time.monotonic())
            if i == 0 and round_ % 5 == 0:
                today = time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime())
                job = self.call("POST", "/v1/admin/reports", admin, json={
                    "from": time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime(time.time() - 86400)),
                    "to": today},
                    headers={"idempotency-key": str(uuid.uuid4())})
                if job is not None and job.status_code == 202:
                    with self.lock:
                        self.reports.append(job.json()["job_id"])


def function_processes(functions: set[str]) -> Counter[str]:
    """Live processes per function: instances exec target/<profile>/<fn>."""
    counts: Counter[str] = Counter()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            exe = os.readlink(entry / "exe")
        except OSError:
            continue
        name = Path(exe).name
        if name in functions and "/target/" in exe:
            counts[name] += 1
    return counts


def sampler(functions: set[str], every: float, stop: threading.Event, peaks: dict) -> None:
    while not stop.is_set():
        counts = function_processes(functions)
        processes = sum(1 for p in Path("/proc").iterdir() if p.name.isdigit())
        load = float(Path("/proc/loadavg").read_text().split()[0])
        for name, count in counts.items():
            peaks["per_function"][name] = max(peaks["per_function"].get(name, 0), count)
        peaks["instances"] = max(peaks["instances"], sum(counts.values()))
        peaks["processes"] = max(peaks["processes"], processes)
        peaks["load"] = max(peaks["load"], load)
        peaks["last"] = sum(counts.values())
        peaks.setdefault("first", sum(counts.values()))
        stop.wait(every)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 180)))
    parser.add_argument("--clients", type=int, default=int(os.environ.get("SOAK_CLIENTS", 8)))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SOAK_PORT", 3400)))
    parser.add_argument("--sample", type=float, default=5.0)
    parser.add_argument("--write", action="store_true", help="write the report to docs/SOAK.md")
    args = parser.parse_args()
    clients = args.clients

    sys.path.insert(0, str(ROOT / "tools"))
    import stack  # noqa: E402

    functions = set(stack.template_functions())
    # As `make dev` runs it (rebuild on change, its default bounds), on
    # ports and a state folder of its own.
    # Every client here is one address (loopback), far past what a shop
    # allows one address: the per-client budgets are lifted, as the
    # end-to-end suite lifts them.
    env = dict(os.environ, RATE_LIMITS="read=1000000/1,write=1000000/1,auth=1000000/1")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tools/stack.py"), "dev", "--port", str(args.port),
         "--emulator-port", "0", "--state-dir", STATE, "--table", "quiet-engine-soak"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True, env=env,
    )
    stop = threading.Event()
    peaks: dict = {"per_function": {}, "instances": 0, "processes": 0, "load": 0.0, "last": 0}
    try:
        assert process.stdout is not None
        base = None
        for line in process.stdout:
            if line.startswith("ready: "):
                base = line.split(": ", 1)[1].strip()
                break
        if base is None:
            raise SystemExit(f"soak: the stack did not start; see {STATE}/*.log")
        threading.Thread(target=process.stdout.read, daemon=True).start()
        started = time.monotonic()
        threading.Thread(target=sampler, args=(functions, args.sample, stop, peaks), daemon=True).start()

        soak = Soak(base, args.seconds)
        admin = requests.post(base + "/v1/auth/login", json=ADMIN, timeout=30).json()["access_token"]
        receiver = Receiver()
        soak.call("POST", "/v1/admin/webhook-endpoints", admin, json={
            "url": receiver.url, "event_types": ["order.placed", "order.paid"]})
        skus = []
        for i in range(4):
            sku = f"SOAK-{uuid.uuid4().hex[:8].upper()}"
            soak.call("POST", "/v1/products", admin, json={
                "sku": sku, "name": f"Soak tea {i}", "category": "soak",
                "price": {"amount": 500, "currency": "USD"}, "stock": 100000},
                headers={"idempotency-key": str(uuid.uuid4())})
            skus.append(sku)
        threads = [threading.Thread(target=soak.visitor, args=(skus, admin, i)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=args.seconds + 120)
        # Async work still flowing at the end gets a moment to land.
        time.sleep(10)
        finished = sum(
            1 for job in soak.reports
            if (r := soak.call("GET", f"/v1/admin/reports/{job}", admin)) is not None
            and r.status_code == 200 and r.json().get("status") in ("succeeded", "failed")
        )
        stop.set()
        elapsed = time.monotonic() - started
        fleet = requests.get(base + "/_local/fleet", timeout=30).json()
        over = {name: (peaks["per_function"].get(name, 0), f["bound"]) for name, f in fleet.items()
                if peaks["per_function"].get(name, 0) > f["bound"]}
        bounds = sorted({f["bound"] for f in fleet.values()})
        # Unneeded instances are stopped after IDLE_AFTER (30 s): count
        # what is left once that has passed for the last request.
        time.sleep(float(os.environ.get("IDLE_AFTER", 30)) + 5)
        after_idle = sum(function_processes(functions).values())
        state = ROOT / STATE
        logs = "".join(
            (state / name).read_text(errors="replace") for name in ("events.log", "watch.log")
            if (state / name).exists()
        )
        parked = logs.count("outbox event parked")
        lines = [
            f"soak: {elapsed:.0f} s, {clients} clients, {sum(soak.statuses.values())} requests "
            f"({dict(sorted(soak.statuses.items()))})",
            f"function processes: {peaks.get('first', 0)} once ready, before traffic; peak "
            f"{peaks['instances']}, at the end of traffic {peaks['last']}, "
            f"{after_idle} once idle ones were stopped; "
            f"all processes: {peaks['processes']}; peak load average: {peaks['load']:.1f} "
            f"on {os.cpu_count()} cores",
            f"bounds per function: {bounds}; peaks above their bound: {over or 'none'}; "
            f"requests that waited for an instance: {sum(f['waited'] for f in fleet.values())}, "
            f"turned away (503): {sum(f['turned_away'] for f in fleet.values())}; "
            f"instances started {sum(f['started'] for f in fleet.values())}, "
            f"stopped when idle {sum(f['stopped'] for f in fleet.values())}",
            "peak instances per function: " + ", ".join(
                f"{name} {count}" for name, count in sorted(peaks["per_function"].items(),
                                                            key=lambda kv: -kv[1])),
            f"payment -> confirmation: {len(soak.latencies)} measured, "
            f"p50 {percentile(soak.latencies, 0.5):.2f} s, p99 {percentile(soak.latencies, 0.99):.2f} s, "
            f"max {max(soak.latencies, default=float('nan')):.2f} s; missed (> 30 s): {soak.missed_notifications}",
            f"reports: {len(soak.reports)} requested, {finished} finished",
            f"merchant webhook deliveries received: {receiver.received}",
            f"outbox events parked (relay log): {parked}",
            f"failed or 5xx requests: {len(soak.failures)} {Counter(soak.failures).most_common(5)}",
        ]
        report = "\n".join(lines)
        print(report)
        if args.write:
            target = ROOT / "docs/SOAK.md"
            # Earlier runs kept for comparison live under "## Before".
            kept = ""
            if target.exists() and "\n## Before" in target.read_text():
                kept = "\n## Before" + target.read_text().split("\n## Before", 1)[1]
            target.write_text(
                "# Soak of the `make dev` stack\n\n"
                "Written by `make soak` (bench/soak.py): what a few minutes of ordinary traffic\n"
                "do to the local stack on this machine. Not part of `make test`.\n\n"
                f"Run {time.strftime('%Y-%m-%d')}, `make soak SOAK_SECONDS={args.seconds:.0f} "
                f"SOAK_CLIENTS={clients}`:\n\n```\n{report}\n```\n" + kept
            )
    finally:
        stop.set()
        try:
            os.killpg(process.pid, 15)
            process.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, 9)


if __name__ == "__main__":
    main()
