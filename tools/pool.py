"""The local stack's Lambda fleet: every function instance the stack runs
is started, counted and stopped here, a bounded pool beside `cargo lambda
watch` (tools/stack.py wires the two together).

Why not watch's own instances. `cargo lambda watch --concurrency N`
(1.9.x, crates/cargo-lambda-watch/src/scheduler.rs and instance_pool.rs)
starts an instance every 100 ms while a function has a waiting request and
no instance that is Idle; one still starting is not Idle, so on a slow or
busy machine a single request starts instance after instance until N. N is
one number for every function, workers included, and nothing ever stops
an idle instance: a burst's instances stay for good. Nor can anyone stop
them from outside: an instance that exits stays in watch's pool (its
watcher only logs the exit), and one that stays "Idle" there means watch
never starts another for that function. On 2 cores that is how one short
session reached 516 processes, a load of 80, and workers that never got
to run (docs/SOAK.md, before).

So watch runs with `--only-lambda-apis`: it still turns HTTP requests into
API Gateway events on the template's routes, serves Lambda's Invoke API
and each function's Runtime API (`/.rt/<function>`), and queues every
invocation until an instance takes it. This pool, in front of it, is where
requests arrive:

- A request for a function with fewer instances than requests in flight
  starts one more, up to the function's bound (a setting: 16 for HTTP
  functions, 5 for workers); an instance still starting counts, so one
  request starts one instance however slow the start.
- At the bound, a request waits here, in arrival order, for a free
  instance; after `deadline` seconds it gets 503 (problem+json,
  Retry-After), as API Gateway answers a throttled function, and nothing
  reached the function.
- An instance the function has not needed for `idle_after` seconds is
  stopped, as Lambda retires idle execution environments. Only while none
  of the function's requests is in flight, with new ones held back, so the
  stopped instance holds no request (watch drops the Runtime API call of
  an instance that went away; checked: tests/test_fleet.py).
- An instance that dies is replaced if a request needs one.
- Under `make dev`, a source change stops every idle instance; the next
  one starts through tools/watch-cargo, which rebuilds first (one build,
  under a lock), as watch's own file watcher did.

GET /_local/fleet answers the pool's state (per function: live, starting,
in flight, peak, started, stopped, bound, waited, turned away), for the
tests and `make soak`. Not an API route: API Gateway has no such path.
"""

from __future__ import annotations

import http
import json
import os
import re
import signal
import socket
import socketserver
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

FLEET_PATH = "/_local/fleet"
INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
# Connection-level headers of one hop, not passed on (RFC 9110 section 7.6.1).
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
    "trailer", "upgrade",
}


@dataclass
class Instance:
    process: subprocess.Popen
    started: float
    generation: int


@dataclass
class Function:
    """The instances of one function and the requests it is serving."""

    name: str
    bound: int
    cond: threading.Condition = field(default_factory=threading.Condition)
    instances: list[Instance] = field(default_factory=list)
    in_flight: int = 0
    # last_needed[k]: when k instances were last all in use (k = 1..bound).
    last_needed: list[float] = field(default_factory=list)
    # Requests waiting for a free instance, and every one turned away.
    waiting: int = 0
    peak: int = 0
    started: int = 0
    stopped: int = 0
    waited: int = 0
    turned_away: int = 0

    def __post_init__(self) -> None:
        self.last_needed = [0.0] * (self.bound + 1)

    def report(self) -> dict:
        return {
            "live": len(self.instances), "in_flight": self.in_flight,
            "waiting": self.waiting, "peak": self.peak, "bound": self.bound,
            "started": self.started, "stopped": self.stopped,
            "waited": self.waited, "turned_away": self.turned_away,
        }


