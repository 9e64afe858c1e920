#!/usr/bin/env python3
"""Explains the figures of docs/PERFORMANCE.md: where a function's bytes,
init instructions, warm instructions and resident memory go, next to the
floor's. Writes docs/PERFORMANCE-WHY.md. `make why` builds what it needs
(the `profiling` profile: release code generation with the symbol table
kept) and runs this.

For the floor and each function, in one run:

- bytes by crate: `nm --print-size` over the unstripped binary, every
  symbol's size charged to the crate its (demangled) path starts with;
  generic code from core/alloc/std instantiated for another crate's type is
  charged to that crate, C symbols of aws-lc to "aws-lc (C)";
- instructions by crate: callgrind runs under the same Runtime API emulator
  as bench/run.py: one stopped right after init (the init profile), one
  with 1 and one with 1 + WARM invocations (their difference / WARM is the
  warm profile), each function's self cost charged to its crate;
- resident memory by mapping after one invocation (/proc/PID/smaps): the
  binary's code and read-only data, heap and other anonymous memory, the
  shared libraries;
- files opened during init (strace), which is where kernel time goes that
  callgrind does not see.

Everything is from x86-64 host builds (valgrind runs here); arm64 code is
of similar size and shape, which the size column of PERFORMANCE.md shows.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402  (bench/run.py: the emulator, seeding, events)

ROOT = run.ROOT
PROFILING = ROOT / "target" / "profiling"
DEFAULT_FUNCTIONS = ["health", "get-product", "checkout", "login"]
WARM = 10
TOP = 12

RUST_PATH = re.compile(r"(?:^|[<(\s&\[*,])([A-Za-z_][A-Za-z0-9_]*)::")
STD_CRATES = {"core", "alloc", "std", "hashbrown", "compiler_builtins"}


def crate_of(symbol: str, obj: str = "") -> str:
    """The crate a demangled symbol's code belongs to. Symbols that are not
    Rust paths are C: the C library's when they come from a shared object,
    otherwise aws-lc's (the only C linked into our binaries) or start-up."""
    name = symbol.strip()
    if ".so" in obj:
        return "libc and loader (malloc, memcpy, relocation)"
    crates = RUST_PATH.findall(name)
    if not crates:
        return "C in the binary (aws-lc, start-up)"
    # `<T as Trait>::f` and `core::ptr::drop_in_place<T>`: the code is the
    # instantiating crate's, so charge the first crate that is not std's.
    for crate in crates:
        if crate not in STD_CRATES and not crate[0].isupper():
            return crate
    return crates[0]


def family(crate: str) -> str:
    """Groups crates the way a reader thinks of them."""
    if crate.startswith(("aws_sdk_", "aws_smithy_", "aws_config", "aws_runtime", "aws_sigv4", "aws_types", "aws_credential_types")):
        return "AWS SDK (" + crate + ")"
    return crate


# -- bytes -------------------------------------------------------------------


