#!/usr/bin/env python3
"""IAM parity: every AWS call a function made locally, checked against the
policy template.yaml gives that function.

The emulator evaluates no IAM, so a call a function's role does not allow
passes every local test and fails for every caller once deployed. Here the
local stack gives each function instance its own access key id (its name,
set by tools/watch-cargo), the emulator records every call with that
identity (`CallLog`, wrapped around moto by tools/stack.py), and `check`
evaluates each recorded call against the function's resolved policy.

    iam.py check [--table NAME] LOG [LOG ...]
        Exit 1, naming function, call and the grant it lacks, when a call is
        not allowed; lists the grants no recorded call used.

A call is recorded the way IAM authorises it, not the way the SDK sends it.
The rules, each from AWS's documentation:

- TransactWriteItems / TransactGetItems: each `Put`, `Update`, `Delete`,
  `Get` is authorised as `PutItem`, `UpdateItem`, `DeleteItem`, `GetItem`
  on its own table, and `ConditionCheck` as `dynamodb:ConditionCheckItem`
  (DynamoDB Developer Guide, "Using IAM with DynamoDB transactions").
- Query and Scan with an `IndexName` are authorised against the index's ARN,
  `arn:...:table/<table>/index/<index>` (Service Authorization Reference,
  "Actions, resources, and condition keys for Amazon DynamoDB": the `index`
  resource type).
- BatchGetItem and BatchWriteItem are authorised once per table they name,
  as `dynamodb:BatchGetItem` / `dynamodb:BatchWriteItem` (same page).
- `dynamodb:LeadingKeys` holds the partition key values a request touches:
  the key of a single-item call, every key of a batch, the partition key a
  Query's key condition fixes (DynamoDB Developer Guide, "Using IAM policy
  conditions for fine-grained access control"). A Scan fixes none. For an
  index Query it is the index's partition key value; this project never
  conditions an index grant on it, so nothing here depends on that reading.
- SQS's batch actions are authorised as their single forms: SendMessageBatch
  as `sqs:SendMessage`, DeleteMessageBatch as `sqs:DeleteMessage`,
  ChangeMessageVisibilityBatch as `sqs:ChangeMessageVisibility` (SQS API
  Reference, SendMessageBatch: "The permissions for the batch actions are
  the same as for the single actions").
- SSM GetParameter on a parameter named `/a/b` is authorised against
  `arn:...:parameter/a/b` (Systems Manager User Guide, "Restricting access
  to Parameter Store parameters using IAM policies").
- Evaluation: an explicit Deny wins, then any Allow, else the call is denied
  (IAM User Guide, "Policy evaluation logic"). Actions match
  case-insensitively, resources case-sensitively, both with `*` and `?`
  wildcards. `ForAllValues:` is true when every value in the request
  matches (so also when the request has none), `ForAnyValue:` when at least
  one does (IAM User Guide, "Multivalued context keys").
- SAM's `SQSSendMessagePolicy` is `sqs:SendMessage*` on the queue's ARN (SAM
  Developer Guide, "AWS SAM policy templates").

Anything this module does not know how to read (another SAM policy
template, NotAction, a condition operator other than the string ones) stops
the check with an error instead of being guessed at.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARTITION = "aws"
REGION = "us-east-1"
# moto's account, and so the one in every local ARN and queue URL.
ACCOUNT = "123456789012"

# --- recording --------------------------------------------------------------

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_SQS_SINGLE = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
_TRANSACT = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


@dataclass(frozen=True)
class Call:
    """One authorisation IAM makes: an action on a resource with the
    request's partition key values."""

    action: str
    resource: str
    leading_keys: tuple[str, ...] = ()


def table_arn(table: str) -> str:
    return f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{table}"


def queue_arn(name: str) -> str:
    return f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{name}"


def parameter_arn(name: str) -> str:
    return f"arn:{PARTITION}:ssm:{REGION}:{ACCOUNT}:parameter/{name.lstrip('/')}"


