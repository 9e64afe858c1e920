"""What the local stack's instances are doing (tools/pool.py), as the
machine sees them: every live process whose environment names the stack's
function-env folder, by the function it runs, not by what the pool says
about itself. Used by test_orders.py's rush and test_fleet.py."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import requests


def live_instances(stack) -> Counter[str]:
    """Live instances of this stack's functions, per function. An instance
    is a session of its own (the pool starts each with setsid), so it is
    counted once however many processes it briefly has while it starts
    (a shell, a build)."""
    marker = f"QUIET_FUNCTION_ENV={(stack.state / 'function-env').resolve()}".encode()
    sessions: dict[str, set[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            # "pid (comm) state ppid pgrp session ...": comm may hold spaces.
            session = int((entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[3])
        except (OSError, ValueError, IndexError):
            continue  # gone, or not ours to read
        if marker not in environ:
            continue
        for variable in environ:
            if variable.startswith(b"AWS_LAMBDA_FUNCTION_NAME="):
                sessions.setdefault(variable.split(b"=", 1)[1].decode(), set()).add(session)
    return Counter({name: len(ids) for name, ids in sessions.items()})


def fleet(stack) -> dict:
    """The pool's own account, per function: live, peak, bound, started..."""
    response = requests.get(f"{stack.base}/_local/fleet", timeout=10)
    assert response.status_code == 200
    return response.json()


def parked_outbox_events(stack) -> int:
    """Outbox events the relay gave up on since this stack started."""
    with open(stack.state / "watch.log", "rb") as log:
        log.seek(stack.watch_log_start)
        return log.read().count(b"outbox event parked")


class Sampler(threading.Thread):
    """Counts the stack's instances every 0.1 s until stopped; keeps each
    function's peak. `with Sampler(stack) as sampler:` around the load."""

    def __init__(self, stack) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.peaks: Counter[str] = Counter()
        self.total_peak = 0
        self.samples = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            counts = live_instances(self.stack)
            self.samples += 1
            self.total_peak = max(self.total_peak, sum(counts.values()))
            for name, count in counts.items():
                self.peaks[name] = max(self.peaks[name], count)

    def __enter__(self) -> "Sampler":
        self.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.done.set()
        self.join()

    def over(self, bounds: dict[str, int]) -> dict[str, tuple[int, int]]:
        """Functions whose peak passed their bound: {name: (peak, bound)}."""
        return {name: (peak, bounds[name]) for name, peak in self.peaks.items() if peak > bounds[name]}
