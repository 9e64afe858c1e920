#!/usr/bin/env python3
"""The local stack: DynamoDB/SQS emulator, seeded data, and every function
under `cargo lambda watch`, serving the template's routes.

    stack.py emulator [--port 0] [--table NAME]
        Starts moto single-threaded, creates the table and queues that
        template.yaml declares, prints `emulator ready: <url>`, and runs until
        its stdin closes (so it dies with whatever started it) or it is killed.

    stack.py keygen
        Prints a new Ed25519 key pair (private JWK for SSM, public JWKS for
        the template's JwtJwks parameter) for a deployment.

    stack.py dev [--port 3000] [--emulator-port 4566] [--state-dir .local/dev]
                 [--ignore-changes] [--instances 16] [--worker-instances 5]
                 [--idle-after 30] [--queue-deadline 30]
        What `make dev` runs. Prints `ready: http://127.0.0.1:<port>` once every
        route answers; Ctrl-C stops every process it started. Function
        instances are a bounded pool (tools/pool.py) beside `cargo lambda
        watch`; a source change is rebuilt and picked up unless
        --ignore-changes (the tests).

moto's default threaded server corrupts state under concurrent requests, so
it is served with werkzeug's single-threaded server. Everything the stack
writes goes under the git-ignored .local/ folder: `cargo lambda watch`
restarts every function when a tracked file changes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The venv this script runs in holds cargo-lambda too (see the Makefile).
VENV_BIN = Path(sys.executable).parent
REGION = "us-east-1"
DEFAULT_TABLE = "quiet-engine"
# Dummy credentials: the emulator accepts anything, but the SDK must sign.
# A function instance signs with its own name instead (tools/watch-cargo),
# so the emulator can tell whose call it serves (tools/iam.py).
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


def log(message: str) -> None:
    print(f"stack: {message}", file=sys.stderr, flush=True)


# --- template ---------------------------------------------------------------


def load_template() -> dict:
    """template.yaml as CloudFormation reads it: the short intrinsic tags
    (`!Ref`, `!GetAtt A.B`, `!Sub`) become their long forms. PyYAML, not
    cfn-lint's decoder: that one imports sympy and the whole rule set, which
    cost every emulator start (one per Rust test binary) seconds of CPU.
    cfn-lint still checks the template in `make lint`."""
    import yaml

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        pass

    def intrinsic(loader, suffix: str, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", intrinsic)
    try:
        with open(ROOT / "template.yaml", encoding="utf-8") as file:
            return yaml.load(file, Loader=Loader)
    except yaml.YAMLError as error:
        raise SystemExit(f"template.yaml does not parse: {error}") from None


def resources_of(template: dict, kind: str) -> dict[str, dict]:
    return {
        name: resource.get("Properties", {})
        for name, resource in template.get("Resources", {}).items()
        if resource.get("Type") == kind
    }


def create_resources(endpoint: str, table_name: str, visibility_timeout: int | None = None) -> None:
    """Creates exactly the tables and queues template.yaml declares.

    `visibility_timeout` overrides the template's (minutes in AWS, sized to
    the workers' timeouts) so that locally a failed message reappears in
    seconds and a poison message reaches its DLQ within a test's patience."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name=REGION
    )
    template = load_template()

    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    tables = resources_of(template, "AWS::DynamoDB::Table")
    if len(tables) != 1:
        raise SystemExit(f"expected one table in template.yaml, found {len(tables)}")
    for props in tables.values():
        spec = {
            key: props[key]
            for key in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")
            if key in props
        }
        dynamodb.create_table(
            TableName=table_name, BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"), **spec
        )
        if "TimeToLiveSpecification" in props:
            dynamodb.update_time_to_live(
                TableName=table_name, TimeToLiveSpecification=props["TimeToLiveSpecification"]
            )

    # Queues are named after their logical ids; DLQs first, so a redrive
    # policy's Fn::GetAtt can be resolved to an ARN that exists.
    sqs = session.client("sqs", endpoint_url=endpoint)
    queues = resources_of(template, "AWS::SQS::Queue")
    arns: dict[str, str] = {}
    for name, props in sorted(queues.items(), key=lambda kv: "RedrivePolicy" in kv[1]):
        attributes = {
            key: str(props[key])
            for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
            if key in props
        }
        if visibility_timeout is not None and "VisibilityTimeout" in props:
            attributes["VisibilityTimeout"] = str(visibility_timeout)
        if "RedrivePolicy" in props:
            policy = dict(props["RedrivePolicy"])
            target = policy["deadLetterTargetArn"]
            if isinstance(target, dict) and "Fn::GetAtt" in target:
                policy["deadLetterTargetArn"] = arns[target["Fn::GetAtt"][0]]
            attributes["RedrivePolicy"] = json.dumps(policy)
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arns[name] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]


# --- keys -------------------------------------------------------------------

SIGNING_KEY_PARAMETER = "/quiet-engine/jwt-signing-key"
TOKEN_ISSUER = "quiet-engine"
TOKEN_AUDIENCE = "quiet-engine-api"


