#!/usr/bin/env python3
"""Benchmarks every function the way Lambda runs it, and writes
docs/PERFORMANCE.md. `make bench` builds what it needs and runs this.

For each function (and for a hello-world `lambda_runtime` binary built
with the same release profile: the floor), in one run on one machine:

- a Lambda Runtime API emulator (2018-06-01 protocol, the one the real
  service speaks) starts the release binary with the template's
  environment and measures init (spawn -> first GET /next), the first
  invocation, and the warm latency distribution;
- peak RSS is the process's VmHWM once the invocations are done;
- instructions per warm invocation come from callgrind: two runs under
  valgrind, one with a single invocation and one with WARM_CALLGRIND more,
  and their difference divided by WARM_CALLGRIND (stable where wall-clock
  time is not);
- a proxy in front of the DynamoDB emulator counts the DynamoDB calls of
  each function's first invocation and asks for ReturnConsumedCapacity,
  turned into a cost per 1,000 orders at on-demand prices.

Functions run against moto seeded with the demo catalog. The sample events
in events/ are used with their placeholders filled in (a real token from
the login function, the order the checkout function placed, a correctly
signed webhook), so each first invocation takes its success path.
Repeated (warm) invocations repeat the same event, which for writes means
the replay path (a second register is 409, a replayed checkout is one
read): the table says which.

Every API call is counted by the per-client rate limiter, as in
production, but against budgets no bench run can spend (the bench calls
from one address and one account far faster than a shopper would), so
each call takes its success path. The limiter's own cost is measured by
running a few functions a second time with `RATE_LIMITS=off`.
Merchant webhooks are delivered to a receiver the bench runs on loopback.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import queue
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import stack  # noqa: E402

RELEASE = ROOT / "target" / "release"
ARM64 = ROOT / "target" / "lambda"
TABLE = "quiet-engine-bench"
WARM = 30
COLD = 15
WARM_CALLGRIND = 10
# Counted, never refused: see the module's docstring.
BENCH_LIMITS = "read=1000000/1,write=1000000/1,auth=1000000/1"
# Measured again without the limiter, for its cost per request: one read,
# one write, one credential route.
LIMITER_PAIRS = ("get-product", "put-cart-item", "login")
OFF = " (limits off)"

# On-demand prices, us-east-1, as published by AWS after the DynamoDB price
# reduction of 2024-11-01 (USD). Recheck the pricing page before quoting.
PRICES_DATE = "2024-11-01"
USD_PER_MILLION_WRU = 0.625
USD_PER_MILLION_RRU = 0.125

# What one order costs in requests: a shopper browses, fills a cart,
# checks out and pays; the order is confirmed, shipped and looked at.
ORDER_JOURNEY = {
    "list-products": 1,
    "get-product": 2,
    "put-cart-item": 1,
    "get-cart": 1,
    "checkout": 1,
    "payment-webhook": 1,
    "get-order": 1,
    "ship-order": 1,
    "notifications-worker": 3,  # order.placed, order.paid, order.shipped
}

DYNAMODB = "DynamoDB_20120810."
WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


class Calls:
    """DynamoDB calls seen by the proxy since the last `reset`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[tuple[str, float, float, float]] = []

    def reset(self) -> None:
        with self.lock:
            self.items = []

    def add(self, op: str, read: float, write: float, emulator: float) -> None:
        with self.lock:
            self.items.append((op, read, write, emulator))

    def snapshot(self) -> list[tuple[str, float, float, float]]:
        with self.lock:
            return list(self.items)


def size(value) -> int:
    """An item's size as the JSON the SDK sends: DynamoDB counts attribute
    names and values without the type tags, so this errs high."""
    return len(json.dumps(value, separators=(",", ":"))) if value else 0