def bytes_by_crate(binary: Path) -> tuple[collections.Counter, dict[str, int], collections.Counter]:
    out = subprocess.run(
        ["nm", "--print-size", "--size-sort", "--radix=d", "-C", str(binary)],
        capture_output=True, text=True, check=True,
    ).stdout
    by_crate: collections.Counter = collections.Counter()
    by_symbol: collections.Counter = collections.Counter()
    for line in out.splitlines():
        parts = line.split(maxsplit=3)
        if len(parts) != 4:
            continue
        _, size, kind, name = parts
        if kind.lower() in {"t", "w"}:
            by_crate[crate_of(name)] += int(size)
            # Legacy mangling drops generic arguments, so every derived
            # Debug impl inlined into `<&T as Debug>::fmt` adds up here.
            by_symbol[name] += int(size)
    sections = {}
    for line in subprocess.run(["size", "-A", str(binary)], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in {".text", ".rodata", ".eh_frame", ".data.rel.ro"}:
            sections[parts[0]] = int(parts[1])
    return by_crate, sections, by_symbol


# -- instructions ------------------------------------------------------------


def callgrind(
    bench: run.Bench, binary: Path, event: dict | None, invocations: int, platform: dict | None = None
) -> Path:
    out = Path(tempfile.mkstemp(prefix=f"why-{binary.name}-{invocations}-", suffix=".out")[1])
    instance = run.Instance(
        binary, dict(bench.env, **(platform or {})), bench.state,
        under=["valgrind", "--tool=callgrind", "--quiet", f"--callgrind-out-file={out}"],
    )
    try:
        instance.init_ms(timeout=300)
        for _ in range(invocations):
            instance.api.invoke(event, timeout=300)
    finally:
        instance.stop()
    return out


ANNOTATED = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?\S*?:(.+?)(?:\s+\[(.*)\])?$")


def self_cost(profile: Path) -> tuple[int, collections.Counter]:
    """Total instructions and self cost per (function, object), from
    callgrind_annotate."""
    out = subprocess.run(
        ["callgrind_annotate", "--threshold=100", "--auto=no", str(profile)],
        capture_output=True, text=True, check=True,
    ).stdout
    profile.unlink()
    total, per_function = 0, collections.Counter()
    for line in out.splitlines():
        if "PROGRAM TOTALS" in line:
            total = int(line.split()[0].replace(",", ""))
            continue
        match = ANNOTATED.match(line)
        if match:
            key = (match.group(2).strip(), match.group(3) or "")
            per_function[key] += int(match.group(1).replace(",", ""))
    return total, per_function


def by_crate(per_function: collections.Counter) -> collections.Counter:
    crates: collections.Counter = collections.Counter()
    for (function, obj), cost in per_function.items():
        crates[crate_of(function, obj)] += cost
    return crates


# -- memory and files --------------------------------------------------------


def resident(bench: run.Bench, binary: Path, event: dict | None) -> dict[str, int]:
    instance = run.Instance(binary, bench.env, bench.state)
    try:
        instance.init_ms()
        if event is not None:
            instance.api.invoke(event)
        smaps = Path(f"/proc/{instance.process.pid}/smaps").read_text()
        hwm = instance.peak_rss_kb()
    finally:
        instance.stop()
    kinds: collections.Counter = collections.Counter()
    current = "other"
    for line in smaps.splitlines():
        header = re.match(r"^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$", line)
        if header:
            perms, path = header.groups()
            if path and Path(path).name == binary.name:
                current = "binary code" if "x" in perms else "binary data"
            elif path.startswith("/") and ".so" in path:
                current = "shared libraries"
            else:
                current = "heap and anonymous"
            continue
        if line.startswith("Rss:"):
            kinds[current] += int(line.split()[1])
    kinds["peak (VmHWM)"] = hwm
    return dict(kinds)


def files_opened_at_init(bench: run.Bench, binary: Path) -> list[str]:
    trace = Path(tempfile.mkstemp(prefix=f"why-{binary.name}-", suffix=".strace")[1])
    instance = run.Instance(
        binary, bench.env, bench.state,
        under=["strace", "-f", "-e", "trace=openat", "-o", str(trace)],
    )
    try:
        instance.init_ms(timeout=60)
    finally:
        instance.stop()
    opened = re.findall(r'openat\([^,]+, "([^"]+)", [^)]*\) = \d+', trace.read_text())
    trace.unlink()
    return opened


def init_wall_ms(bench: run.Bench, binary: Path, extra_env: dict, repeats: int) -> float:
    env = dict(bench.env, **extra_env)
    times = []
    for _ in range(repeats):
        instance = run.Instance(binary, env, bench.state)
        try:
            times.append(instance.init_ms())
        finally:
            instance.stop()
    return sorted(times)[len(times) // 2]


# -- report ------------------------------------------------------------------


def table(rows: list[tuple], header: tuple) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def top(counter: collections.Counter, total: int, n: int = TOP) -> list[tuple]:
    rows = []
    for crate, value in counter.most_common(n):
        rows.append((f"`{crate}`", f"{value:,}", f"{100 * value / total:.1f}%" if total else "-"))
    rest = total - sum(v for _, v in counter.most_common(n))
    if rest > 0:
        rows.append(("everything else", f"{rest:,}", f"{100 * rest / total:.1f}%"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", default=str(PROFILING))
    parser.add_argument("--functions", default=",".join(DEFAULT_FUNCTIONS))
    parser.add_argument("--out", default=str(ROOT / "docs" / "PERFORMANCE-WHY.md"))
    parser.add_argument("--repeats", type=int, default=15, help="cold starts per wall-clock init figure")
    args = parser.parse_args()
    bin_dir = Path(args.bin_dir)
    run.RELEASE = bin_dir  # seed, login and put-cart-item set the scene from here too
    names = ["floor", *args.functions.split(",")]

    # bench/run.py needs these to fill events; the release seed binary does
    # the seeding, as in `make bench`.
    bench = run.Bench(argparse.Namespace(warm=1, cold=1, callgrind=False, only=None))
    bench.setup()
    bench.context.update(prepare_context(bench, bin_dir))

    sections: list[str] = []
    summary = []
    for name in names:
        binary = bin_dir / name
        event = None if name == "floor" else bench.event(name)
        sizes, elf, symbols = bytes_by_crate(binary)
        init_total, init_fns = self_cost(callgrind(bench, binary, event, 0))
        one_total, one_fns = self_cost(callgrind(bench, binary, event, 1))
        many_total, many_fns = self_cost(callgrind(bench, binary, event, 1 + WARM))
        warm_fns = collections.Counter(
            {fn: (many_fns[fn] - one_fns.get(fn, 0)) // WARM for fn in many_fns if many_fns[fn] > one_fns.get(fn, 0)}
        )
        warm_total = max(0, many_total - one_total) // WARM
        memory = resident(bench, binary, event)
        opened = files_opened_at_init(bench, binary)
        certs = [path for path in opened if path.startswith("/etc/ssl/")]
        summary.append((name, elf.get(".text", 0), init_total, warm_total, memory, len(opened), len(certs)))
        print(f"{name:14} text {elf.get('.text', 0):>9,}  init {init_total:>12,}  warm {warm_total:>10,}  files {len(opened)}", flush=True)

        text_total = sum(sizes.values())
        sections += [
            f"## {name}",
            "",
            f"Sections: " + ", ".join(f"{k} {v:,} B" for k, v in elf.items())
            + f". Files opened during init: {len(opened)}, of them {len(certs)} under /etc/ssl.",
            "",
            "Code bytes by crate (symbol sizes):",
            "",
            *table(top(collections.Counter(sizes), text_total), ("crate", "bytes", "share")),
            "",
            "Largest code symbols (same-named symbols summed):",
            "",
            *table(
                [(f"`{sym[:110]}`", f"{size:,}") for sym, size in symbols.most_common(8)],
                ("symbol", "bytes"),
            ),
            "",
            f"Init instructions by crate (total {init_total:,}):",
            "",
            *table(top(by_crate(init_fns), init_total), ("crate", "instructions", "share")),
            "",
        ]
        if name != "floor":
            sections += [
                f"Instructions per warm invocation by crate (total {warm_total:,}):",
                "",
                *table(top(by_crate(warm_fns), warm_total), ("crate", "instructions", "share")),
                "",
                "Top functions per warm invocation (self cost):",
                "",
                *table(
                    [(f"`{fn[:110]}`", f"{cost:,}") for (fn, _), cost in warm_fns.most_common(TOP)],
                    ("function", "instructions"),
                ),
                "",
            ]
        sections += [
            "Resident memory after one invocation (kB): "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(memory.items())),
            "",
        ]

    # The root store: ours (config.rs, Trust::AwsRoots) against the
    # platform's, which an operator gets by setting SSL_CERT_FILE/DIR (here
    # Debian's bundle and directory, what openssl-probe finds by default).
    platform = {"SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt", "SSL_CERT_DIR": "/etc/ssl/certs"}
    experiments = []
    for name in names[1:]:
        if name == "health":
            continue
        binary = bin_dir / name
        ours, _ = self_cost(callgrind(bench, binary, None, 0, platform=None))
        theirs, _ = self_cost(callgrind(bench, binary, None, 0, platform=platform))
        row = [name, f"{ours:,}", f"{theirs:,}"]
        if args.repeats:
            row += [
                f"{init_wall_ms(bench, binary, {}, args.repeats):.1f}",
                f"{init_wall_ms(bench, binary, platform, args.repeats):.1f}",
            ]
        experiments.append(tuple(row))

    floor = summary[0]
    lines = [
        "# Why the figures are what they are",
        "",
        "Written by `make why` (bench/why.py) from `target/profiling` binaries (release code",
        "generation, symbols kept), x86-64. Each function against the floor in one run.",
        "",
        *table(
            [
                (
                    name, f"{text:,}", f"{init:,} ({init / floor[2]:.0f}x)", f"{warm:,}",
                    f"{mem.get('binary code', 0):,}", f"{mem.get('binary data', 0):,}",
                    f"{mem.get('heap and anonymous', 0):,}", f"{mem.get('peak (VmHWM)', 0):,}",
                    files, certs,
                )
                for name, text, init, warm, mem, files, certs in summary
            ],
            (
                "binary", ".text bytes", "init instructions", "warm instructions",
                "RSS code kB", "RSS data kB", "RSS heap+anon kB", "peak RSS kB",
                "files opened at init", "of them /etc/ssl",
            ),
        ),
        "",
        "Init with our five AWS roots (the default) and with the platform store (what",
        "`SSL_CERT_FILE`/`SSL_CERT_DIR` select; here Debian's bundle plus /etc/ssl/certs):",
        (f"instructions, and wall clock as the median of {args.repeats} cold starts."
         if args.repeats else "instructions (`--repeats N` adds wall clock, median of N cold starts)."),
        "",
        *table(
            experiments,
            ("function", "init instructions, AWS roots", "init instructions, platform store",
             "init ms, AWS roots", "init ms, platform store")[: 3 + (2 if args.repeats else 0)],
        ),
        "",
        *sections,
    ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"why: wrote {args.out}")


def prepare_context(bench: run.Bench, bin_dir: Path) -> dict[str, str]:
    """A token and an order, so events take their success paths."""
    context: dict[str, str] = {}
    login = bench.once("login", bench.event("login"))
    tokens = bench.body_of(login)
    context["access_token"] = tokens.get("access_token", "")
    context["refresh_token"] = tokens.get("refresh_token", "")
    bench.context.update(context)
    # Checkout's first invocation places an order from this cart; its
    # repeats replay it, as in docs/PERFORMANCE.md.
    bench.once("put-cart-item", bench.event("put-cart-item"))
    return context


if __name__ == "__main__":
    main()
