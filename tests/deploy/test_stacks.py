"""Both stacks synthesize from the example settings, with the resources and properties the design asks for,
and pass cfn-lint."""

from __future__ import annotations

import json
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Match, Template
from s3migrate_deploy.app import build_app
from s3migrate_deploy.settings import EXAMPLE, load

from tests.support.tools import find_tool

SKIP_BUNDLING = {"aws:cdk:bundling-stacks": []}  # the asset build has its own test (test_asset.py)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    settings = load(EXAMPLE)
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = build_app(settings, str(outdir), SKIP_BUNDLING)
    assembly = app.synth()
    stacks = {child.node.id: child for child in app.node.children if isinstance(child, Stack)}
    yield {"settings": settings, "outdir": outdir, "assembly": assembly,
           "serverless": Template.from_stack(stacks["s3migrate-serverless"]),
           "cluster": Template.from_stack(stacks["s3migrate-cluster"])}


@pytest.mark.parametrize("stack", ["serverless", "cluster"])
def test_queue_ledger_parameters_and_alarm(synthesized: dict[str, Any], stack: str) -> None:
    template: Template = synthesized[stack]
    template.has_resource_properties("AWS::SQS::Queue", {
        "QueueName": "s3migrate-jobs", "VisibilityTimeout": 900, "MessageRetentionPeriod": 14 * 86400,
        "RedrivePolicy": {"maxReceiveCount": 60, "deadLetterTargetArn": Match.any_value()}})
    template.has_resource_properties("AWS::SQS::Queue", {"QueueName": "s3migrate-dlq",
                                                          "MessageRetentionPeriod": 14 * 86400})
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "Tags": Match.array_with([{"Key": "deployment", "Value": "s3migrate"},
                                  {"Key": "project", "Value": "s3migrate"}])})
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "Key", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [{
            "IndexName": "desBucket-index", "KeySchema": [{"AttributeName": "desBucket", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["desKey", "versionId"]}}]})
    # Pairs and ignore list are created; the credentials SecureString is only referenced, never created.
    parameters = template.find_resources("AWS::SSM::Parameter")
    assert sorted(p["Properties"]["Name"] for p in parameters.values()) == [
        "s3migrate_bucket_para", "s3migrate_ignore_list"]
    assert all(p["Properties"]["Type"] == "String" for p in parameters.values())
    pairs = json.loads(next(p["Properties"]["Value"] for p in parameters.values()
                            if p["Properties"]["Name"] == "s3migrate_bucket_para"))
    assert pairs == [{"src_bucket": "your-source-bucket", "src_prefix": "", "des_bucket": "your-destination-bucket",
                      "des_prefix": ""}]
    template.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "email", "Endpoint": "alarm_your_email@example.com"})
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "MetricName": "ApproximateNumberOfMessagesVisible", "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold", "AlarmActions": [{"Ref": Match.any_value()}]})
    body = json.dumps(template.find_resources("AWS::CloudWatch::Dashboard"))
    for needle in ("BytesUploaded", "BytesDownloaded", "BytesCompleted", "ApproximateNumberOfMessagesVisible",
                   "ApproximateNumberOfMessagesNotVisible", "ERROR-Logs", "WARNING-Logs", "TIMEOUT-Logs",
                   "Completed-bytes", "MaxMemoryUsed"):
        assert needle in body, needle


def _policy_statements(template: Template) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        out += policy["Properties"]["PolicyDocument"]["Statement"]
    return out


@pytest.mark.parametrize("stack", ["serverless", "cluster"])
def test_least_privilege(synthesized: dict[str, Any], stack: str) -> None:
    statements = _policy_statements(synthesized[stack])
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(a.endswith(":*") or a == "*" for a in actions), statement
        if any(a.startswith(("s3:", "ssm:GetParameter")) for a in actions):
            assert statement["Resource"] != "*", statement
    text = json.dumps(statements)
    # JobType PUT: this account reads the source bucket; it never writes it.
    assert "arn:aws:s3:::your-source-bucket/*" in text.replace('"', "").replace(",", "") or \
        "your-source-bucket/*" in text
    assert "s3:PutObject" not in text
    assert "s3:GetObjectTagging" in text  # tags are copied (s3migrate fails a tagged object it cannot read them of)
    assert "parameter/s3_migration_credentials" in text