def units(size_bytes: int, block: int) -> int:
    return max(1, -(-size_bytes // block))


def estimate(op: str, request: dict, reply: dict) -> tuple[float, float]:
    """(read, write) request units by DynamoDB's published on-demand rules:
    reads 1 per 4 KB strongly consistent (half eventually, double in a
    transaction), writes 1 per 1 KB (double in a transaction). Updates and
    deletes are taken as items under 1 KB, which ours are."""
    read_factor = 1.0 if request.get("ConsistentRead") else 0.5
    if op == "GetItem":
        return units(size(reply.get("Item")), 4096) * read_factor, 0.0
    if op in ("Query", "Scan"):
        total = sum(size(item) for item in reply.get("Items", []))
        return units(total, 4096) * read_factor, 0.0
    if op == "BatchGetItem":
        read = 0.0
        for table, items in reply.get("Responses", {}).items():
            factor = 1.0 if request["RequestItems"].get(table, {}).get("ConsistentRead") else 0.5
            read += sum(units(size(item), 4096) * factor for item in items)
        return read, 0.0
    if op == "TransactGetItems":
        return sum(2 * units(size(r.get("Item")), 4096) for r in reply.get("Responses", [])), 0.0
    if op == "PutItem":
        return 0.0, float(units(size(request.get("Item")), 1024))
    if op in ("UpdateItem", "DeleteItem"):
        return 0.0, 1.0
    if op == "TransactWriteItems":
        write = 0.0
        for action in request.get("TransactItems", []):
            put = action.get("Put")
            write += 2 * (units(size(put.get("Item")), 1024) if put else 1)
        return 0.0, write
    if op == "BatchWriteItem":
        write = 0.0
        for requests in request.get("RequestItems", {}).values():
            for r in requests:
                put = r.get("PutRequest")
                write += units(size(put.get("Item")), 1024) if put else 1
        return 0.0, write
    return 0.0, 0.0


def reported(consumed) -> float:
    """The capacity the emulator reported (moto's figures are simplistic:
    nothing for transactions, half a unit for an update)."""
    entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
    return sum(float(entry.get("CapacityUnits", 0) or 0) for entry in entries)


def start_receiver() -> ThreadingHTTPServer:
    """A merchant's webhook endpoint on loopback: takes every delivery."""

    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def do_POST(self):  # noqa: N802 (http.server's naming)
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_proxy(upstream: str, calls: Calls) -> tuple[ThreadingHTTPServer, str]:
    """Forwards every AWS call to the emulator; DynamoDB calls are counted
    and asked for their consumed capacity."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            target = self.headers.get("x-amz-target", "")
            op = target[len(DYNAMODB):] if target.startswith(DYNAMODB) else None
            request: dict = {}
            if op:
                try:
                    request = json.loads(body)
                    request["ReturnConsumedCapacity"] = "TOTAL"
                    body = json.dumps(request).encode()
                except ValueError:
                    pass
            headers = {
                k: v for k, v in self.headers.items()
                if k.lower() not in ("host", "content-length", "connection")
            }
            forward = urllib.request.Request(upstream + self.path, data=body, headers=headers)
            try:
                with urllib.request.urlopen(forward, timeout=60) as answer:
                    status, reply, reply_headers = answer.status, answer.read(), answer.headers
            except urllib.error.HTTPError as err:
                status, reply, reply_headers = err.code, err.read(), err.headers
            if op:
                try:
                    answer = json.loads(reply) if 200 <= status < 300 else {}
                except ValueError:
                    answer = {}
                calls.add(op, *estimate(op, request, answer), reported(answer.get("ConsumedCapacity")))
            self.send_response(status)
            for k, v in reply_headers.items():
                if k.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                    self.send_header(k, v)
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


class QuietServer(ThreadingHTTPServer):
    """Stopping an instance drops its parked GET /next; that is no error."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class RuntimeApi:
    """One function instance's Lambda Runtime API."""

    PREFIX = "/2018-06-01/runtime"

    def __init__(self) -> None:
        self.events: queue.Queue = queue.Queue()
        self.results: queue.Queue = queue.Queue()
        self.first_next: float | None = None
        # Set while the function waits in GET /next: a warm invocation is
        # timed from there, as Lambda hands an event to a parked runtime.
        self.parked = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_):
                pass

            def do_GET(self):  # noqa: N802
                if self.path != f"{api.PREFIX}/invocation/next":
                    return self.reply(404, b"{}")
                if api.first_next is None:
                    api.first_next = time.perf_counter()
                api.parked.set()
                request_id, payload = api.events.get()
                api.parked.clear()
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("lambda-runtime-aws-request-id", request_id)
                self.send_header("lambda-runtime-deadline-ms", str(int(time.time() * 1000) + 30_000))
                self.send_header(
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:bench",
                )
                self.send_header("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                done = time.perf_counter()
                if self.path.endswith("/response"):
                    api.results.put(("ok", body, done))
                elif self.path.endswith("/error"):
                    api.results.put(("error", body, done))
                self.reply(202, b"{}")

            def reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_port}"

    def invoke(self, payload: dict, timeout: float = 120) -> tuple[float, dict | str]:
        if not self.parked.wait(timeout=timeout):
            raise RuntimeError("the function never asked for the next event")
        started = time.perf_counter()
        self.events.put((str(uuid.uuid4()), payload))
        kind, body, done = self.results.get(timeout=timeout)
        try:
            answer = json.loads(body)
        except ValueError:
            answer = body.decode(errors="replace")
        if kind != "ok":
            raise RuntimeError(f"invocation error: {answer}")
        return done - started, answer

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Instance:
    """A function binary started the way Lambda starts it."""

    def __init__(self, binary: Path, env: dict, log_dir: Path, under: list[str] | None = None):
        self.api = RuntimeApi()
        env = dict(
            env,
            AWS_LAMBDA_RUNTIME_API=self.api.address,
            AWS_LAMBDA_FUNCTION_NAME=binary.name,
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
            AWS_LAMBDA_LOG_LEVEL="WARN",
        )
        self.log = open(log_dir / f"{binary.name}.log", "ab")
        self.spawned = time.perf_counter()
        self.process = subprocess.Popen(
            [*(under or []), str(binary)], env=env, stdout=self.log, stderr=self.log
        )

    def init_ms(self, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while self.api.first_next is None:
            if self.process.poll() is not None:
                raise RuntimeError(f"exited during init ({self.process.returncode}); see {self.log.name}")
            if time.monotonic() > deadline:
                raise RuntimeError("init timed out")
            time.sleep(0.0005)
        return (self.api.first_next - self.spawned) * 1000

    def peak_rss_kb(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.api.close()
        self.log.close()


def calls_text(calls: list[str]) -> str:
    """`Query, UpdateItem x27`: runs of the same call grouped, order kept."""
    runs: list[list] = []
    for op in calls:
        if runs and runs[-1][0] == op:
            runs[-1][1] += 1
        else:
            runs.append([op, 1])
    return ", ".join(op if n == 1 else f"{op} x{n}" for op, n in runs) or "-"


def status_of(answer) -> str:
    if isinstance(answer, dict) and "statusCode" in answer:
        return str(answer["statusCode"])
    if isinstance(answer, dict) and "batchItemFailures" in answer:
        return f"{len(answer['batchItemFailures'])} failed"
    return "ok"


def callgrind_instructions(binary: Path, env: dict, log_dir: Path, event: dict, warm: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        instance = Instance(
            binary, env, log_dir,
            under=["valgrind", "--tool=callgrind", "--quiet", f"--callgrind-out-file={out}"],
        )
        try:
            instance.init_ms(timeout=300)
            for _ in range(1 + warm):
                instance.api.invoke(event, timeout=300)
        finally:
            instance.stop()
        for line in out.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("callgrind wrote no totals")


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.state = ROOT / ".local" / "bench"
        self.state.mkdir(parents=True, exist_ok=True)
        self.rows: dict[str, dict] = {}
        self.calls = Calls()
        self.context: dict[str, str] = {}

    def setup(self) -> None:
        endpoint = stack.serve_emulator(0)
        stack.create_resources(endpoint, TABLE)
        # No refund provider runs here: port 9 (discard) refuses at once.
        env = stack.function_env(endpoint, TABLE, self.state, provider_port=9)
        # Lambda sets no certificate-store variables; a host that does (this
        # one) would otherwise measure the platform-roots path (config.rs).
        for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
            env.pop(name, None)
        seeded = subprocess.run([str(RELEASE / "seed")], env=env, capture_output=True, text=True)
        if seeded.returncode != 0:
            raise SystemExit(f"bench: seeding failed:\n{seeded.stderr}")
        _, proxy = start_proxy(endpoint, self.calls)
        env["AWS_ENDPOINT_URL"] = proxy
        env["RATE_LIMITS"] = BENCH_LIMITS
        self.secrets = dict(env)
        # Each function gets the variables its own template entry declares
        # (its queues, the cursor key, a secret), as deployed.
        self.own = stack.split_env(env, endpoint)
        self.env = env
        self.receiver = start_receiver()

    def env_of(self, name: str, env: dict) -> dict:
        return {**env, **self.own.get(name, {})}

    # -- events -------------------------------------------------------------

    def event(self, name: str) -> dict:
        text = (ROOT / "events" / f"{name}.json").read_text()
        replacements = {
            "<access token from POST /v1/auth/login>": self.context.get("access_token", ""),
            "<admin access token from POST /v1/auth/login>": self.context.get("access_token", ""),
            "<refresh token from login>": self.context.get("refresh_token", ""),
        }
        if "order_id" in self.context:
            replacements["ord_0123456789abcdef0123456789abcdef"] = self.context["order_id"]
        if "job_id" in self.context:
            replacements["rpt_0123456789abcdef0123456789abcdef"] = self.context["job_id"]
        if "endpoint_id" in self.context:
            replacements["whep_0f6c3a5a3d0c4f0b9a8c7d6e5f4a3b2c"] = self.context["endpoint_id"]
        # The sample endpoint is a merchant's host; here it is the bench's
        # own receiver (plain HTTP to loopback is what DEV_WEBHOOK_ALLOW_LOOPBACK
        # allows), so nothing resolves a name or leaves the machine.
        replacements["https://erp.example.com/hooks/quiet-engine"] = (
            f"http://127.0.0.1:{self.receiver.server_address[1]}/hooks/quiet-engine"
        )
        for old, new in replacements.items():
            text = text.replace(old, new)
        event = json.loads(text)
        if name == "payment-webhook":
            self.sign_payment(event)
        # Checkout and refunds require their key and repeat it on purpose
        # (the repeat is the replay). Elsewhere the key is optional: without
        # it every call is the effect itself, which is what is measured;
        # with the sample's one key, all but the first call would replay.
        if name not in ("checkout", "create-refund"):
            event.get("headers", {}).pop("idempotency-key", None)
        return event

    def retarget(self, event: dict, sku: str, body: dict) -> dict:
        """A sample event for another product, with another body."""
        event = json.loads(json.dumps(event).replace("TEA-900", sku))
        event["body"] = json.dumps(body)
        return event

    def sharding(self, sku: str, shards: int) -> dict:
        """PATCH stock_shards for `sku`, whatever its version."""
        event = self.retarget(self.event("update-product"), sku, {"stock_shards": shards})
        event["headers"]["if-match"] = "*"
        return event

    def sign_payment(self, event: dict) -> None:
        body = json.loads(event["body"])
        body.update(
            id=f"evt_bench_{uuid.uuid4().hex}",
            order_id=self.context.get("order_id", body["order_id"]),
            amount=int(self.context.get("order_total", body["amount"])),
        )
        event["body"] = json.dumps(body)
        timestamp = str(int(time.time()))
        secret = self.secrets["PAYMENT_WEBHOOK_SECRET"].encode()
        mac = hmac.new(secret, f"{timestamp}.{event['body']}".encode(), hashlib.sha256).hexdigest()
        event["headers"]["payment-signature"] = f"t={timestamp},v1={mac}"

    # -- measuring ----------------------------------------------------------

    def measure(self, name: str, binary: Path | None = None, event: dict | None = None,
                env: dict | None = None, label: str | None = None) -> dict:
        binary = binary or RELEASE / name
        event = event if event is not None else self.event(name)
        env = self.env_of(name, env or self.env)
        instance = Instance(binary, env, self.state)
        try:
            init = instance.init_ms()
            self.calls.reset()
            first, answer = instance.api.invoke(event)
            first_calls = self.calls.snapshot()
            latencies, repeat = [], answer
            for _ in range(self.args.warm):
                self.calls.reset()
                seconds, repeat = instance.api.invoke(event)
                latencies.append(seconds * 1000)
            warm_calls = self.calls.snapshot()
            rss = instance.peak_rss_kb()
        finally:
            instance.stop()
        # Cold starts are noisy here: more of them, and the median.
        inits, firsts = [init], [first * 1000]
        for _ in range(self.args.cold - 1):
            again = Instance(binary, env, self.state)
            try:
                inits.append(again.init_ms())
                seconds, _ = again.api.invoke(event)
                firsts.append(seconds * 1000)
            finally:
                again.stop()
        row = {
            "init_ms": statistics.median(inits),
            "first_ms": statistics.median(firsts),
            "warm_p50_ms": statistics.median(latencies),
            "warm_p90_ms": statistics.quantiles(latencies, n=10)[-1],
            "rss_kb": rss,
            "status": status_of(answer),
            "repeat_status": status_of(repeat),
            "ddb_calls": [call[0] for call in first_calls],
            "rru": sum(call[1] for call in first_calls),
            "wru": sum(call[2] for call in first_calls),
            "emulator_units": sum(call[3] for call in first_calls),
            "warm_ddb_calls": len(warm_calls),
            "size": (ARM64 / name / "bootstrap").stat().st_size
            if (ARM64 / name / "bootstrap").exists() else None,
        }
        if self.args.callgrind:
            # A second try when the first call of the first run had work the
            # second run's did not (the relay sent events that had just come
            # due), rather than print a negative count.
            for _ in range(2):
                one = callgrind_instructions(binary, env, self.state, event, 0)
                many = callgrind_instructions(binary, env, self.state, event, WARM_CALLGRIND)
                if many > one:
                    break
            row["instructions"] = max(0, many - one) // WARM_CALLGRIND
        label = label or name
        self.rows[label] = row
        print(
            f"{label:22} init {row['init_ms']:7.1f} ms  first {row['first_ms']:7.1f} ms  "
            f"warm p50 {row['warm_p50_ms']:6.2f} ms  rss {rss / 1024:5.1f} MB  "
            f"ddb {len(first_calls)}  {row['status']}/{row['repeat_status']}"
            + (f"  instr {row['instructions']:,}" if "instructions" in row else ""),
            flush=True,
        )
        return {"answer": answer}

    def once(self, name: str, event: dict) -> dict:
        """Runs one invocation without recording it (to set the scene)."""
        instance = Instance(RELEASE / name, self.env_of(name, self.env), self.state)
        try:
            instance.init_ms()
            _, answer = instance.api.invoke(event)
            return answer
        finally:
            instance.stop()

    def body_of(self, answer) -> dict:
        return json.loads(answer["body"]) if isinstance(answer, dict) and answer.get("body") else {}

    def run(self) -> None:
        only = set(self.args.only.split(",")) if self.args.only else None

        def want(name: str) -> bool:
            return only is None or name in only

        floor = Path(self.args.floor) if self.args.floor else RELEASE / "floor"
        self.measure("floor", floor, {"hello": "world"})
        # A token first: everything signed-in needs one.
        login = self.body_of(self.once("login", self.event("login")))
        self.context.update(access_token=login["access_token"], refresh_token=login["refresh_token"])
        plain = [
            "health", "jwks", "openapi", "list-products", "search-products", "get-product",
            "register", "login",
            "me", "put-cart-item", "get-cart", "delete-cart-item",
        ]
        for name in plain:
            if want(name):
                self.measure(name)
        # The limiter's cost: the same functions and events without it.
        unlimited = dict(self.env, RATE_LIMITS="off")
        for name in LIMITER_PAIRS:
            if want(name):
                self.measure(name, env=unlimited, label=name + OFF)
        # The order the order routes act on.
        self.once("put-cart-item", self.event("put-cart-item"))
        placed = self.measure("checkout")["answer"] if want("checkout") else self.once("checkout", self.event("checkout"))
        order = self.body_of(placed)
        self.context.update(order_id=order["order_id"], order_total=str(order["total"]["amount"]))
        # The order is paid and shipped, then refunded a unit (restocked).
        for name in ("get-order", "list-orders", "payment-webhook", "ship-order", "create-refund",
                     "admin-list-orders", "list-notifications"):
            if want(name):
                self.measure(name)
        # Cancel needs an order still awaiting payment; the demo catalog
        # keeps TEA-001 scarce, so restock it first.
        restock = json.loads(json.dumps(self.event("adjust-stock")).replace("TEA-900", "TEA-001"))
        self.once("adjust-stock", restock)
        self.once("put-cart-item", self.event("put-cart-item"))
        second = self.event("checkout")
        second["headers"]["idempotency-key"] = "bench-second-order"
        placed = self.body_of(self.once("checkout", second))
        if "order_id" not in placed:
            raise SystemExit(f"bench: could not place a second order: {placed}")
        self.context["order_id"] = placed["order_id"]
        for name in ("cancel-order", "create-product", "update-product", "adjust-stock",
                     "delete-product"):
            if want(name):
                self.measure(name)
        # A flash sale: the cart's SKU (restocked) spread over 10 shards.
        # Checkout takes from one at random: the same calls as unsharded,
        # none of them on the product item (the repeats replay, as above).
        # The rebalancer runs over it too; then it goes back to one counter.
        if want("checkout") or want("rebalance-stock"):
            self.once("adjust-stock", self.retarget(self.event("adjust-stock"), "TEA-001",
                                                    {"delta": 200}))
            self.once("update-product", self.sharding("TEA-001", 10))
            self.once("put-cart-item", self.event("put-cart-item"))
            sharded = self.event("checkout")
            sharded["headers"]["idempotency-key"] = "bench-sharded-order"
            if want("checkout"):
                self.measure("checkout", event=sharded, label="checkout (sharded SKU)")
            else:
                self.once("checkout", sharded)
            if want("rebalance-stock"):
                self.measure("rebalance-stock")
            self.once("update-product", self.sharding("TEA-001", 1))
        # Promotions and tax: the code is created, read, edited, put on a
        # cart (two TEA-001 at 24.50 meet its tea scope and 20.00 minimum),
        # taken off and deleted; then the demo US rates are set.
        self.once("put-cart-item", self.event("put-cart-item"))
        for name in ("create-promotion", "get-promotion", "list-promotions", "update-promotion",
                     "put-cart-promotion", "delete-cart-promotion", "delete-promotion",
                     "put-tax-rate"):
            if want(name):
                self.measure(name)
        # Merchant webhooks: an endpoint subscribed to order.paid, the
        # worker delivering the sample event for the current order to the
        # bench's receiver, the deliveries listed and one replayed.
        if want("create-webhook-endpoint"):
            created = self.measure("create-webhook-endpoint")["answer"]
        else:
            created = self.once("create-webhook-endpoint", self.event("create-webhook-endpoint"))
        self.context["endpoint_id"] = self.body_of(created)["id"]
        for name in ("list-webhook-endpoints", "webhooks-worker", "list-webhook-deliveries",
                     "replay-webhook-delivery", "delete-webhook-endpoint"):
            if want(name):
                self.measure(name)
        if want("create-report"):
            report = self.measure("create-report")["answer"]
            self.context["job_id"] = self.body_of(report)["job_id"]
        for name in ("get-report", "notifications-worker", "reports-worker", "search-indexer",
                     "expire-orders", "relay-outbox", "refresh", "logout"):
            if want(name):
                self.measure(name)

    # -- report -------------------------------------------------------------

    def write(self, path: Path) -> None:
        floor = self.rows["floor"]
        functions = [n for n in self.rows if n != "floor" and not n.endswith(OFF)]
        lines = [
            "# Performance",
            "",
            "Written by `make bench` (bench/run.py); do not edit by hand. One run on one",
            "machine: compare the ratios, not the absolute figures, which move with the",
            "machine's load. Release x86_64 binaries run under a Lambda Runtime API",
            "emulator against moto; sizes are the arm64 binaries `make build` deploys.",
            "",
            f"Machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}.",
            "",
            "## Cold start, memory and work per call",
            "",
            "init = spawn to the first `GET /next` (everything main does before it can",
            f"serve), median of {self.args.cold} cold starts; first = the first invocation",
            "(median of the same cold starts; later ones repeat the event); warm = the following "
            f"{self.args.warm} repeats of the same event; RSS = peak resident memory",
            "after them; instructions = per warm invocation (callgrind). Ratios are to the",
            "floor, a hello-world `lambda_runtime` binary built with the same profile.",
            "",
            "| function | arm64 size | init ms (x floor) | first ms | warm p50 / p90 ms | peak RSS MB (x floor) | instructions / warm call (x floor) | first / repeat status |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
        ]

        def fmt_row(name: str, row: dict) -> str:
            size = f"{row['size'] / 1e6:.2f} MB" if row.get("size") else "n/a"
            instr = row.get("instructions")
            instr_text = (
                f"{instr:,} ({instr / max(floor['instructions'], 1):.1f}x)"
                if instr is not None and floor.get("instructions") else "n/a"
            )
            return (
                f"| {name} | {size} | {row['init_ms']:.1f} ({row['init_ms'] / floor['init_ms']:.2f}x) "
                f"| {row['first_ms']:.1f} | {row['warm_p50_ms']:.2f} / {row['warm_p90_ms']:.2f} "
                f"| {row['rss_kb'] / 1024:.1f} ({row['rss_kb'] / floor['rss_kb']:.2f}x) "
                f"| {instr_text} | {row['status']} / {row['repeat_status']} |"
            )

        lines.append(fmt_row("floor", floor))
        lines += [fmt_row(n, self.rows[n]) for n in functions]
        lines += [
            "",
            "relay-outbox's calls are not alike: each sends the events that came due since",
            "the one before, and here nothing consumes and acknowledges them, so every event",
            "the run produced comes due again after its back-off. Its instructions measure",
            "that traffic, not an empty sweep (expire-orders, the same Query finding",
            "nothing, is the empty sweep).",
            "",
            "search-products' first call builds its in-memory index from the catalog",
            "(the demo's 60 products: one Query) and reads the page's products live (one",
            "BatchGetItem); its warm calls are that one read, plus one Query of the search",
            "log when a second has passed since the last. Its init and RSS are the search",
            "engine's (tantivy) cost; the index itself is in the peak RSS after the calls.",
            "",
            "## DynamoDB per request",
            "",
            "The calls of each function's first invocation (its success path), as a proxy",
            "in front of the emulator saw them. Every call asks for",
            "`ReturnConsumedCapacity: TOTAL`, but moto's answer is not DynamoDB's (nothing",
            "for transactions, half a unit for a write), so it is shown only for",
            "reference; the read and write units are computed from the sizes the proxy saw",
            "by DynamoDB's published rules (bench/run.py `estimate`), and those are what",
            "the cost below uses.",
            "",
            "| function | round trips | calls | read units | write units | emulator-reported |",
            "|---|---:|---|---:|---:|---:|",
        ]
        for name in functions:
            row = self.rows[name]
            lines.append(
                f"| {name} | {len(row['ddb_calls'])} | {calls_text(row['ddb_calls'])} "
                f"| {row['rru']:g} | {row['wru']:g} | {row['emulator_units']:g} |"
            )
        lines += self.limiter_lines()
        rru = sum(self.rows[n]["rru"] * k for n, k in ORDER_JOURNEY.items() if n in self.rows)
        wru = sum(self.rows[n]["wru"] * k for n, k in ORDER_JOURNEY.items() if n in self.rows)
        cost = (rru * USD_PER_MILLION_RRU + wru * USD_PER_MILLION_WRU) / 1e6 * 1000
        journey = ", ".join(f"{k}x {n}" for n, k in ORDER_JOURNEY.items())
        lines += [
            "",
            "## DynamoDB cost per 1,000 orders",
            "",
            f"One order = {journey}.",
            f"That is {rru:g} read and {wru:g} write request units per order; at on-demand",
            f"prices (us-east-1, as published from {PRICES_DATE}: ${USD_PER_MILLION_RRU} per",
            f"million read units, ${USD_PER_MILLION_WRU} per million write units) 1,000",
            f"orders cost **${cost:.4f}** in DynamoDB requests. Constants in bench/run.py.",
            "",
        ]
        path.write_text("\n".join(lines))

    def limiter_lines(self) -> list[str]:
        pairs = [n for n in LIMITER_PAIRS if n in self.rows and n + OFF in self.rows]
        if not pairs:
            return []
        lines = [
            "",
            "## What the rate limiter costs",
            "",
            "The same function, event and instance count with the limiter counting",
            f"(budgets no run can spend, `{BENCH_LIMITS}`) and with",
            "`RATE_LIMITS=off`. The difference is its cost per request: one conditional",
            "`UpdateItem` on the client's counter item (1 write unit) and the time it takes.",
            "The emulator answers in about a millisecond on loopback; in region a",
            "DynamoDB write is single-digit milliseconds, so the latency row is a floor.",
            "",
            "| function | round trips on / off | write units on / off | first ms on / off | warm p50 ms on / off | instructions / warm call on / off |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name in pairs:
            on, off = self.rows[name], self.rows[name + OFF]
            instr = (
                f"{on['instructions']:,} / {off['instructions']:,}"
                if "instructions" in on and "instructions" in off else "n/a"
            )
            lines.append(
                f"| {name} | {len(on['ddb_calls'])} / {len(off['ddb_calls'])} "
                f"| {on['wru']:g} / {off['wru']:g} | {on['first_ms']:.1f} / {off['first_ms']:.1f} "
                f"| {on['warm_p50_ms']:.2f} / {off['warm_p50_ms']:.2f} | {instr} |"
            )
        return lines


def main() -> None:
    global RELEASE
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warm", type=int, default=WARM)
    parser.add_argument("--cold", type=int, default=COLD, help="cold starts per function (median)")
    parser.add_argument("--no-callgrind", dest="callgrind", action="store_false")
    parser.add_argument("--only", help="comma-separated functions (the floor always runs)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "PERFORMANCE.md"))
    parser.add_argument("--bin-dir", help="where the function binaries are (default: target/release)")
    parser.add_argument("--floor", help="the floor binary (default: <bin-dir>/floor)")
    args = parser.parse_args()
    RELEASE = Path(args.bin_dir) if args.bin_dir else RELEASE
    bench = Bench(args)
    bench.setup()
    bench.run()
    bench.write(Path(args.out))
    print(f"bench: wrote {args.out}")


if __name__ == "__main__":
    main()