def _string(value: dict | None) -> str | None:
    """The string (or number) inside a DynamoDB AttributeValue."""
    if not isinstance(value, dict):
        return None
    for kind in ("S", "N", "B"):
        if kind in value:
            return str(value[kind])
    return None


def _key_values(keys: list[dict], attribute: str) -> tuple[str, ...]:
    return tuple(sorted({v for k in keys if (v := _string(k.get(attribute))) is not None}))


def _query_partition(body: dict, attribute: str) -> tuple[str, ...]:
    """The partition key value a Query's key condition fixes (`a = :v`)."""
    names = body.get("ExpressionAttributeNames") or {}
    values = body.get("ExpressionAttributeValues") or {}
    expression = body.get("KeyConditionExpression") or ""
    for left, right in re.findall(r"([#:]?[\w.]+)\s*=\s*([#:]?[\w.]+)", expression):
        for name, placeholder in ((left, right), (right, left)):
            if names.get(name, name) == attribute and placeholder.startswith(":"):
                found = _string(values.get(placeholder))
                if found is not None:
                    return (found,)
    legacy = ((body.get("KeyConditions") or {}).get(attribute) or {}).get("AttributeValueList")
    found = _string(legacy[0]) if legacy else None
    return (found,) if found is not None else ()


def dynamodb_calls(operation: str, body: dict, partition_keys: dict[str, str]) -> list[Call]:
    """What IAM authorises for one DynamoDB request. `partition_keys` maps
    the table's name and `<table>/index/<index>` to their partition key
    attribute."""

    def pk_of(table: str) -> str:
        return partition_keys.get(table, "pk")

    if operation in ("TransactWriteItems", "TransactGetItems"):
        calls = []
        for entry in body.get("TransactItems", []):
            for kind, op in entry.items():
                table = op.get("TableName", "")
                key = op.get("Item") if kind == "Put" else op.get("Key")
                calls.append(Call(
                    f"dynamodb:{_TRANSACT.get(kind, kind)}", table_arn(table),
                    _key_values([key or {}], pk_of(table)),
                ))
        return calls
    if operation == "BatchGetItem":
        return [
            Call("dynamodb:BatchGetItem", table_arn(table),
                 _key_values(spec.get("Keys", []), pk_of(table)))
            for table, spec in (body.get("RequestItems") or {}).items()
        ]
    if operation == "BatchWriteItem":
        calls = []
        for table, requests in (body.get("RequestItems") or {}).items():
            keys = [
                (r.get("PutRequest") or {}).get("Item") or (r.get("DeleteRequest") or {}).get("Key") or {}
                for r in requests
            ]
            calls.append(Call("dynamodb:BatchWriteItem", table_arn(table), _key_values(keys, pk_of(table))))
        return calls
    table = body.get("TableName", "")
    if operation in ("Query", "Scan"):
        index = body.get("IndexName")
        target = f"{table}/index/{index}" if index else table
        keys = _query_partition(body, pk_of(target)) if operation == "Query" else ()
        return [Call(f"dynamodb:{operation}", table_arn(target), keys)]
    key = body.get("Item") if operation == "PutItem" else body.get("Key")
    keys = _key_values([key], pk_of(table)) if isinstance(key, dict) else ()
    return [Call(f"dynamodb:{operation}", table_arn(table), keys)]


def calls_of(service: str, operation: str, body: dict, partition_keys: dict[str, str]) -> list[Call]:
    if service == "dynamodb":
        return dynamodb_calls(operation, body, partition_keys)
    if service == "sqs":
        url = body.get("QueueUrl", "")
        resource = queue_arn(url.rstrip("/").rsplit("/", 1)[-1]) if url else "*"
        return [Call(f"sqs:{_SQS_SINGLE.get(operation, operation)}", resource)]
    if service == "ssm":
        names = body.get("Names") or [body.get("Name", "")]
        return [Call(f"ssm:{operation}", parameter_arn(n)) for n in names]
    return [Call(f"{service}:{operation}", "*")]