class Fleet:
    """The pool: `acquire`/`release` around each invocation, and a keeper
    thread that replaces dead instances and stops idle ones."""

    def __init__(
        self,
        bounds: dict[str, int],
        spawn: Callable[[str], subprocess.Popen],
        idle_after: float,
        deadline: float,
        log: Callable[[str], None],
    ) -> None:
        self.functions = {name: Function(name, bound) for name, bound in bounds.items()}
        self.spawn = spawn
        self.idle_after = idle_after
        self.deadline = deadline
        self.log = log
        self.generation = 0
        self.stopping = threading.Event()

    # --- per invocation ---------------------------------------------------

    def acquire(self, name: str) -> bool:
        """Waits for an instance of `name` to be free, starting one if the
        bound allows; False once `deadline` passes."""
        function = self.functions[name]
        give_up = time.monotonic() + self.deadline
        with function.cond:
            queued = False
            while function.in_flight >= len(function.instances):
                if len(function.instances) < function.bound:
                    self._start(function)
                    continue
                if not queued:
                    queued = True
                    function.waiting += 1
                    function.waited += 1
                left = give_up - time.monotonic()
                if left <= 0 or self.stopping.is_set():
                    function.waiting -= 1
                    function.turned_away += 1
                    return False
                function.cond.wait(left)
            if queued:
                function.waiting -= 1
            function.in_flight += 1
            now = time.monotonic()
            for k in range(1, function.in_flight + 1):
                function.last_needed[k] = now
            return True

    def release(self, name: str) -> None:
        function = self.functions[name]
        with function.cond:
            function.in_flight -= 1
            function.cond.notify()

    # --- instances ----------------------------------------------------------

    def _start(self, function: Function) -> None:
        """Under function.cond. The instance counts from now, while it starts."""
        process = self.spawn(function.name)
        function.instances.append(Instance(process, time.monotonic(), self.generation))
        function.started += 1
        function.peak = max(function.peak, len(function.instances))

    def _stop(self, function: Function, instance: Instance, why: str) -> None:
        """Under function.cond with nothing in flight: the instance is
        waiting for its next event and holds none."""
        try:
            os.killpg(instance.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        instance.process.wait()
        function.instances.remove(instance)
        function.stopped += 1
        self.log(f"{function.name}: stopped an instance ({why}); {len(function.instances)} left")

    def keep(self, period: float = 0.25) -> None:
        """The keeper: every `period` s, per function, forgets instances
        that exited (replacing them while requests need them), and stops
        the instances the last `idle_after` seconds did not need."""
        while not self.stopping.wait(period):
            now = time.monotonic()
            for function in self.functions.values():
                with function.cond:
                    self._keep(function, now)

    def _keep(self, function: Function, now: float) -> None:
        for instance in list(function.instances):
            code = instance.process.poll()
            if code is not None:
                function.instances.remove(instance)
                self.log(f"{function.name}: an instance exited with {code}")
                function.cond.notify_all()
        # Requests already handed to watch wait there for an instance.
        while function.in_flight > len(function.instances) < function.bound:
            self._start(function)
        if function.in_flight:
            return
        stale = [i for i in function.instances if i.generation < self.generation]
        for instance in stale:
            self._stop(function, instance, "the source changed")
        needed = max(
            (k for k in range(1, function.bound + 1)
             if now - function.last_needed[k] < self.idle_after),
            default=0,
        )
        # The newest go first: the oldest have served the most and are warm.
        while len(function.instances) > needed:
            self._stop(function, function.instances[-1], f"idle {self.idle_after:g} s")

    def source_changed(self) -> None:
        """Every instance started before now is stopped once idle."""
        self.generation += 1

    def report(self) -> dict:
        report = {}
        for name, function in sorted(self.functions.items()):
            with function.cond:
                report[name] = function.report()
        return report

    def stop(self) -> None:
        self.stopping.set()
        for function in self.functions.values():
            with function.cond:
                for instance in function.instances:
                    try:
                        os.killpg(instance.process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                function.cond.notify_all()
            for instance in function.instances:
                instance.process.wait()


def route_table(routes: list[tuple[str, str, str]]) -> list[tuple[re.Pattern, tuple, dict]]:
    """One entry per path: its pattern (`{name}` matches one segment), its
    rank and {method: function}. Ranked as watch's router (and API
    Gateway) picks a path: a literal segment wins over a `{name}` one,
    from the left, before the method is looked at."""
    paths: dict[str, dict[str, str]] = {}
    for method, path, function in routes:
        paths.setdefault(path, {})[method.upper()] = function
    table = []
    for path, methods in paths.items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
        rank = tuple(segment.startswith("{") for segment in path.split("/"))
        table.append((re.compile(f"^{pattern}$"), rank, methods))
    table.sort(key=lambda entry: entry[1])
    return table


def function_of(table: list, method: str, path: str) -> str | None:
    invoke = INVOKE_PATH.match(path)
    if invoke:
        return invoke.group(1)
    for pattern, _rank, methods in table:
        if pattern.match(path):
            # The path's own methods only: PATCH /v1/products/search is
            # not update-product's, though /v1/products/{sku} matches it.
            return methods.get(method, methods.get("ANY"))
    return None


def problem(status: int, title: str, detail: str) -> bytes:
    return json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()


class Message:
    """One HTTP/1.1 message read off a stream: its first line, its header
    lines as sent, and its body. Parsed by hand: http.server and
    http.client parse headers with the email package, and at thousands of
    requests a minute that was most of the stack's CPU."""

    def __init__(self, start: bytes, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.start = start
        self.headers = headers
        self.body = body

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def encode(self, skip: frozenset = frozenset()) -> bytes:
        """As sent on, with a content-length of the body we hold (hop-by-hop
        headers, and any in `skip`, left out)."""
        lines = [self.start]
        for key, value in self.headers:
            lowered = key.lower()
            if lowered not in HOP_BY_HOP_BYTES and lowered != b"content-length" and lowered not in skip:
                lines.append(key + b": " + value)
        lines.append(b"content-length: " + str(len(self.body)).encode())
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body


HOP_BY_HOP_BYTES = frozenset(name.encode() for name in HOP_BY_HOP)
MAX_HEADER_LINES = 200


class BadMessage(Exception):
    pass


def read_message(stream, body_allowed: bool = True, on_expect=None) -> Message | None:
    """The next message on `stream` (a buffered binary reader); None if the
    peer closed the connection before one began. `on_expect` is called
    before the body of a request that asked for `100 Continue`."""
    start = stream.readline(65537)
    while start in (b"\r\n", b"\n"):  # stray empty lines between messages
        start = stream.readline(65537)
    if not start:
        return None
    headers = []
    while True:
        line = stream.readline(65537)
        if line in (b"\r\n", b"\n", b""):
            break
        name, sep, value = line.partition(b":")
        if not sep or len(headers) >= MAX_HEADER_LINES:
            raise BadMessage("malformed header")
        headers.append((name.strip(), value.strip()))
    message = Message(start.rstrip(b"\r\n"), headers, b"")
    if not body_allowed:
        return message
    if on_expect is not None and (message.header(b"expect") or b"").lower() == b"100-continue":
        on_expect()
    if (message.header(b"transfer-encoding") or b"").lower().endswith(b"chunked"):
        chunks = []
        while True:
            size_line = stream.readline(65537)
            try:
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
            except ValueError:
                raise BadMessage("malformed chunk") from None
            if size == 0:
                while stream.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                break
            chunks.append(stream.read(size))
            stream.readline(65537)
        message.body = b"".join(chunks)
    else:
        length = message.header(b"content-length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                raise BadMessage("content-length is not a number") from None
            if size < 0:
                raise BadMessage("content-length is negative")
            message.body = stream.read(size)
            if len(message.body) != size:
                raise BadMessage("the body ended early")
    return message


def front(
    fleet: Fleet,
    routes: list[tuple[str, str, str]],
    upstream_port: int,
    port: int,
    timeout: float,
) -> socketserver.ThreadingTCPServer:
    """The stack's HTTP port: each request is matched to its function,
    held until the fleet has an instance for it, and passed to watch
    (`upstream_port`) unchanged; watch's answer comes back unchanged.
    CORS preflights (OPTIONS) go straight to watch, which answers them;
    a request no route takes gets 404 here. One thread per client
    connection, with one kept-alive connection to watch of its own."""
    table = route_table(routes)

    def answer(status: int, content_type: str, body: bytes, extra: bytes = b"") -> bytes:
        reason = http.HTTPStatus(status).phrase.encode()
        return (
            b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\n%scontent-length: %d\r\n\r\n"
            % (status, reason, content_type.encode(), extra, len(body))
        ) + body

    def problem_answer(status: int, title: str, detail: str, extra: bytes = b"") -> bytes:
        return answer(status, "application/problem+json", problem(status, title, detail), extra)

    class Handler(socketserver.StreamRequestHandler):
        # Small answers go out at once, not after the client's delayed ACK.
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            self.upstream: socket.socket | None = None
            self.upstream_reader = None

        def finish(self) -> None:
            self.close_upstream()
            super().finish()

        def close_upstream(self) -> None:
            if self.upstream is not None:
                self.upstream.close()
                self.upstream = self.upstream_reader = None

        def handle(self) -> None:
            while True:
                try:
                    request = read_message(
                        self.rfile, on_expect=lambda: self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    )
                except BadMessage as error:
                    self.wfile.write(problem_answer(400, "Bad Request", str(error)))
                    return
                except OSError:
                    return
                if request is None:
                    return
                try:
                    reply, close = self.respond(request)
                except (OSError, BadMessage) as error:
                    self.close_upstream()
                    reply, close = problem_answer(
                        502, "Bad Gateway", f"the local Lambda service failed: {error!r}"
                    ), True
                try:
                    self.wfile.write(reply)
                except OSError:
                    return
                if close or (request.header(b"connection") or b"").lower() == b"close":
                    return

        def respond(self, request: Message) -> tuple[bytes, bool]:
            parts = request.start.split(b" ")
            if len(parts) != 3:
                return problem_answer(400, "Bad Request", "malformed request line"), True
            method = parts[0].decode("latin-1")
            target = parts[1].decode("latin-1")
            path = target.split("?", 1)[0]
            if path == FLEET_PATH and method == "GET":
                return answer(200, "application/json", json.dumps(fleet.report()).encode()), False
            name = function_of(table, method, path)
            if name is None and method != "OPTIONS":
                # As API Gateway answers a request no route takes. (watch
                # would hand it to a default function that never comes.)
                return problem_answer(404, "Not Found", f"no route for {method} {path}"), False
            if name is not None and name not in fleet.functions:
                return problem_answer(404, "Not Found", f"no function {name}"), False
            if name is not None and not fleet.acquire(name):
                return problem_answer(
                    503, "Service Unavailable",
                    f"every instance of {name} stayed busy for {fleet.deadline:g} s; "
                    "try again shortly",
                    b"retry-after: 1\r\n",
                ), False
            began = time.monotonic()
            try:
                reply = self.forward(request, head=method == "HEAD")
            finally:
                if name is not None:
                    fleet.release(name)
            took = time.monotonic() - began
            if took > 1:
                status = reply.start.split(b" ", 2)[1].decode("latin-1")
                fleet.log(f"{name}: {method} {path} took {took:.1f} s ({status})")
            head_only = method == "HEAD"
            if head_only:
                # A HEAD answer says the length a GET would have had.
                length = reply.header(b"content-length") or b"0"
                lines = [reply.start] + [
                    k + b": " + v for k, v in reply.headers
                    if k.lower() not in HOP_BY_HOP_BYTES and k.lower() != b"content-length"
                ] + [b"content-length: " + length]
                return b"\r\n".join(lines) + b"\r\n\r\n", False
            return reply.encode(), False

        def forward(self, request: Message, head: bool) -> Message:
            # The body is here already: watch is not asked to continue.
            payload = request.encode(skip=frozenset({b"expect"}))
            for attempt in (1, 2):
                fresh = self.upstream is None
                if fresh:
                    self.upstream = socket.create_connection(("127.0.0.1", upstream_port), timeout=timeout)
                    self.upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self.upstream_reader = self.upstream.makefile("rb")
                try:
                    self.upstream.sendall(payload)
                    reply = read_message(self.upstream_reader, body_allowed=not head)
                    if reply is None:
                        raise ConnectionResetError("watch closed the connection")
                except (ConnectionResetError, BrokenPipeError):
                    self.close_upstream()
                    # A kept-alive connection watch had closed: once more on
                    # a new one (nothing reached a function on the first).
                    if fresh or attempt == 2:
                        raise
                    continue
                if (reply.header(b"connection") or b"").lower() == b"close":
                    self.close_upstream()
                return reply
            raise AssertionError("unreachable")

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True
        # The 200-buyer rush opens hundreds of connections at once.
        request_queue_size = 1024

    return Server(("127.0.0.1", port), Handler)