def b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_signing_key() -> tuple[dict, dict]:
    """A fresh Ed25519 key pair as (private JWK, public JWKS). Generated at
    every start and never written anywhere git tracks."""
    import hashlib

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    raw = serialization.Encoding.Raw
    d = key.private_bytes(raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    x = key.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
    public = {
        "kty": "OKP",
        "crv": "Ed25519",
        "kid": "local-" + hashlib.sha256(x).hexdigest()[:12],
        "x": b64url(x),
        "alg": "EdDSA",
        "use": "sig",
    }
    return dict(public, d=b64url(d)), {"keys": [public]}


def store_signing_key(endpoint: str, private_jwk: dict) -> None:
    import boto3

    ssm = boto3.client(
        "ssm", endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id="local", aws_secret_access_key="local",
    )
    ssm.put_parameter(
        Name=SIGNING_KEY_PARAMETER, Type="SecureString",
        Value=json.dumps(private_jwk), Overwrite=True,
    )


# --- emulator ---------------------------------------------------------------


def scale_moto() -> None:
    """Makes moto's Query and TransactWriteItems cost what the touched items
    cost, not what the whole table costs; the results are unchanged.

    moto 5.2.5 answers every Query by sorting every item of the table, and
    snapshots the whole table with deepcopy once per item of a
    TransactWriteItems, to roll back. A full `make test` grows the table to
    tens of thousands of items, so late requests took seconds (measured:
    Query 10 ms at 1,000 items, 450 ms at 40,000) and one sign-up in a CI
    run timed out after 30 s. Here Query starts from the items whose
    partition key matches (all of one partition of the table, or the index
    items with that key value), and a transaction snapshots only the items
    it names and puts them back if it is cancelled.
    """
    import copy

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    query = Table.query
    transact_write_items = DynamoDBBackend.transact_write_items

    def sort(table: Table, items: list) -> list:
        # The order moto's own all_items() hands to query.
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    def matching(table: Table, hash_key, index_name, hash_key_conditions) -> list | None:
        if index_name is None:
            if hash_key is None:
                return None
            partition = table.items.get(hash_key)
            if partition is None:
                return []
            return list(partition.values()) if table.range_key_attr else [partition]
        if not hash_key_conditions:
            return None
        found = []
        for partition in table.items.values():
            for item in partition.values() if table.range_key_attr else [partition]:
                for name, expected in hash_key_conditions:
                    value = item.attrs.get(name)
                    # Strings compare by value; numbers by moto's own rule.
                    if value is None or value.type != expected.type:
                        break
                    if value.value != expected.value and (value.type != "N" or value != expected):
                        break
                else:
                    found.append(item)
        return found

    def scaled_query(self, hash_key, *args, **kwargs):
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        candidates = matching(self, hash_key, index_name, kwargs.get("hash_key_conditions"))
        if candidates is None:
            return query(self, hash_key, *args, **kwargs)
        self.all_items = lambda: sort(self, candidates)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    def scaled_transact_write_items(self, transact_items):
        saved = []
        for entry in transact_items:
            try:
                op_type, op = next(iter(entry.items()))
                table = self.tables[op["TableName"]]
                key = op["Item"] if op_type == "Put" else op["Key"]
                hash_key = DynamoType(key[table.hash_key_attr])
                range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            except (KeyError, StopIteration, AttributeError, TypeError):
                continue  # moto rejects the entry itself, before it changes anything
            before = table.get_item(hash_key, range_key)
            saved.append((table, hash_key, range_key, copy.deepcopy(before)))
        # moto's own whole-table snapshot becomes the live table: its
        # "rollback" is then a no-op and the saved items do the work.
        Table.__deepcopy__ = lambda table, memo: table
        try:
            return transact_write_items(self, transact_items)
        except Exception:
            for table, hash_key, range_key, before in reversed(saved):
                if range_key is None:
                    table.items.pop(hash_key, None)
                    if before is not None:
                        table.items[hash_key] = before
                else:
                    table.items[hash_key].pop(range_key, None)
                    if before is not None:
                        table.items[hash_key][range_key] = before
                    elif not table.items[hash_key]:
                        del table.items[hash_key]
            raise
        finally:
            del Table.__deepcopy__

    Table.query = scaled_query
    DynamoDBBackend.transact_write_items = scaled_transact_write_items


def cache_moto_lookups() -> None:
    """Does once what moto 5.2.5 does on every request though the answer
    never changes: list its own package directory (stat() of ~200 entries,
    twice per request, to route by Host) and collect a response class's
    method names with inspect.getmembers (to find the action's handler).
    Under cProfile in the end-to-end suite that was a sixth of the
    emulator's time; a GetItem took 2.2 ms of its CPU instead of 2.4."""
    import functools

    from moto import backends
    from moto.core import responses

    modules = frozenset(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    method_names = responses.method_names_from_class
    responses.method_names_from_class = functools.cache(
        lambda clazz: frozenset(method_names(clazz))
    )


# Every AWS call each function made, as IAM authorises it (tools/iam.py).
CALL_LOG = "aws-calls.jsonl"

# Not an AWS API: what the local event source mappings ask before they
# poll (see QueuePoller).
VISIBLE_MESSAGES_PATH = "/_local/visible-messages"


def with_visible_messages(app):
    """`app`, plus GET VISIBLE_MESSAGES_PATH: {queue name: messages a
    ReceiveMessage would return now}, read from moto's SQS backend. One
    cheap request replaces a ReceiveMessage per queue per poll, which idle
    cost the emulator 11% of a core and the pollers 6% (measured over 30 s
    of an idle stack)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    def serve(environ, start_response):
        if environ.get("PATH_INFO") != VISIBLE_MESSAGES_PATH:
            return app(environ, start_response)
        queues = sqs_backends[DEFAULT_ACCOUNT_ID][REGION].queues
        body = json.dumps(
            {name: queue.approximate_number_of_messages for name, queue in queues.items()}
        ).encode()
        start_response("200 OK", [
            ("content-type", "application/json"), ("content-length", str(len(body))),
        ])
        return [body]

    return serve


def partition_keys(table_name: str) -> dict[str, str]:
    """The partition key attribute of the table and of each of its indexes
    (`<table>/index/<name>`), as template.yaml declares them."""
    (props,) = resources_of(load_template(), "AWS::DynamoDB::Table").values()

    def hash_key(schema: list) -> str:
        return next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")

    found = {table_name: hash_key(props["KeySchema"])}
    for index in props.get("GlobalSecondaryIndexes", []):
        found[f"{table_name}/index/{index['IndexName']}"] = hash_key(index["KeySchema"])
    return found


def serve_emulator(port: int, call_log: Path | None = None, table_name: str = DEFAULT_TABLE) -> str:
    """moto, single-threaded, in a daemon thread of this process; its URL.
    With `call_log`, every call a function makes is recorded there the way
    IAM authorises it (tools/iam.py checks them against template.yaml)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    scale_moto()
    cache_moto_lookups()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = with_visible_messages(DomainDispatcherApplication(create_backend_app))
    if call_log is not None:
        from iam import CallLog

        app = CallLog(app, call_log, table_name, partition_keys(table_name))
    server = make_server("127.0.0.1", port, app, threaded=False, processes=1)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def emulator(args: argparse.Namespace) -> None:
    endpoint = serve_emulator(args.port, args.call_log, args.table)
    create_resources(endpoint, args.table, args.visibility_timeout)
    print(f"emulator ready: {endpoint}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Exit when whoever started us goes away (their end of stdin closes).
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass


# --- event sources ----------------------------------------------------------


def template_functions() -> dict[str, dict]:
    """Function folder name -> properties, for every function in the template."""
    return {
        Path(props["CodeUri"]).name: props
        for props in resources_of(load_template(), "AWS::Serverless::Function").values()
    }


def function_variables(endpoint: str, values: dict[str, str]) -> dict[str, dict[str, str]]:
    """Function -> the variables its own template entry declares, with their
    local values: a queue's local URL, else the stack's value for that name
    (`values`), else the template's literal. Per function, as deployed: one
    name (DEAD_LETTER_QUEUE_URL) names another queue in each worker, and a
    function whose entry lacks a variable it reads (a queue, the cursor key,
    a secret) fails here as it would deployed."""
    template = load_template()
    queues = resources_of(template, "AWS::SQS::Queue")
    variables: dict[str, dict[str, str]] = {}
    for function, props in template_functions().items():
        for name, value in props.get("Environment", {}).get("Variables", {}).items():
            if isinstance(value, dict) and value.get("Ref") in queues:
                local = f"{endpoint}/123456789012/{value['Ref']}"
            elif name in values:
                local = values[name]
            elif isinstance(value, (str, int)):
                local = str(value)
            else:
                raise SystemExit(f"stack: no local value for {function}'s {name}")
            variables.setdefault(function, {})[name] = local
    return variables


def split_env(env: dict[str, str], endpoint: str) -> dict[str, dict[str, str]]:
    """Takes every variable some function declares for itself out of `env`
    (which every instance gets) and returns them per function."""
    per_function = function_variables(endpoint, env)
    for variables in per_function.values():
        for name in variables:
            env.pop(name, None)
    return per_function


def write_function_envs(directory: Path, per_function: dict[str, dict[str, str]]) -> None:
    """One `NAME=value` file per function with the variables only it has;
    tools/watch-cargo exports its function's file before starting it."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    for function, variables in per_function.items():
        (directory / f"{function}.env").write_text(
            "".join(f"{name}={value}\n" for name, value in sorted(variables.items()))
        )


def sqs_event_sources() -> list[dict]:
    """One entry per SQS event in the template: function, queue, batch size,
    and whether the function reports partial batch failures."""
    mappings = []
    for function, props in template_functions().items():
        for event in props.get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            queue = event["Properties"]["Queue"]["Fn::GetAtt"][0]
            scaling = event["Properties"].get("ScalingConfig", {})
            mappings.append({
                "function": function,
                "queue": queue,
                "batch_size": min(10, int(event["Properties"].get("BatchSize", 10))),
                # Lambda runs up to this many batches of the queue at once
                # (without it, as many as the queue holds; locally the
                # worker's instance bound caps it either way).
                "concurrency": int(scaling.get("MaximumConcurrency", 1000)),
                "partial": "ReportBatchItemFailures"
                in event["Properties"].get("FunctionResponseTypes", []),
            })
    return mappings


def scheduled_functions() -> list[str]:
    return [
        function
        for function, props in template_functions().items()
        for event in props.get("Events", {}).values()
        if event["Type"] in ("Schedule", "ScheduleV2")
    ]


def invoke_function(invoke_base: str, function: str, payload: dict, timeout: float = 120) -> tuple[bool, object]:
    """Invokes a function through `cargo lambda watch`'s Lambda API; (ok, result)."""
    request = urllib.request.Request(
        f"{invoke_base}/2015-03-31/functions/{function}/invocations",
        data=json.dumps(payload).encode(), method="POST",
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except (OSError, urllib.error.HTTPError) as error:
        return False, str(error)
    try:
        result = json.loads(body) if body else None
    except ValueError:
        return False, body[:200]
    if isinstance(result, dict) and "errorType" in result:
        return False, result
    return True, result


class QueuePoller:
    """A local event source mapping: polls one queue when watch_queues says
    it holds messages (Lambda long-polls; moto here cannot), invokes the
    function with batches of up to 10 messages in Lambda's SQS event shape,
    deletes only the messages that succeeded, and leaves the rest to
    reappear after the visibility timeout (SQS then moves a message that
    keeps failing to its DLQ). A failed invocation deletes nothing, as in
    AWS. Up to the mapping's MaximumConcurrency batches run at once, as
    Lambda runs them."""

    def __init__(self, endpoint: str, invoke_base: str, mapping: dict, log_file, stopping: threading.Event):
        import boto3

        # Set by watch_queues while the queue has visible messages.
        self.ready = threading.Event()

        self.sqs = boto3.client(
            "sqs", endpoint_url=endpoint, region_name=REGION,
            aws_access_key_id="local", aws_secret_access_key="local",
        )
        self.invoke_base = invoke_base
        self.mapping = mapping
        self.log_file = log_file
        self.stopping = stopping
        self.url = self.sqs.get_queue_url(QueueName=mapping["queue"])["QueueUrl"]
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]

    def record(self, message: dict) -> dict:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value.get("DataType", "String"),
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.arn,
            "awsRegion": REGION,
        }

    def note(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.log_file.write(f"{stamp} {self.mapping['queue']} -> {self.mapping['function']}: {text}\n")

    def run(self) -> None:
        """Receives a batch whenever one of the mapping's `concurrency`
        invocations is free, and runs each batch in a thread of its own."""
        free = threading.Semaphore(self.mapping["concurrency"])
        while not self.stopping.is_set():
            free.acquire()
            try:
                received = self.receive()
            except Exception as error:  # the emulator stopping, mostly
                if self.stopping.is_set():
                    return
                self.note(f"poll failed: {error!r}")
                received = []
            if received:
                threading.Thread(
                    target=self.deliver, args=(received, free), daemon=True,
                    name=f"esm-{self.mapping['function']}-batch",
                ).start()
                continue
            free.release()
            # No long polling: moto is served single-threaded, and a
            # waiting receive would hold every other request up.
            # watch_queues says when there is something to receive.
            self.ready.wait()
            self.ready.clear()

    def receive(self) -> list[dict]:
        return self.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=self.mapping["batch_size"],
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def deliver(self, received: list[dict], free: threading.Semaphore) -> None:
        try:
            self.invoke(received)
        except Exception as error:  # the emulator stopping, mostly
            if not self.stopping.is_set():
                self.note(f"batch failed: {error!r}")
        finally:
            free.release()

    def invoke(self, received: list[dict]) -> None:
        began = time.monotonic()
        ok, result = invoke_function(
            self.invoke_base, self.mapping["function"],
            {"Records": [self.record(m) for m in received]},
        )
        took = f"{time.monotonic() - began:.2f} s"
        if not ok:
            self.note(f"{len(received)} messages, invocation failed after {took}: {result}")
            return
        failed = set()
        if self.mapping["partial"] and isinstance(result, dict):
            failed = {f.get("itemIdentifier") for f in result.get("batchItemFailures") or []}
        done = [m for m in received if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start:start + 10])
                ],
            )
        self.note(f"{len(received)} messages in {took}, {len(failed)} failed: {sorted(failed)}")


