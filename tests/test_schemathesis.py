"""The running stack against its own OpenAPI document: what the code serves
is what the document says, checked by schemathesis generating valid and
invalid requests for every operation with a real admin token.

Runs last (file order), since it creates accounts and probes admin routes.
SCHEMATHESIS_SEED picks another seed, SCHEMATHESIS_EXAMPLES more cases."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "ignored_auth",
]


def test_the_served_document_is_the_committed_one(stack):
    response = stack.get("/v1/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    committed = json.loads((ROOT / "docs/openapi.json").read_text())
    assert response.json() == committed


# The operations in two halves of about equal run time, one schemathesis
# process each, side by side: one run is a chain of waits (generate, send,
# function, emulator, check) that keeps one of two cores busy: 46 s for
# both halves at once, 65 s for one run of everything (measured alone).
# Each half still gets every phase and check.
ADMIN_AND_SEARCH = "^/v1/(admin/|products/search)"
HALVES = {
    "admin and search": ["--include-path-regex", ADMIN_AND_SEARCH],
    "the rest": ["--exclude-path-regex", ADMIN_AND_SEARCH],
}


def test_schemathesis_finds_nothing(stack, admin_token, tmp_path):
    seed = os.environ.get("SCHEMATHESIS_SEED", "20261202")
    examples = os.environ.get("SCHEMATHESIS_EXAMPLES", "25")
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run",
        stack.url("/v1/openapi.json"),
        "--url", stack.url(""),
        "--checks", ",".join(CHECKS),
        "--header", f"Authorization: Bearer {admin_token}",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", examples,
        "--seed", seed,
        # One worker: with two threads, Hypothesis describing a filter
        # lambda (ast.parse) races CPython 3.11's AST recursion counter and
        # dies with "AST constructor recursion depth mismatch". Processes
        # do not share that counter.
        "--workers", "1",
        "--request-timeout", "60",
        "--generation-database", "none",
        "--report", "junit",
        "--no-color",
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
        "PYTHONPATH": str(ROOT / "tests"),
    }
    runs = {}
    for index, (half, selection) in enumerate(HALVES.items()):
        directory = tmp_path / str(index)
        directory.mkdir()
        runs[half] = subprocess.Popen(
            [*command, *selection, "--report-dir", str(directory)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            cwd=directory, env=env,
        )
    reports = {half: run.communicate(timeout=900)[0] for half, run in runs.items()}
    # Keep the whole report where CI logs can show it.
    (ROOT / ".local").mkdir(exist_ok=True)
    (ROOT / ".local/schemathesis.log").write_text(
        "".join(f"=== {half}\n{report}\n" for half, report in reports.items())
    )
    selected = 0
    for half, run in runs.items():
        assert run.returncode == 0, f"{half}:\n{reports[half][-20000:]}"
        found = re.search(r"Selected: (\d+)/(\d+)", reports[half])
        assert found, f"{half}: no summary in the report"
        selected += int(found[1])
        total = int(found[2])
    assert selected == total, "together the halves test every operation, once"
