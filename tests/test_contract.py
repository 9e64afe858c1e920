"""What is deployed and what runs locally are the same thing: the watch
router in Cargo.toml, the template's HttpApi events, the function folders
and the sample events must all agree. No stack needed."""

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


def test_every_function_folder_is_deployed_and_has_a_sample_event():
    folders = {p.name for p in (ROOT / "functions").iterdir() if p.is_dir()}
    assert folders == set(template_functions())
    for name in folders:
        event = json.loads((ROOT / "events" / f"{name}.json").read_text())
        assert event["version"] == "2.0", name