_TARGET_SERVICES = {"DynamoDB": "dynamodb", "AmazonSQS": "sqs", "AmazonSSM": "ssm"}


def shape(key: str) -> str:
    """A partition key with its variable parts starred (`USER#01H..#x` ->
    `USER#*#*`): calls that differ only in ids are recorded once."""
    return "#".join(p if re.fullmatch(r"[A-Z_]{2,}", p) else "*" for p in key.split("#"))


class CallLog:
    """WSGI middleware: records each distinct (identity, call) the app
    serves, appending it to a JSON-lines file as it is first seen (so the
    file is complete whenever the emulator stops)."""

    def __init__(self, app, path: Path, table: str, partition_keys: dict[str, str]):
        self.app = app
        self.partition_keys = partition_keys
        self.seen: set = set()
        self.lock = threading.Lock()
        self.file = open(path, "w", buffering=1, encoding="utf-8")
        self.file.write(json.dumps({"table": table}) + "\n")

    def __call__(self, environ, start_response):
        try:
            self.record(environ)
        except Exception as error:  # a recording fault must not fail the call
            print(f"iam: could not record a call: {error!r}", file=sys.stderr)
        return self.app(environ, start_response)

    def record(self, environ) -> None:
        found = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not found or "." not in target:
            return
        prefix, operation = target.split(".", 1)
        service = _TARGET_SERVICES.get(prefix.split("_", 1)[0])
        if service is None:
            return
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        body = json.loads(raw) if raw else {}
        identity = found.group(1)
        for call in calls_of(service, operation, body, self.partition_keys):
            seen = (identity, operation, call.action, call.resource,
                    tuple(sorted({shape(k) for k in call.leading_keys})))
            with self.lock:
                if seen in self.seen:
                    continue
                self.seen.add(seen)
                self.file.write(json.dumps({
                    "function": identity, "operation": operation, "action": call.action,
                    "resource": call.resource, "leading_keys": list(call.leading_keys),
                }) + "\n")


# --- the template's policies ------------------------------------------------


class TemplateError(Exception):
    """Something in template.yaml this check cannot read; never guessed."""


@dataclass
class Statement:
    effect: str
    actions: list[str]
    resources: list[str]
    conditions: dict
    origin: str  # where it came from, for messages
    used: set = field(default_factory=set)  # (action pattern, resource pattern)