def test_serverless_functions_trigger_and_schedule(synthesized: dict[str, Any]) -> None:
    template: Template = synthesized["serverless"]
    env = {"JobType": "PUT", "MaxThread": "4", "MaxParallelFile": "4", "JobTimeout": "870",
           "StorageClass": "STANDARD", "Des_bucket_default": "your-destination-bucket",
           "ssm_parameter_credentials": "s3_migration_credentials", "table_queue_name": Match.any_value(),
           "sqs_queue_name": Match.any_value(), "ssm_parameter_bucket": Match.any_value()}
    template.has_resource_properties("AWS::Lambda::Function", {
        "Handler": "s3migrate.lambdas.worker.handler", "Runtime": "python3.12", "MemorySize": 1024,
        "Timeout": 900, "Environment": {"Variables": Match.object_like(env)}})
    template.has_resource_properties("AWS::Lambda::Function", {
        "Handler": "s3migrate.lambdas.jobsender.handler", "Timeout": 900, "ReservedConcurrentExecutions": 1})
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "BatchSize": 1, "FunctionResponseTypes": ["ReportBatchItemFailures"]})
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(1 hour)"})
    template.has_resource_properties("Custom::S3BucketNotifications", {"NotificationConfiguration": {
        "QueueConfigurations": [Match.object_like({"Events": ["s3:ObjectCreated:*"]})]}})
    body = json.dumps(template.find_resources("AWS::CloudWatch::Dashboard"))
    for needle in ("ConcurrentExecutions", "Invocations", "Errors", "Throttles", "Duration", "MaxMemoryUsed"):
        assert needle in body, needle


def test_cluster_instances_scaling_and_logs(synthesized: dict[str, Any]) -> None:
    template: Template = synthesized["cluster"]
    template.has_resource_properties("AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Gateway"})
    template.has_resource_properties("AWS::AutoScaling::AutoScalingGroup", {"MinSize": "0", "MaxSize": "10"})
    templates = template.find_resources("AWS::EC2::LaunchTemplate")
    (data,) = [t["Properties"]["LaunchTemplateData"] for t in templates.values()
               if "s3migrate work" in json.dumps(t["Properties"]["LaunchTemplateData"].get("UserData"))]
    assert data["InstanceMarketOptions"]["MarketType"] == "spot"
    user_data = json.dumps(data["UserData"])
    for needle in ("s3migrate work --metrics-interval 60", "tcp_congestion_control = bbr", "Restart=always",
                   "amazon-cloudwatch-agent"):
        assert needle in user_data, needle
    policies = template.find_resources("AWS::AutoScaling::ScalingPolicy")
    steps = [p["Properties"] for p in policies.values() if p["Properties"]["PolicyType"] == "StepScaling"]
    assert len(steps) == 2 and all(p["AdjustmentType"] == "ExactCapacity" for p in steps)  # out and in
    alarms = json.dumps(template.find_resources("AWS::CloudWatch::Alarm"))
    assert "visible + inflight" in alarms
    instances = template.find_resources("AWS::EC2::Instance")
    (sender,) = instances.values()
    sender_data = json.dumps(sender["Properties"]["UserData"])
    assert "s3migrate send" in sender_data and "OnCalendar=hourly" in sender_data
    template.has_resource_properties("AWS::Logs::LogGroup", {"LogGroupName": "/s3migrate/s3migrate"})


