"""IAM parity: what works locally must work deployed.

The emulator evaluates no IAM. The local stack records every AWS call each
function makes (tools/iam.py), and the last test of the suite checks every
one of them against that function's policy in template.yaml. The first
tests here check the checker itself, on calls and policies made up here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import iam  # noqa: E402
from conftest import STARTED_STACKS  # noqa: E402
from stack import CALL_LOG, load_template  # noqa: E402

TABLE = "t"
KEYS = {TABLE: "pk", f"{TABLE}/index/gsi1": "gsi1pk"}


def template(*statements, policies=None) -> dict:
    """A template with one function, `fn`, whose policy is `statements`."""
    return {
        "Resources": {
            "Table": {"Type": "AWS::DynamoDB::Table"},
            "Q": {"Type": "AWS::SQS::Queue"},
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": "functions/fn",
                    "Policies": policies if policies is not None else [{"Statement": list(statements)}],
                },
            },
        }
    }


def allow(actions, resource=None, **condition) -> dict:
    statement = {
        "Effect": "Allow",
        "Action": actions,
        "Resource": resource or {"Fn::GetAtt": ["Table", "Arn"]},
    }
    if condition:
        statement["Condition"] = condition
    return statement


def run(tpl: dict, requests: list[tuple[str, str, dict]], tmp_path: Path) -> iam.Report:
    """Records `requests` ((service, operation, body) as `fn`) and checks them."""
    log = tmp_path / "calls.jsonl"
    lines = [{"table": TABLE}]
    for service, operation, body in requests:
        for call in iam.calls_of(service, operation, body, KEYS):
            lines.append({"function": "fn", "operation": operation, "action": call.action,
                          "resource": call.resource, "leading_keys": list(call.leading_keys)})
    log.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return iam.check(tpl, [log])


def key(pk: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": "X"}}


TRANSACTION = ("dynamodb", "TransactWriteItems", {"TransactItems": [
    {"Put": {"TableName": TABLE, "Item": key("OUTBOX#1")}},
    {"ConditionCheck": {"TableName": TABLE, "Key": key("USER#1")}},
]})


def test_each_action_of_a_transaction_needs_its_own_grant(tmp_path):
    report = run(template(allow(["dynamodb:PutItem"])), [TRANSACTION], tmp_path)
    assert len(report.denied) == 1
    assert "fn: TransactWriteItems needs dynamodb:ConditionCheckItem on Table" in report.denied[0]
    report = run(template(allow(["dynamodb:PutItem", "dynamodb:ConditionCheckItem"])), [TRANSACTION], tmp_path)
    assert report.denied == []


def test_a_call_outside_the_granted_key_prefixes_is_denied(tmp_path):
    scoped = allow(["dynamodb:GetItem"], **{"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["PRODUCT#*"]}})
    inside = ("dynamodb", "GetItem", {"TableName": TABLE, "Key": key("PRODUCT#A")})
    outside = ("dynamodb", "GetItem", {"TableName": TABLE, "Key": key("EMAIL#a@example.com")})
    assert run(template(scoped), [inside], tmp_path).denied == []
    denied = run(template(scoped), [inside, outside], tmp_path).denied
    assert len(denied) == 1 and "EMAIL#a@example.com" in denied[0] and "a condition fails" in denied[0]


def test_a_batch_is_allowed_only_when_every_key_is(tmp_path):
    scoped = allow(["dynamodb:BatchGetItem"], **{"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["PRODUCT#*"]}})
    batch = ("dynamodb", "BatchGetItem", {"RequestItems": {TABLE: {"Keys": [key("PRODUCT#A"), key("REFRESH#x")]}}})
    assert len(run(template(scoped), [batch], tmp_path).denied) == 1


def test_a_query_on_an_index_needs_the_index_arn(tmp_path):
    query = ("dynamodb", "Query", {
        "TableName": TABLE, "IndexName": "gsi1",
        "KeyConditionExpression": "#p = :p", "ExpressionAttributeNames": {"#p": "gsi1pk"},
        "ExpressionAttributeValues": {":p": {"S": "CATALOG"}},
    })
    assert len(run(template(allow(["dynamodb:Query"])), [query], tmp_path).denied) == 1
    index = allow(["dynamodb:Query"], {"Fn::Sub": "${Table.Arn}/index/gsi1"})
    assert run(template(index), [query], tmp_path).denied == []


def test_a_query_is_scoped_by_the_partition_its_key_condition_fixes(tmp_path):
    query = ("dynamodb", "Query", {
        "TableName": TABLE, "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
        "ExpressionAttributeValues": {":p": {"S": "REVOKED"}, ":s": {"S": "x"}},
    })
    revoked = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["REVOKED"]}}
    assert run(template(allow("dynamodb:Query", **revoked)), [query], tmp_path).denied == []
    other = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["USER#1"]}}
    assert len(run(template(allow("dynamodb:Query", **other)), [query], tmp_path).denied) == 1


def test_sqs_batches_are_authorised_as_single_sends(tmp_path):
    send = ("sqs", "SendMessageBatch", {"QueueUrl": "http://127.0.0.1:1/123456789012/Q"})
    policy = [{"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["Q", "QueueName"]}}}]
    assert run(template(policies=policy), [send], tmp_path).denied == []
    other = ("sqs", "SendMessage", {"QueueUrl": "http://127.0.0.1:1/123456789012/Other"})
    assert len(run(template(policies=policy), [other], tmp_path).denied) == 1


def test_an_explicit_deny_wins(tmp_path):
    get = ("dynamodb", "GetItem", {"TableName": TABLE, "Key": key("USER#1")})
    deny = dict(allow(["dynamodb:*"]), Effect="Deny")
    assert len(run(template(allow(["dynamodb:GetItem"]), deny), [get], tmp_path).denied) == 1


def test_unused_grants_are_listed(tmp_path):
    get = ("dynamodb", "GetItem", {"TableName": TABLE, "Key": key("USER#1")})
    report = run(template(allow(["dynamodb:GetItem", "dynamodb:DeleteItem"])), [get], tmp_path)
    assert report.denied == []
    assert [u.split(" (")[0] for u in report.unused] == ["fn: dynamodb:DeleteItem on Table"]


def test_what_the_check_cannot_read_stops_it(tmp_path):
    get = ("dynamodb", "GetItem", {"TableName": TABLE, "Key": key("USER#1")})
    with pytest.raises(iam.TemplateError, match="DynamoDBCrudPolicy"):
        run(template(policies=[{"DynamoDBCrudPolicy": {"TableName": "x"}}]), [get], tmp_path)
    odd = allow(["dynamodb:GetItem"], **{"ForAllValues:NumericLessThan": {"dynamodb:LeadingKeys": ["1"]}})
    with pytest.raises(iam.TemplateError, match="NumericLessThan"):
        run(template(odd), [get], tmp_path)


@pytest.mark.after_all
def test_every_call_the_functions_made_is_allowed_by_template_yaml(stack):
    """Every call every function made during this run, on every stack the
    run started, against template.yaml. A failure names the function, the
    call and the grant it lacks; the grants nothing used are listed in
    .local/e2e/iam-unused.txt."""
    logs = [state / CALL_LOG for state in STARTED_STACKS if (state / CALL_LOG).exists()]
    assert logs, "no stack recorded its calls"
    report = iam.check(load_template(), logs)
    (stack.state / "iam-unused.txt").write_text("".join(f"{line}\n" for line in report.unused))
    assert report.functions, "no function's call was recorded"
    assert report.denied == [], "calls the deployed policy would deny:\n" + "\n".join(report.denied)