def watch_queues(endpoint: str, pollers: list[QueuePoller], stopping: threading.Event) -> None:
    """Wakes each poller whose queue has visible messages, every 0.1 s: the
    local stand-in for long polling. Where the emulator cannot say, every
    poller is woken, and they poll as if there were no hint."""
    url = endpoint + VISIBLE_MESSAGES_PATH
    while not stopping.wait(0.1):
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                visible = json.load(response)
            if not isinstance(visible, dict):
                visible = None
        except Exception:  # the emulator stopping, mostly
            visible = None
        for poller in pollers:
            if visible is None or visible.get(poller.mapping["queue"], 0) > 0:
                poller.ready.set()
    for poller in pollers:
        poller.ready.set()  # so that each sees `stopping` and returns


def run_schedule(invoke_base: str, function: str, period: float, log_file, stopping: threading.Event) -> None:
    """A local EventBridge schedule: invokes `function` every `period` s."""
    while not stopping.wait(period):
        payload = {
            "version": "0", "id": secrets.token_hex(16),
            "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": REGION, "resources": [], "detail": {},
        }
        ok, result = invoke_function(invoke_base, function, payload)
        if not ok or (isinstance(result, dict) and any(result.values())):
            log_file.write(f"{time.strftime('%H:%M:%S')} schedule {function}: ok={ok} {result}\n")