class Resolver:
    """Turns the template's intrinsics into the values they have in the
    local stack (the table under its local name, queues named after their
    logical ids, parameters at their defaults)."""

    def __init__(self, template: dict, table_name: str):
        self.resources = template.get("Resources", {})
        self.parameters = {
            name: str(spec.get("Default", f"<{name}>"))
            for name, spec in template.get("Parameters", {}).items()
        }
        self.table_name = table_name

    def ref(self, name: str) -> str:
        pseudo = {"AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        kind = self.resources.get(name, {}).get("Type")
        if kind == "AWS::DynamoDB::Table":
            return self.table_name
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
        raise TemplateError(f"cannot resolve Ref {name}")

    def get_att(self, name: str, attribute: str) -> str:
        kind = self.resources.get(name, {}).get("Type")
        if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
            return table_arn(self.table_name)
        if kind == "AWS::SQS::Queue":
            if attribute == "QueueName":
                return name
            if attribute == "Arn":
                return queue_arn(name)
        raise TemplateError(f"cannot resolve GetAtt {name}.{attribute}")

    def sub(self, text: str, variables: dict) -> str:
        def one(match: re.Match) -> str:
            name = match.group(1)
            if name in variables:
                return self(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return self.get_att(*name.split(".", 1))
            return self.ref(name)

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def __call__(self, value):
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict) and len(value) == 1:
            (kind, arg), = value.items()
            if kind == "Ref":
                return self.ref(arg)
            if kind == "Fn::GetAtt":
                return self.get_att(*(arg.split(".", 1) if isinstance(arg, str) else arg))
            if kind == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                return self.sub(text, variables)
            if kind == "Fn::Join":
                return arg[0].join(str(self(v)) for v in arg[1])
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        return value


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _statements(document: dict, resolve: Resolver, origin: str) -> list[Statement]:
    statements = []
    for i, raw in enumerate(_as_list(document.get("Statement", []))):
        for unsupported in ("NotAction", "NotResource", "NotPrincipal"):
            if unsupported in raw:
                raise TemplateError(f"{origin}: {unsupported} is not supported by this check")
        statements.append(Statement(
            effect=raw.get("Effect", "Allow"),
            actions=[str(a) for a in _as_list(raw.get("Action", []))],
            resources=[str(r) for r in _as_list(resolve(raw.get("Resource", [])))],
            conditions=resolve(raw.get("Condition", {})),
            origin=f"{origin} statement {i + 1}",
        ))
    return statements


def _policy_template(name: str, args: dict, resolve: Resolver, origin: str) -> list[Statement]:
    if name == "SQSSendMessagePolicy":
        queue = resolve(args["QueueName"])
        return [Statement("Allow", ["sqs:SendMessage*"], [queue_arn(queue)], {},
                          f"{origin} SQSSendMessagePolicy({queue})")]
    raise TemplateError(f"{origin}: SAM policy template {name} is not known to this check")


def function_policies(template: dict, table_name: str) -> dict[str, list[Statement]]:
    """Function folder name (its identity locally) -> its statements."""
    resolve = Resolver(template, table_name)
    resources = template.get("Resources", {})
    policies: dict[str, list[Statement]] = {}
    for logical, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        function = Path(props["CodeUri"]).name
        statements: list[Statement] = []
        for entry in _as_list(props.get("Policies", [])):
            if isinstance(entry, dict) and set(entry) == {"Ref"}:
                managed = resources.get(entry["Ref"], {})
                if managed.get("Type") != "AWS::IAM::ManagedPolicy":
                    raise TemplateError(f"{logical}: Policies Ref {entry['Ref']} is not a managed policy")
                statements += _statements(
                    managed["Properties"]["PolicyDocument"], resolve, f"{logical} {entry['Ref']}")
            elif isinstance(entry, dict) and "Statement" in entry:
                statements += _statements(entry, resolve, f"{logical} Policies")
            elif isinstance(entry, dict) and len(entry) == 1:
                (name, args), = entry.items()
                statements += _policy_template(name, args or {}, resolve, logical)
            else:
                raise TemplateError(f"{logical}: policy {entry!r} is not known to this check")
        policies[function] = statements
    return policies


# --- evaluation -------------------------------------------------------------


def _glob(pattern: str, value: str, fold: bool = False) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` any one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if fold else re.DOTALL) is not None


_OPERATORS = {
    "StringEquals": lambda policy, value: value == policy,
    "StringLike": lambda policy, value: _glob(policy, value),
}


def _condition_holds(operator: str, key: str, expected, context: dict) -> bool:
    qualifier, _, base = operator.rpartition(":")
    negate = base.startswith("StringNot")
    test = _OPERATORS.get(base.replace("StringNot", "String"))
    if test is None or qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise TemplateError(f"condition operator {operator} is not supported by this check")
    wanted = [str(v) for v in _as_list(expected)]

    def matches(value: str) -> bool:
        hit = any(test(p, value) for p in wanted)
        return not hit if negate else hit

    values = context.get(key)
    if qualifier == "ForAllValues":
        return all(matches(v) for v in values or [])
    if qualifier == "ForAnyValue":
        return any(matches(v) for v in values or [])
    if values is None:
        # A single-valued key absent from the request: only a negated
        # operator holds (IAM User Guide, "Condition element").
        return negate
    return all(matches(v) for v in values)


def _statement_applies(statement: Statement, call: Call) -> tuple[str, str] | None:
    """The (action, resource) patterns of `statement` that cover `call`
    when its conditions hold, else None."""
    action = next((a for a in statement.actions if _glob(a, call.action, fold=True)), None)
    resource = next((r for r in statement.resources if _glob(r, call.resource)), None)
    if action is None or resource is None:
        return None
    context = {"dynamodb:LeadingKeys": list(call.leading_keys)}
    for operator, keys in statement.conditions.items():
        for key, expected in keys.items():
            if not _condition_holds(operator, key, expected, context):
                return None
    return action, resource


def evaluate(statements: list[Statement], call: Call) -> tuple[bool, str]:
    """(allowed, why) under IAM's evaluation order; marks the Allow used."""
    for statement in statements:
        if statement.effect == "Deny" and _statement_applies(statement, call):
            return False, f"denied explicitly by {statement.origin}"
    for statement in statements:
        if statement.effect != "Allow":
            continue
        covered = _statement_applies(statement, call)
        if covered:
            statement.used.add(covered)
            return True, statement.origin
    near = [
        s.origin for s in statements
        if s.effect == "Allow"
        and any(_glob(a, call.action, fold=True) for a in s.actions)
        and any(_glob(r, call.resource) for r in s.resources)
    ]
    if near:
        return False, "action and resource granted by " + "; ".join(near) + ", but a condition fails"
    return False, "no statement allows it"


def _display(resource: str, table_name: str) -> str:
    """An ARN as the template spells it, for messages."""
    if resource.startswith(table_arn(table_name)):
        return "Table" + resource[len(table_arn(table_name)):]
    return resource.replace(f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:", "queue ").replace(
        f"arn:{PARTITION}:ssm:{REGION}:{ACCOUNT}:", "")


@dataclass
class Report:
    denied: list[str]
    unused: list[str]
    checked: int
    functions: set


def check(template: dict, logs: list[Path]) -> Report:
    denied: list[str] = []
    checked = 0
    functions: set = set()
    policies_by_table: dict[str, dict[str, list[Statement]]] = {}
    for log in logs:
        lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]
        header = next((l for l in lines if "table" in l and "function" not in l), None)
        if header is None:
            raise TemplateError(f"{log}: no header line naming the table")
        table_name = header["table"]
        policies = policies_by_table.setdefault(table_name, function_policies(template, table_name))
        for entry in lines:
            function = entry.get("function")
            if function not in policies:
                continue  # the stack's own tools and the tests, not a function
            functions.add(function)
            call = Call(entry["action"], entry["resource"], tuple(entry.get("leading_keys", ())))
            checked += 1
            allowed, why = evaluate(policies[function], call)
            if not allowed:
                keys = ", ".join(call.leading_keys[:3]) or "none"
                denied.append(
                    f"{function}: {entry.get('operation')} needs {call.action} on "
                    f"{_display(call.resource, table_name)} (leading keys: {keys}): {why}"
                )
    unused = []
    for table_name, policies in policies_by_table.items():
        for function in sorted(functions):
            for statement in policies[function]:
                if statement.effect != "Allow":
                    continue
                for action in statement.actions:
                    for resource in statement.resources:
                        if (action, resource) not in statement.used:
                            unused.append(
                                f"{function}: {action} on {_display(resource, table_name)} "
                                f"({statement.origin})"
                            )
    return Report(sorted(set(denied)), sorted(set(unused)), checked, functions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("check", help="check recorded calls against template.yaml")
    run.add_argument("logs", nargs="+", type=Path)
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from stack import load_template

    report = check(load_template(), args.logs)
    for line in report.unused:
        print(f"iam: unused grant: {line}")
    for line in report.denied:
        print(f"iam: DENIED {line}")
    print(f"iam: {report.checked} distinct calls of {len(report.functions)} functions checked, "
          f"{len(report.denied)} denied, {len(report.unused)} grants unused")
    sys.exit(1 if report.denied else 0)


if __name__ == "__main__":
    main()
