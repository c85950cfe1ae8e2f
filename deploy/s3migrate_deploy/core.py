"""What both deployments share: the queue and its dead-letter queue, the ledger table, the SSM parameters,
the dead-letter alarm, and the dashboard's queue and traffic widgets."""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from s3migrate_deploy.settings import DeploySettings, ledger_schema

schema = ledger_schema()

UNTAGGABLE = ["AWS::CloudWatch::Dashboard"]  # CloudFormation takes no Tags there (cfn-lint E3002)
METRIC_NAMESPACE = "s3_migrate"  # where the workers' Embedded Metric Format records go
# The original Longbow's metric names, which the workers also publish without dimensions (as the original's
# metric filters did), so alarms and dashboards built on them keep working.
ORIGINAL_TRAFFIC_METRICS = ("Downloading-bytes", "Uploading-bytes", "Completed-bytes")


class MigrationCore(Construct):
    def __init__(self, scope: Construct, construct_id: str, settings: DeploySettings) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        name = settings.name
        for key, value in {"project": "s3migrate", "deployment": name}.items():
            Tags.of(Stack.of(self)).add(key, value, exclude_resource_types=UNTAGGABLE)
        adopt = settings.adopt
        self.dlq: sqs.IQueue
        self.queue: sqs.IQueue
        if adopt.queue_arn:  # a running deployment's queues: used as they are
            self.dlq = sqs.Queue.from_queue_arn(self, "DeadLetters", adopt.dead_letter_queue_arn)
            self.queue = sqs.Queue.from_queue_arn(self, "Jobs", adopt.queue_arn)
        else:
            # As the original's: 14 days' retention, 15 minutes' visibility, 60 receives before the DLQ.
            self.dlq = sqs.Queue(self, "DeadLetters", queue_name=f"{name}-dlq", retention_period=Duration.days(14),
                                 visibility_timeout=Duration.minutes(15),
                                 encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
            self.queue = sqs.Queue(
                self, "Jobs", queue_name=f"{name}-jobs", visibility_timeout=Duration.minutes(15),
                retention_period=Duration.days(14), encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
                dead_letter_queue=sqs.DeadLetterQueue(queue=self.dlq, max_receive_count=60),
            )
        self.table: dynamodb.ITable
        if adopt.table_name:
            self.table = dynamodb.Table.from_table_attributes(
                self, "Ledger", table_name=adopt.table_name, global_indexes=[schema.DES_BUCKET_INDEX])
        else:
            self.table = self._new_table(name)
        self.bucket_parameter = ssm.StringParameter(
            self, "BucketPairs", parameter_name=f"{name}_bucket_para",
            string_value=json.dumps([p.as_original() for p in settings.bucket_pairs]) or "[]",
            description="s3migrate bucket pairs (the original s3_migration_bucket_para)",
        )
        self.ignore_parameter = ssm.StringParameter(
            self, "IgnoreList", parameter_name=f"{name}_ignore_list",
            string_value="\n".join(settings.ignore_list) or "#", description="s3migrate ignore list",
        )
        stack = Stack.of(self)
        # Referenced by name only: the SecureString holding the other account's keys is created by the user.
        self.credentials_arn = stack.format_arn(
            service="ssm", resource="parameter", resource_name=settings.ssm_parameter_credentials.lstrip("/"))
        self.alarm_topic = sns.Topic(self, "Alarms", topic_name=f"{name}-alarms", enforce_ssl=True)
        self.alarm_topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        alarm = cloudwatch.Alarm(
            self, "DeadLetterAlarm", alarm_name=f"{name}-dead-letters",
            alarm_description="Jobs failed 60 times and are in the dead-letter queue",
            metric=self.dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(1),
                                                                           statistic="Maximum"),
            threshold=0, comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alarm_topic))
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{name}-dashboard")

    def _new_table(self, name: str) -> dynamodb.Table:
        """The ledger in the original's layout. Retained when the stack is destroyed: it is the migration's
        record (what was copied, when, from which source content), kept until its owner deletes it."""
        table = dynamodb.Table(
            self, "Ledger", table_name=f"{name}-{schema.TABLE_DEFAULT}",
            partition_key=dynamodb.Attribute(name=schema.KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST, removal_policy=RemovalPolicy.RETAIN,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
        )
        table.add_global_secondary_index(
            index_name=schema.DES_BUCKET_INDEX,
            partition_key=dynamodb.Attribute(name=schema.DES_BUCKET, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=[schema.DES_KEY, schema.VERSION_ID],
        )
        return table

    # -- the environment every worker and jobsender gets -----------------------------------------------------

    def environment(self) -> dict[str, str]:
        return {
            **self.settings.environment(),
            "table_queue_name": self.table.table_name,
            "sqs_queue_name": self.queue.queue_name,
            "ssm_parameter_bucket": self.bucket_parameter.parameter_name,
            "ssm_parameter_ignore_list": self.ignore_parameter.parameter_name,
            "ssm_parameter_credentials": self.settings.ssm_parameter_credentials,
        }

    # -- least privilege ---------------------------------------------------------------------------------

    def grant_worker(self, grantee: iam.IGrantable) -> None:
        """Take jobs, keep the ledger, read the stored keys, touch only this account's side of the pairs."""
        self.queue.grant_consume_messages(grantee)
        self.queue.grant(grantee, "sqs:GetQueueUrl", "sqs:GetQueueAttributes")
        self.table.grant_read_write_data(grantee)
        self._grant_credentials(grantee)
        self._grant_buckets(grantee, self.settings.own_buckets())
        self._grant_kms_key(grantee)

    def _grant_kms_key(self, grantee: iam.IGrantable) -> None:
        """Writing with SSE-KMS needs the key: GenerateDataKey for each object or upload, Decrypt to add parts to
        a multipart upload (AWS: "Using SSE-KMS")."""
        key = self.settings.access.sse_kms_key_id
        if key and self.settings.job_type == "GET":  # this account's role writes the destination
            iam.Grant.add_to_principal(grantee=grantee, actions=["kms:GenerateDataKey", "kms:Decrypt"],
                                       resource_arns=[key])

    def grant_jobsender(self, grantee: iam.IGrantable) -> None:
        """Send jobs (and drop an s3:TestEvent), register them, read the pairs, list this account's buckets."""
        self.queue.grant_send_messages(grantee)
        self.queue.grant_consume_messages(grantee)
        self.queue.grant(grantee, "sqs:GetQueueUrl", "sqs:GetQueueAttributes")
        self.table.grant_read_write_data(grantee)
        self.bucket_parameter.grant_read(grantee)
        self.ignore_parameter.grant_read(grantee)
        self._grant_credentials(grantee)
        self._grant_buckets(grantee, self.settings.own_buckets(), listing_only=True)
        if self.settings.job_type == "PUT" and self.settings.own_buckets():
            # The plan HEADs archived sources (GLACIER, DEEP_ARCHIVE) to see their restore, and asks for one with
            # restore_days.
            stack = Stack.of(self)
            objects = [stack.format_arn(service="s3", region="", account="", resource=f"{b}/*")
                       for b in self.settings.own_buckets()]
            actions = ["s3:GetObject"] + (["s3:RestoreObject"] if self.settings.access.restore_days else [])
            iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=objects)

    def _grant_credentials(self, grantee: iam.IGrantable) -> None:
        iam.Grant.add_to_principal(grantee=grantee, actions=["ssm:GetParameter"],
                                   resource_arns=[self.credentials_arn])

    def _grant_buckets(self, grantee: iam.IGrantable, buckets: list[str], *, listing_only: bool = False) -> None:
        if not buckets:
            return
        stack = Stack.of(self)
        bucket_arns = [stack.format_arn(service="s3", region="", account="", resource=b) for b in buckets]
        object_arns = [f"{arn}/*" for arn in bucket_arns]
        iam.Grant.add_to_principal(grantee=grantee, actions=["s3:ListBucket", "s3:ListBucketVersions",
                                                             "s3:GetBucketLocation"], resource_arns=bucket_arns)
        if listing_only:
            return
        if self.settings.job_type == "PUT":  # this account reads the source
            actions = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes", "s3:GetObjectTagging",
                       "s3:GetObjectVersionTagging",  # tags are copied too (CopyTags, on by default)
                       "s3:GetObjectRetention", "s3:GetObjectLegalHold"]  # shown to --copy-object-lock
        else:  # this account writes the destination
            actions = ["s3:PutObject", "s3:PutObjectTagging", "s3:GetObject", "s3:AbortMultipartUpload",
                       "s3:ListMultipartUploadParts", "s3:DeleteObject"]
            if self.settings.access.acl:
                actions.append("s3:PutObjectAcl")
            if self.settings.access.copy_object_lock:
                actions += ["s3:PutObjectRetention", "s3:PutObjectLegalHold"]
            iam.Grant.add_to_principal(grantee=grantee, actions=["s3:ListBucketMultipartUploads"],
                                       resource_arns=bucket_arns)
        iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=object_arns)

    # -- dashboard ---------------------------------------------------------------------------------------

    def traffic_metric(self, name: str, dimensions: dict[str, str] | None = None) -> cloudwatch.Metric:
        return cloudwatch.Metric(namespace=METRIC_NAMESPACE, metric_name=name, dimensions_map=dimensions,
                                 statistic="Sum", period=Duration.minutes(1))

    def add_common_widgets(self, traffic_dimensions: dict[str, str] | None, log_group: logs.ILogGroup) -> None:
        """Traffic (bytes/min), objects, queue depth and dead letters, ERROR/WARNING/TIMEOUT counts."""
        metric = self.traffic_metric
        warnings = self._log_count(log_group, "WARNING-Logs", logs.FilterPattern.literal('"WARNING"'))
        errors = self._log_count(log_group, "ERROR-Logs", logs.FilterPattern.literal('"ERROR"'))
        timeouts = self._log_count(log_group, "TIMEOUT-Logs", logs.FilterPattern.literal('"Task timed out"'))
        visible = self.queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(1))
        in_flight = self.queue.metric_approximate_number_of_messages_not_visible(period=Duration.minutes(1))
        dead = self.dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(1))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Traffic (bytes/min)", width=12, left=[
                metric("BytesDownloaded", traffic_dimensions), metric("BytesUploaded", traffic_dimensions),
                metric("BytesCompleted", traffic_dimensions)]),
            cloudwatch.GraphWidget(title="Objects (per min)", width=12, left=[
                metric("ObjectsDone", traffic_dimensions), metric("ObjectsFailed", traffic_dimensions)]),
            cloudwatch.GraphWidget(title="Queue", width=12, left=[visible, in_flight], right=[dead]),
            cloudwatch.GraphWidget(title="ERROR / WARNING / TIMEOUT log lines", width=12,
                                   left=[errors, warnings, timeouts]),
            cloudwatch.GraphWidget(title="The original's traffic metrics (bytes/min, no dimensions)", width=12,
                                   left=[metric(name) for name in ORIGINAL_TRAFFIC_METRICS],
                                   right=[cloudwatch.Metric(namespace=METRIC_NAMESPACE, metric_name="MaxMemoryUsed",
                                                            statistic="Maximum", period=Duration.minutes(1))]),
        )

    def _log_count(self, log_group: logs.ILogGroup, name: str, pattern: logs.IFilterPattern) -> cloudwatch.Metric:
        """The original's log metric filters, with its names (``ERROR-Logs``, ``WARNING-Logs``, ``TIMEOUT-Logs``
        for the Lambda runtime's "Task timed out"), so existing alarms keep working."""
        logs.MetricFilter(
            self, name.replace("-", ""), log_group=log_group, metric_namespace=METRIC_NAMESPACE,
            metric_name=name, filter_pattern=pattern, metric_value="1", default_value=0,
        )
        return cloudwatch.Metric(namespace=METRIC_NAMESPACE, metric_name=name, statistic="Sum",
                                 period=Duration.minutes(1))