# --- dev --------------------------------------------------------------------


def routes() -> list[tuple[str, str, str]]:
    """(method, path, function) from the workspace's watch router."""
    manifest = tomllib.loads((ROOT / "Cargo.toml").read_text())
    router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
    return [
        (entry["method"], path, entry["function"])
        for path, entries in router.items()
        for entry in entries
    ]


def router_manifest(directory: Path) -> Path:
    """A stand-in Cargo.toml for `cargo lambda watch --only-lambda-apis`:
    the workspace's router and one bin per function, and nothing else.

    watch reads its manifest with `cargo metadata` (dependencies resolved,
    about 0.5 s against the repo) and, from its folder, takes the functions
    it serves; here that costs next to nothing. It builds nothing: the
    fleet (tools/pool.py) starts the workspace's binaries."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.rs").write_text("fn main() {}\n")
    lines = [
        "# Written by tools/stack.py for cargo lambda watch; not a crate anyone builds.",
        "[package]", 'name = "local-router"', 'version = "0.0.0"', 'edition = "2021"',
        "publish = false", "",
    ]
    for function in sorted(template_functions()):
        lines += ["[[bin]]", f"name = {json.dumps(function)}", 'path = "main.rs"', ""]
    # Its own workspace, or cargo would look for one upwards and find ours.
    lines += ["[workspace]", "", "[workspace.metadata.lambda.watch.router]"]
    by_path: dict[str, list[str]] = {}
    for method, path, function in routes():
        by_path.setdefault(path, []).append(
            f"{{ method = {json.dumps(method)}, function = {json.dumps(function)} }}"
        )
    lines += [f"{json.dumps(path)} = [{', '.join(entries)}]" for path, entries in by_path.items()]
    target = directory / "Cargo.toml"
    target.write_text("\n".join(lines) + "\n")
    return target


def free_port() -> int:
    """A loopback port nobody listens on now (for watch, behind the fleet)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def function_settings(name: str, default: int) -> dict[str, int]:
    """Each function's setting (Timeout, MemorySize): its own, else the
    template's Globals, else Lambda's default. One read of the template."""
    template = load_template()
    fallback = template.get("Globals", {}).get("Function", {}).get(name, default)
    return {
        Path(props["CodeUri"]).name: int(props.get(name, fallback))
        for props in resources_of(template, "AWS::Serverless::Function").values()
    }


