#!/usr/bin/env python3
"""A bounded load test on loopback: browsing and checkouts at once against
the local stack, then a correctness check. `make load` runs it.

wrk (bench/load.lua) keeps CONNECTIONS connections busy for DURATION
seconds: half the requests browse (the product list, one product), half
are checkouts by up to SHOPPERS customers who each hold one unit of a
product with only STOCK units. Afterwards: no 5xx anywhere, more checkouts
answered than there were units (so the last unit was contended), orders
placed = 201s = units taken from stock = STOCK (never more: no oversell),
and no shopper holds two orders.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
ADMIN = {"email": "admin@quiet.local", "password": "quiet-admin-password"}
ADDRESS = {"shipping_address": {
    "name": "Load Tester", "line1": "1 Loopback Way", "city": "Localhost",
    "postal_code": "12700", "country": "DE",
}}


def start_stack(port: int) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tools/stack.py"), "dev", "--port", str(port),
         "--emulator-port", "0", "--state-dir", ".local/load", "--table", "quiet-engine-load",
         "--ignore-changes"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("ready: "):
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, line.split(": ", 1)[1].strip()
    raise SystemExit("load: the stack did not start; see .local/load/*.log")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=3700)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--shoppers", type=int, default=120)
    parser.add_argument("--stock", type=int, default=50)
    args = parser.parse_args()

    # The stack serves a few clients per instance slot; keep the two equal.
    process, base = start_stack(args.port)
    http = requests.Session()
    try:
        admin = http.post(f"{base}/v1/auth/login", json=ADMIN, timeout=30).json()["access_token"]
        sku = f"LOAD-{secrets.token_hex(4).upper()}"
        created = http.post(
            f"{base}/v1/products", timeout=30,
            headers={"authorization": f"Bearer {admin}"},
            json={"sku": sku, "name": "Load test tea", "category": "tea",
                  "price": {"amount": 1000, "currency": "USD"}, "stock": args.stock},
        )
        assert created.status_code == 201, created.text

        def shopper(i: int) -> tuple[str, str]:
            s = requests.Session()
            email = f"load-{secrets.token_hex(6)}@example.com"
            password = "load test password"
            r = s.post(f"{base}/v1/auth/register", timeout=60,
                       json={"email": email, "password": password, "name": f"Shopper {i}"})
            assert r.status_code == 201, r.text
            token = s.post(f"{base}/v1/auth/login", timeout=60,
                           json={"email": email, "password": password}).json()["access_token"]
            r = s.put(f"{base}/v1/cart/items/{sku}", json={"quantity": 1}, timeout=60,
                      headers={"authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
            return token, f"load-{secrets.token_hex(8)}"

        print(f"load: preparing {args.shoppers} shoppers for {args.stock} units of {sku}", flush=True)
        with ThreadPoolExecutor(max_workers=8) as pool:
            shoppers = list(pool.map(shopper, range(args.shoppers)))

        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("".join(f"{token} {key}\n" for token, key in shoppers))
            shoppers_file = f.name
        env = dict(
            os.environ, LOAD_SHOPPERS=shoppers_file, LOAD_THREADS=str(args.threads),
            LOAD_ADDRESS=json.dumps(ADDRESS), LOAD_PRODUCT=sku,
        )
        command = [
            "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
            "--timeout", "30s", "--latency", "-s", str(ROOT / "bench/load.lua"), base,
        ]
        print("load: " + " ".join(command), flush=True)
        run = subprocess.run(command, env=env, capture_output=True, text=True)
        os.unlink(shoppers_file)
        print(run.stdout, run.stderr, flush=True)
        if run.returncode != 0:
            raise SystemExit("load: wrk failed")
        statuses = {int(k): v for k, v in json.loads(
            re.search(r"^STATUS (\{.*\})$", run.stdout, re.M).group(1)).items()}

        # Correctness, read back through the API.
        def orders_of(token: str) -> list[dict]:
            r = requests.get(f"{base}/v1/orders?limit=100", timeout=60,
                             headers={"authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
            return [o for o in r.json()["items"] if o["items"][0]["sku"] == sku]

        with ThreadPoolExecutor(max_workers=8) as pool:
            held = list(pool.map(lambda s: len(orders_of(s[0])), shoppers))
        stock = http.get(f"{base}/v1/products/{sku}", timeout=30).json()["stock"]
        placed = sum(held)
        server_errors = sum(n for status, n in statuses.items() if status >= 500)
        checkouts = statuses.get(201, 0) + statuses.get(409, 0)
        report = {
            "requests": sum(statuses.values()), "statuses": statuses,
            "orders_placed": placed, "stock_left": stock, "checkouts_answered": checkouts,
        }
        print("load: " + json.dumps(report), flush=True)
        failures = []
        if server_errors:
            failures.append(f"{server_errors} responses were 5xx")
        if checkouts <= args.stock:
            failures.append(
                f"only {checkouts} checkouts were answered in {args.duration} s, not more than "
                f"the {args.stock} units: the sell-out was not exercised (raise --duration)"
            )
        if max(held) > 1:
            failures.append("a shopper holds more than one order")
        if placed != args.stock - stock:
            failures.append(f"{placed} orders placed but {args.stock - stock} units taken")
        if statuses.get(201, 0) != placed:
            failures.append(f"{placed} orders placed, {statuses.get(201, 0)} answered 201")
        if placed != min(checkouts, args.stock):
            failures.append(f"{placed} orders for {checkouts} checkouts of {args.stock} units")
        if failures:
            raise SystemExit("load: FAILED: " + "; ".join(failures))
        print("load: passed: no 5xx, no oversell, orders placed = stock taken", flush=True)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    main()