def test_templates_pass_cfn_lint(synthesized: dict[str, Any]) -> None:
    templates = sorted(str(p) for p in Path(synthesized["outdir"]).glob("*.template.json"))
    assert len(templates) == 2
    cfn_lint = find_tool("cfn-lint", "cfn-lint")
    result = subprocess.run([cfn_lint, "--ignore-checks", "W3005", "--",
                             *templates], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stack", ["serverless", "cluster"])
def test_the_ledger_is_retained_and_the_originals_log_metrics_exist(synthesized: dict[str, Any], stack: str) -> None:
    template: Template = synthesized[stack]
    tables = template.find_resources("AWS::DynamoDB::Table")
    assert [t["DeletionPolicy"] for t in tables.values()] == ["Retain"]  # the migration's record outlives the stack
    template.has_resource_properties("AWS::SQS::Queue", {"QueueName": "s3migrate-dlq", "VisibilityTimeout": 900})
    filters = template.find_resources("AWS::Logs::MetricFilter")
    names = sorted(f["Properties"]["MetricTransformations"][0]["MetricName"] for f in filters.values())
    assert names == ["ERROR-Logs", "TIMEOUT-Logs", "WARNING-Logs"]
    assert {f["Properties"]["MetricTransformations"][0]["MetricNamespace"] for f in filters.values()} == {"s3_migrate"}


def test_a_running_deployments_queue_and_table_are_adopted(tmp_path: Path) -> None:
    """Taking over a fleet: its queue, dead-letter queue and table are used, never created (or deleted)."""
    from s3migrate_deploy.settings import parse

    data = tomllib.loads(EXAMPLE.read_text())
    data["adopt"] = {"queue_arn": "arn:aws:sqs:us-west-2:111122223333:s3_migrate_file_list",
                     "dead_letter_queue_arn": "arn:aws:sqs:us-west-2:111122223333:s3_migrate_file_list-DLQ",
                     "table_name": "s3_migrate_file_list"}
    settings = parse(data)
    app = build_app(settings, str(tmp_path), SKIP_BUNDLING)
    app.synth()
    for child in app.node.children:
        if not isinstance(child, Stack):
            continue
        template = Template.from_stack(child)
        template.resource_count_is("AWS::SQS::Queue", 0)
        template.resource_count_is("AWS::DynamoDB::Table", 0)
        rendered = json.dumps(template.to_json())
        assert "s3_migrate_file_list" in rendered and "s3_migrate_file_list-DLQ" in rendered
        assert "table/s3_migrate_file_list/index/*" in rendered  # grants reach the desBucket-index too


def test_access_settings_reach_the_workers_with_the_kms_key_they_need(tmp_path: Path) -> None:
    """[access] becomes S3MIGRATE_* environment; a KMS key that this account's role writes with is granted."""
    from s3migrate_deploy.settings import SettingsError, parse

    key = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    data = tomllib.loads(EXAMPLE.read_text())
    data["JobType"] = "GET"
    data["access"] = {"acl": "bucket-owner-full-control", "sse": "aws:kms", "sse_kms_key_id": key,
                      "from_request_payer": True}
    app = build_app(parse(data), str(tmp_path), SKIP_BUNDLING)
    app.synth()
    for child in app.node.children:
        if not isinstance(child, Stack):
            continue
        rendered = json.dumps(Template.from_stack(child).to_json())
        for name, value in (("S3MIGRATE_ACL", "bucket-owner-full-control"), ("S3MIGRATE_SSE", "aws:kms"),
                            ("S3MIGRATE_SSE_KMS_KEY_ID", key), ("S3MIGRATE_FROM_REQUEST_PAYER", "True")):
            assert f'"{name}": "{value}"' in rendered or f"{name}={value}" in rendered, (child.node.id, name)
        assert "kms:GenerateDataKey" in rendered and key in rendered
    data["access"] = {"sse": "aws:kms", "sse_kms_key_id": "alias/mine"}
    with pytest.raises(SettingsError, match="ARN"):
        parse(data)