def longest_timeout() -> int:
    return max(function_settings("Timeout", 3).values())


# What a rebuild depends on (tools/watch-cargo checks the same).
SOURCES = ("Cargo.toml", "Cargo.lock", "shared", "functions", "tools")


def source_stamp() -> tuple[int, float]:
    """(files, newest modification) of SOURCES: changes when one does."""
    count, newest = 0, 0.0
    pending = [ROOT / name for name in SOURCES]
    while pending:
        path = pending.pop()
        try:
            if path.is_dir():
                if path.name != "__pycache__":
                    pending.extend(path.iterdir())
                continue
            newest = max(newest, path.stat().st_mtime)
            count += 1
        except OSError:
            continue  # removed while we looked
    return count, newest


def rebuild_on_change(fleet, env: dict[str, str], stopping: threading.Event) -> None:
    """make dev: when a source changes, builds once and has the fleet stop
    every instance started before (each once idle), so the next request
    runs the new code. One watcher for the stack, once a second; watch's
    way was a recursive watcher per instance."""
    stamp = source_stamp()
    while not stopping.wait(1.0):
        now = source_stamp()
        if now == stamp:
            continue
        stamp = now
        log("source changed: rebuilding, then restarting instances")
        build = subprocess.run(
            [str(ROOT / "tools" / "watch-cargo"), "run", "--bin", "health"],
            env=dict(env, QUIET_BUILD_ONLY="1"), cwd=ROOT,
        )
        if build.returncode != 0:
            log("build failed (see above); instances keep running the last build")
            continue
        fleet.source_changed()
        log("rebuilt; instances restart as they go idle")


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def route_answers(base: str, method: str, path: str) -> bool:
    """A route answers when one of our functions produced the response:
    every response of ours carries x-request-id, whatever its status."""
    probe = re.sub(r"\{[^}]+\}", "READY-PROBE", path)
    request = urllib.request.Request(base + probe, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return "x-request-id" in response.headers
    except urllib.error.HTTPError as error:
        return "x-request-id" in error.headers
    except OSError:
        return False


class LocalProvider(threading.Thread):
    """The payment provider's refunds endpoint, for `make dev` only: accepts
    a signed refund (202, once per Idempotency-Key) and a moment later sends
    the signed `refund.succeeded` webhook back, as a real provider would.
    The end-to-end tests run their own provider on this port instead, so
    they can take it down on purpose."""

    def __init__(self, port: int, api_base: str, secret: str, request_secret: str, log_file):
        super().__init__(daemon=True, name="local-provider")
        import http.server

        seen: set[str] = set()
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                key = self.headers.get("idempotency-key", "")
                if not provider.signed(self.headers.get("payment-signature", ""), body):
                    self.send_response(401)
                    self.end_headers()
                    return
                self.send_response(202)
                self.end_headers()
                if key not in seen:
                    seen.add(key)
                    threading.Timer(1.0, provider.settle, args=(json.loads(body),)).start()

            def log_message(self, fmt, *args):
                log_file.write(f"{time.strftime('%H:%M:%S')} provider: {fmt % args}\n")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.api_base = api_base
        self.secret = secret.encode()
        self.request_secret = request_secret.encode()

    def sign(self, body: bytes) -> str:
        import hmac

        stamp = int(time.time())
        digest = hmac.new(self.secret, f"{stamp}.".encode() + body, "sha256").hexdigest()
        return f"t={stamp},v1={digest}"

    def signed(self, header: str, body: bytes) -> bool:
        import hmac

        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        expected = hmac.new(
            self.request_secret, f"{parts.get('t', '')}.".encode() + body, "sha256"
        ).hexdigest()
        return hmac.compare_digest(expected, parts.get("v1", ""))

    def settle(self, refund: dict) -> None:
        event = {
            "id": f"evt_local_{secrets.token_hex(8)}",
            "type": "refund.succeeded",
            "order_id": refund["order_id"],
            "refund_id": refund["refund_id"],
            "amount": refund["amount"],
            "currency": refund["currency"],
        }
        body = json.dumps(event).encode()
        request = urllib.request.Request(
            f"{self.api_base}/v1/payments/webhook", data=body, method="POST",
            headers={"content-type": "application/json", "payment-signature": self.sign(body)},
        )
        try:
            urllib.request.urlopen(request, timeout=30).read()
        except OSError:
            pass  # the API answers it again when the refund is resent

    def run(self) -> None:
        self.server.serve_forever()


def function_env(endpoint: str, table: str, state: Path, provider_port: int) -> dict[str, str]:
    """Environment of every local function instance: the template's
    variables pointed at the emulator, with keys and secrets made up here."""
    private_jwk, jwks = new_signing_key()
    store_signing_key(endpoint, private_jwk)
    # For tests that forge tokens; the state dir is git-ignored.
    (state / "jwt-signing-key.json").write_text(json.dumps(private_jwk))
    env = dict(os.environ)
    env.update(LOCAL_CREDENTIALS)
    env.update(
        {
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
            "TABLE_NAME": table,
            # Generated per run, never committed: cursors from an earlier
            # run are rejected, as they would be after a key rotation.
            "CURSOR_SECRET": secrets.token_hex(32),
            "JWT_ISSUER": TOKEN_ISSUER,
            "JWT_AUDIENCE": TOKEN_AUDIENCE,
            "JWT_JWKS": json.dumps(jwks),
            "JWT_SIGNING_KEY_PARAMETER": SIGNING_KEY_PARAMETER,
            # The provider's shared secrets, local defaults, dev only: one
            # for its webhooks to us, another for our refund requests to it
            # (one leaked secret must not let anyone do both).
            "PAYMENT_WEBHOOK_SECRET": env.get("PAYMENT_WEBHOOK_SECRET", "whsec_local_dev"),
            "REFUND_REQUEST_SECRET": env.get("REFUND_REQUEST_SECRET", "rrsec_local_dev"),
            # Plain HTTP is allowed to loopback only (the worker refuses
            # anything else that is not https).
            "REFUND_PROVIDER_URL": f"http://127.0.0.1:{provider_port}/refunds",
            # Async work: the template's values, except where a local
            # run wants seconds rather than minutes (overridable).
            "ORDER_PAYMENT_TTL": env.get("ORDER_PAYMENT_TTL", "900"),
            "OUTBOX_RESEND_AFTER": env.get("OUTBOX_RESEND_AFTER", "10"),
            # Merchant webhooks: the tests' receivers listen on loopback,
            # which only this dev-only setting lets deliveries reach (never
            # set in template.yaml); retries in seconds, not hours.
            "DEV_WEBHOOK_ALLOW_LOOPBACK": "1",
            "WEBHOOK_RETRY_SCHEDULE": env.get("WEBHOOK_RETRY_SCHEDULE", "1,1,2,2"),
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": env.get("AWS_LAMBDA_LOG_LEVEL", "INFO"),
        }
    )
    # Each function's own variables (its queues) come from its file in
    # the state dir (Stack.run writes them, tools/watch-cargo reads them).
    env["QUIET_FUNCTION_ENV"] = str(state / "function-env")
    return env


class Stack:
    """The processes of one local stack, stopped together."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.state = (ROOT / args.state_dir).resolve()
        self.pidfile = self.state / "stack.pid"
        self.children: list[subprocess.Popen] = []
        self.stopping = threading.Event()
        self.fleet = None
        self.front = None

    def claim(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        if self.pidfile.exists():
            try:
                pid = int(self.pidfile.read_text().split()[0])
            except (ValueError, IndexError):
                pid = 0
            if pid and pid != os.getpid() and pid_alive(pid):
                raise SystemExit(
                    f"stack: a local stack is already running (pid {pid}, state in "
                    f"{self.state.relative_to(ROOT)}). Use it, or stop it with Ctrl-C "
                    f"in its terminal (or `kill {pid}`) before starting another."
                )
        for port in (self.args.port, self.args.emulator_port):
            if port and port_in_use(port):
                raise SystemExit(
                    f"stack: port {port} is already in use by another program; "
                    "stop it or choose another port (PORT=... / EMULATOR_PORT=...)."
                )
        self.pidfile.write_text(f"{os.getpid()}\n")

    def spawn(self, argv: list[str], log_name: str, **kwargs) -> subprocess.Popen:
        """Starts a child in its own session (so Ctrl-C reaches us, and we
        stop it whole) with its output appended to a log under the state dir."""
        log_file = open(self.state / log_name, "ab")
        kwargs.setdefault("stdout", log_file)
        kwargs.setdefault("cwd", ROOT)
        child = subprocess.Popen(argv, stderr=log_file, start_new_session=True, **kwargs)
        self.children.append(child)
        return child

    def stop(self) -> None:
        self.stopping.set()
        if self.front is not None:
            self.front.shutdown()
        if self.fleet is not None:
            self.fleet.stop()
        for child in reversed(self.children):
            if child.poll() is None:
                try:
                    os.killpg(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for child in self.children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        if self.pidfile.exists() and self.pidfile.read_text().split()[:1] == [str(os.getpid())]:
            self.pidfile.unlink()

    def start_emulator(self) -> str:
        child = self.spawn(
            [sys.executable, str(Path(__file__).resolve()), "emulator",
             "--port", str(self.args.emulator_port), "--table", self.args.table,
             "--visibility-timeout", str(self.args.visibility_timeout),
             "--call-log", str(self.state / CALL_LOG)],
            "emulator.log",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("emulator ready: "):
                return line.split(": ", 1)[1].strip()
        raise SystemExit(f"stack: the emulator failed; see {self.state / 'emulator.log'}")

    def start_fleet(self, env: dict[str, str], watch_port: int):
        """The bounded pool of function instances (tools/pool.py): at most
        --instances per HTTP function and --worker-instances per worker."""
        from pool import Fleet

        http_functions = {function for _, _, function in routes()}
        functions = template_functions()
        bounds = {
            name: self.args.instances if name in http_functions else self.args.worker_instances
            for name in functions
        }
        instance_log = open(self.state / "watch.log", "ab")
        fleet_log = open(self.state / "fleet.log", "a", buffering=1)
        argv = {name: [str(ROOT / "tools" / "watch-cargo"), "run", "--bin", name] for name in functions}
        memory = function_settings("MemorySize", 128)
        envs = {
            name: dict(
                env,
                # What Lambda (and watch) tell an instance about itself.
                AWS_LAMBDA_RUNTIME_API=f"http://127.0.0.1:{watch_port}/.rt/{name}",
                AWS_LAMBDA_FUNCTION_NAME=name,
                AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
                AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(memory[name]),
            )
            for name in functions
        }

        def spawn(name: str) -> subprocess.Popen:
            # A session of its own: stopping it stops a build it started.
            return subprocess.Popen(
                argv[name], env=envs[name], cwd=ROOT, stdin=subprocess.DEVNULL,
                stdout=instance_log, stderr=instance_log, start_new_session=True,
            )

        def note(text: str) -> None:
            fleet_log.write(f"{time.strftime('%H:%M:%S')} {text}\n")

        fleet = Fleet(bounds, spawn, self.args.idle_after, self.args.queue_deadline, note)
        threading.Thread(target=fleet.keep, daemon=True, name="fleet-keeper").start()
        return fleet

    def serve_front(self, watch_port: int, timeout: int) -> None:
        from pool import front

        # Longer than watch's own timeout, so watch answers first.
        self.front = front(self.fleet, routes(), watch_port, self.args.port, timeout=timeout + 30)
        threading.Thread(target=self.front.serve_forever, daemon=True, name="front").start()

    def function_env(self, endpoint: str) -> dict[str, str]:
        return function_env(endpoint, self.args.table, self.state, self.provider_port())

    def provider_port(self) -> int:
        return self.args.provider_port or self.args.port + 1

    def run(self) -> int:
        args = self.args
        self.claim()
        endpoint = self.start_emulator()
        print(f"emulator: {endpoint}", flush=True)
        env = self.function_env(endpoint)
        values = dict(env)
        write_function_envs(Path(env["QUIET_FUNCTION_ENV"]), split_env(env, endpoint))

        log("building functions and tools")
        for step, argv in (
            ("build", ["cargo", "build", "--workspace", "--bins"]),
            ("seed", [str(ROOT / "target/debug/seed")]),
        ):
            if subprocess.run(argv, cwd=ROOT, env=env).returncode != 0:
                raise SystemExit(f"stack: {step} failed (see above)")

        # Instances start through tools/watch-cargo (see there), as the
        # functions they are: each with its own runtime API and name.
        env["QUIET_REAL_CARGO"] = shutil.which("cargo") or "cargo"
        env["CARGO"] = str(ROOT / "tools" / "watch-cargo")
        if args.ignore_changes:
            # Nothing will change: instances exec the binaries built above.
            env["QUIET_PREBUILT"] = "1"
        watch_port = free_port()
        self.fleet = self.start_fleet(env, watch_port)

        # watch serves the routes, the Invoke API and every runtime API,
        # and starts no instance itself (tools/pool.py says why). It works
        # from a stand-in manifest: it builds nothing, so it needs only the
        # router (and no file watcher or `cargo metadata` over the repo).
        router = self.state / "router"
        timeout = longest_timeout()
        watch = [
            "cargo-lambda", "lambda", "watch", "--only-lambda-apis",
            "--invoke-address", "127.0.0.1",
            "--invoke-port", str(watch_port),
            "--manifest-path", str(router_manifest(router)),
            # A function that never answers fails its invocation, as its
            # timeout would deployed (the longest in the template).
            "--timeout", str(timeout),
        ]
        log(f"starting cargo lambda watch (log: {self.state.relative_to(ROOT)}/watch.log)")
        # Function logs (JSON lines, one per request) land in watch.log too.
        watcher = self.spawn(watch, "watch.log", env=env, cwd=router)
        self.serve_front(watch_port, timeout)
        if not args.ignore_changes:
            threading.Thread(
                target=rebuild_on_change, args=(self.fleet, env, self.stopping),
                daemon=True, name="rebuild-on-change",
            ).start()

        base = f"http://127.0.0.1:{args.port}"
        pending = routes()
        deadline = time.monotonic() + args.ready_timeout
        while pending:
            if watcher.poll() is not None:
                raise SystemExit(f"stack: cargo lambda watch exited; see {self.state}/watch.log")
            if time.monotonic() > deadline:
                raise SystemExit(f"stack: routes never answered: {pending}")
            # A few at a time: each first request starts a function (and,
            # under make dev, the first of them waits for a build).
            with ThreadPoolExecutor(max_workers=6) as pool:
                answered = list(pool.map(lambda r: route_answers(base, r[0], r[1]), pending))
            pending = [r for r, ok in zip(pending, answered) if not ok]
            if pending:
                time.sleep(0.5)
        self.start_event_sources(endpoint)
        if not args.no_provider:
            LocalProvider(
                self.provider_port(), base, values["PAYMENT_WEBHOOK_SECRET"],
                values["REFUND_REQUEST_SECRET"],
                open(self.state / "events.log", "a", buffering=1),
            ).start()
            log(f"local payment provider on 127.0.0.1:{self.provider_port()}")
        print(f"ready: {base}", flush=True)
        return watcher.wait()

    def start_event_sources(self, endpoint: str) -> None:
        """What AWS runs beside the functions: an event source mapping per
        SQS event and a timer per schedule, as template.yaml declares them."""
        invoke_base = f"http://127.0.0.1:{self.args.port}"
        log_file = open(self.state / "events.log", "a", buffering=1)
        pollers = [
            QueuePoller(endpoint, invoke_base, mapping, log_file, self.stopping)
            for mapping in sqs_event_sources()
        ]
        for poller in pollers:
            poller.mapping["concurrency"] = min(
                poller.mapping["concurrency"], self.args.worker_instances
            )
            threading.Thread(
                target=poller.run, daemon=True, name=f"esm-{poller.mapping['function']}"
            ).start()
        threading.Thread(
            target=watch_queues, args=(endpoint, pollers, self.stopping),
            daemon=True, name="esm-watch",
        ).start()
        for function in scheduled_functions():
            threading.Thread(
                target=run_schedule,
                args=(invoke_base, function, self.args.schedule_period, log_file, self.stopping),
                daemon=True, name=f"schedule-{function}",
            ).start()
        log(f"event sources started (log: {self.state.relative_to(ROOT)}/events.log)")


def dev(args: argparse.Namespace) -> None:
    stack = Stack(args)

    def shutdown(*_):
        raise KeyboardInterrupt

    # Explicit for SIGINT too: a shell that starts us in the background
    # hands us SIGINT ignored, and Ctrl-C must still stop everything.
    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    try:
        code = stack.run()
    except KeyboardInterrupt:
        code = 0
    finally:
        stack.stop()
    sys.exit(code)


def keygen(_args: argparse.Namespace) -> None:
    """Prints a new key pair for a deployment: the private JWK for the SSM
    SecureString, and the public JWKS for the JwtJwks parameter."""
    private_jwk, jwks = new_signing_key()
    private_jwk["kid"] = jwks["keys"][0]["kid"] = private_jwk["kid"].replace("local-", "key-")
    print(json.dumps({"private_jwk": private_jwk, "jwks": jwks}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    emu = commands.add_parser("emulator", help="run the DynamoDB/SQS emulator only")
    emu.add_argument("--port", type=int, default=4566)
    emu.add_argument("--table", default=DEFAULT_TABLE)
    emu.add_argument("--visibility-timeout", type=int, default=None,
                     help="override every queue's visibility timeout (seconds)")
    emu.add_argument("--call-log", type=Path, default=None,
                     help="record every function's AWS calls here (tools/iam.py)")
    emu.set_defaults(func=emulator)

    run = commands.add_parser("dev", help="run the whole local stack")
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT", 3000)))
    run.add_argument("--emulator-port", type=int, default=int(os.environ.get("EMULATOR_PORT", 4566)))
    run.add_argument("--table", default=DEFAULT_TABLE)
    run.add_argument("--state-dir", default=".local/dev")
    run.add_argument("--instances", type=int, default=int(os.environ.get("INSTANCES", 16)),
                     help="most instances of each HTTP function at once")
    run.add_argument("--worker-instances", type=int,
                     default=int(os.environ.get("WORKER_INSTANCES", 5)),
                     help="most instances of each worker (queue or schedule) at once")
    run.add_argument("--idle-after", type=float, default=float(os.environ.get("IDLE_AFTER", 30)),
                     help="seconds an instance may stay unneeded before it is stopped")
    run.add_argument("--queue-deadline", type=float,
                     default=float(os.environ.get("QUEUE_DEADLINE", 30)),
                     help="seconds a request waits for a free instance before a 503")
    run.add_argument("--ignore-changes", action="store_true")
    run.add_argument("--ready-timeout", type=float, default=900)
    run.add_argument(
        "--visibility-timeout", type=int,
        default=int(os.environ.get("QUEUE_VISIBILITY_TIMEOUT", 5)),
        help="local visibility timeout of every queue, seconds (template: minutes)",
    )
    run.add_argument(
        "--schedule-period", type=float,
        default=float(os.environ.get("SCHEDULE_PERIOD", 5)),
        help="seconds between runs of each scheduled function (template: 1 minute)",
    )
    run.add_argument("--provider-port", type=int, default=0,
                     help="port of the payment provider's refunds endpoint (default: port + 1)")
    run.add_argument("--no-provider", action="store_true",
                     help="do not run the local payment provider (tests bring their own)")
    run.set_defaults(func=dev)

    gen = commands.add_parser("keygen", help="print a new token signing key pair")
    gen.set_defaults(func=keygen)

    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
