"""What is deployed, what runs locally and what is documented are the same
thing: the watch router in Cargo.toml, the template's HttpApi events, the
OpenAPI document (docs/openapi.json, which a Rust test keeps equal to what
the code generates), the function folders and the sample events must all
agree. No stack needed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import stack  # noqa: E402


def template_functions() -> dict[str, dict]:
    template = stack.load_template()
    return {
        Path(props["CodeUri"]).name: props
        for props in stack.resources_of(template, "AWS::Serverless::Function").values()
    }


def template_routes() -> set[tuple[str, str, str]]:
    return {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"], function)
        for function, props in template_functions().items()
        for event in props.get("Events", {}).values()
        if event["Type"] == "HttpApi"
    }


def test_watch_router_serves_exactly_the_template_routes():
    assert set(stack.routes()) == template_routes()


def openapi_routes() -> set[tuple[str, str, str]]:
    """(METHOD, path, operationId); each operation is named after the
    function that serves it."""
    doc = json.loads((ROOT / "docs" / "openapi.json").read_text())
    return {
        (method.upper(), path, op["operationId"])
        for path, item in doc["paths"].items()
        for method, op in item.items()
    }


def test_openapi_documents_exactly_the_template_routes():
    documented, deployed = openapi_routes(), template_routes()
    assert documented - deployed == set(), "documented but not deployed"
    assert deployed - documented == set(), "deployed but not documented"


def test_every_function_folder_is_deployed_and_has_a_sample_event():
    folders = {p.name for p in (ROOT / "functions").iterdir() if p.is_dir()}
    functions = template_functions()
    assert folders == set(functions)
    for name in folders:
        event = json.loads((ROOT / "events" / f"{name}.json").read_text())
        triggers = {e["Type"] for e in functions[name].get("Events", {}).values()}
        assert len(triggers) == 1, f"{name}: one kind of trigger expected, template has {triggers}"
        (trigger,) = triggers
        if trigger == "HttpApi":
            assert event["version"] == "2.0", name
        elif trigger == "SQS":
            assert event["Records"][0]["eventSource"] == "aws:sqs", name
        else:
            assert event["detail-type"] == "Scheduled Event", name


def test_queues_follow_the_async_rules():
    """DESIGN.md, async work: every queue has a DLQ with maxReceiveCount >= 5
    (equal to the workers' MAX_RECEIVES), a visibility timeout at least 6x
    its worker's timeout, and its worker reports partial batch failures;
    every DLQ has a depth alarm."""
    template = stack.load_template()
    queues = stack.resources_of(template, "AWS::SQS::Queue")
    worker_rs = (ROOT / "shared/src/worker.rs").read_text()
    consumed = {}
    for name, props in template_functions().items():
        for event in props.get("Events", {}).values():
            if event["Type"] == "SQS":
                queue = event["Properties"]["Queue"]["Fn::GetAtt"][0]
                consumed[queue] = props.get("Timeout", template["Globals"]["Function"]["Timeout"])
                assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
                assert event["Properties"]["BatchSize"] <= 10
                assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] >= 2
    sources = {q for q, p in queues.items() if "RedrivePolicy" in p}
    assert sources == set(consumed)
    dead_letters = set()
    for queue in sources:
        props = queues[queue]
        assert props["VisibilityTimeout"] >= 6 * consumed[queue], queue
        redrive = props["RedrivePolicy"]
        assert redrive["maxReceiveCount"] >= 5
        assert f"MAX_RECEIVES: u32 = {redrive['maxReceiveCount']};" in worker_rs
        dead_letters.add(redrive["deadLetterTargetArn"]["Fn::GetAtt"][0])
    assert dead_letters == set(queues) - sources
    alarmed = {
        alarm["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for alarm in stack.resources_of(template, "AWS::CloudWatch::Alarm").values()
        if alarm.get("Namespace") == "AWS/SQS"
    }
    assert alarmed == dead_letters


def test_deliveries_to_loopback_are_never_allowed_in_the_template():
    """DESIGN.md: the dev-only setting that lets webhook deliveries reach the
    local test receiver is set by the local stack alone."""
    text = (ROOT / "template.yaml").read_text()
    assert "DEV_WEBHOOK_ALLOW_LOOPBACK" not in text.replace(
        "# DEV_WEBHOOK_ALLOW_LOOPBACK is a local-stack setting, never set here.", "")
    assert "DEV_WEBHOOK_ALLOW_LOOPBACK" in (ROOT / "shared/src/webhooks.rs").read_text()


def test_inbound_and_outbound_signing_never_share_a_secret():
    """Round three: the provider's webhooks to us and our refund requests
    to it are signed with different secrets, each given only to the one
    function that uses it."""
    holders: dict[str, set[str]] = {}
    for function, props in template_functions().items():
        for value in props.get("Environment", {}).get("Variables", {}).values():
            if isinstance(value, dict) and value.get("Ref") in ("PaymentWebhookSecret", "RefundRequestSecret"):
                holders.setdefault(value["Ref"], set()).add(function)
    assert holders == {
        "PaymentWebhookSecret": {"payment-webhook"},
        "RefundRequestSecret": {"refunds-worker"},
    }


def test_the_cursor_key_goes_only_to_functions_that_sign_cursors():
    """A function that pages signs its cursors; no other holds the key."""
    template = stack.load_template()
    assert "CURSOR_SECRET" not in template["Globals"]["Function"]["Environment"]["Variables"]
    holders = {
        function
        for function, props in template_functions().items()
        if "CURSOR_SECRET" in props.get("Environment", {}).get("Variables", {})
    }
    signers = {
        path.parent.parent.name
        for path in (ROOT / "functions").glob("*/src/*.rs")
        if "cursor_key" in path.read_text()
    }
    assert holders == signers


def test_the_architecture_page_names_everything_the_template_deploys():
    """docs/ARCHITECTURE.md is the newcomer's map: every function, queue,
    schedule and table the template deploys appears on it by name."""
    import re

    page = (ROOT / "docs/ARCHITECTURE.md").read_text()
    template = stack.load_template()
    names = set(stack.template_functions())
    names |= set(stack.resources_of(template, "AWS::SQS::Queue"))
    names |= set(stack.resources_of(template, "AWS::DynamoDB::Table"))
    names |= set(stack.resources_of(template, "AWS::CloudWatch::Alarm"))
    missing = sorted(n for n in names if not re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", page))
    assert not missing, f"docs/ARCHITECTURE.md does not name: {missing}"


def test_the_readme_is_a_newcomers_first_screen_and_no_link_leaves_the_repository():
    """README.md says what this is and gives the two commands with what they
    print on its first screen; its links stay in the repository (the only
    URLs are the local stack's), and every relative link in it and in docs/
    names a file that exists."""
    import re

    readme = (ROOT / "README.md").read_text()
    first_screen = "\n".join(readme.splitlines()[:30])
    for needed in ("make dev", "make test", "ready: http://127.0.0.1:3000", "passed"):
        assert needed in first_screen, f"the README's first screen lacks {needed!r}"
    assert len(readme.splitlines()) <= 120, "the README is a first screen and a map; detail goes to docs/"
    urls = re.findall(r"https?://[^\s)\"'`]+", readme)
    assert all(u.startswith("http://127.0.0.1:") for u in urls), urls
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"(https?:|#|mailto:)", target):
                continue
            resolved = (page.parent / target.split("#")[0]).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_no_function_crate_depends_on_another():
    """Each function builds alone: no function crate's dependencies name
    another function. The OpenAPI document, which gathers every route, is
    generated by a tool crate (tools/openapi-doc). A test may name another
    function's handler, for tests only, where its manifest says why."""
    import tomllib

    functions = {p.name for p in (ROOT / "functions").iterdir() if (p / "Cargo.toml").exists()}
    crossing, unexplained = [], []
    for name in sorted(functions):
        text = (ROOT / "functions" / name / "Cargo.toml").read_text()
        manifest = tomllib.loads(text)
        for dep in manifest.get("dependencies", {}):
            if dep in functions:
                crossing.append(f"{name} -> {dep}")
        for dep in manifest.get("dev-dependencies", {}):
            if dep in functions and "# The one test that crosses functions" not in text:
                unexplained.append(f"{name} (dev) -> {dep}")
    assert not crossing, crossing
    assert not unexplained, unexplained


def test_every_function_wires_its_dependencies_one_way():
    """One way to wire a function: its lib.rs declares the `Deps` it needs,
    its main.rs builds them once at init and hands `&deps` to the handler,
    which tests call with their own. Only health and docs need nothing."""
    import re

    needs_nothing = {"health", "docs"}
    odd = []
    for crate in sorted(p for p in (ROOT / "functions").iterdir() if (p / "Cargo.toml").exists()):
        lib = (crate / "src/lib.rs").read_text()
        main = (crate / "src/main.rs").read_text()
        if crate.name in needs_nothing:
            if "Deps" in lib or "Deps" in main:
                odd.append(f"{crate.name}: needs nothing, yet has Deps")
            continue
        if not re.search(r"^pub struct Deps\b", lib, re.M):
            odd.append(f"{crate.name}: lib.rs declares no `pub struct Deps`")
        if not re.search(r"let deps = Deps(::new\(| \{)", main):
            odd.append(f"{crate.name}: main.rs does not build `Deps`")
        if not re.search(r"\(&deps\b", main):
            odd.append(f"{crate.name}: main.rs does not hand `&deps` to the handler")
    assert not odd, odd
