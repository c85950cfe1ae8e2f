"""The serverless deployment: a worker Lambda fed by SQS and a jobsender Lambda on a schedule."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as notifications
from constructs import Construct

from s3migrate_deploy.asset import RUNTIME, lambda_code
from s3migrate_deploy.core import MigrationCore
from s3migrate_deploy.settings import DeploySettings


class ServerlessStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, settings: DeploySettings, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        name, options = settings.name, settings.serverless
        core = MigrationCore(self, "Core", settings)
        self.core = core
        code = lambda_code()
        environment = core.environment()

        trigger_bucket = None
        if options.trigger_bucket:
            trigger_bucket = s3.Bucket(
                self, "TriggerBucket", encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL, removal_policy=RemovalPolicy.RETAIN,
            )
            trigger_bucket.add_event_notification(s3.EventType.OBJECT_CREATED, notifications.SqsDestination(core.queue))
            CfnOutput(self, "TriggerBucketName", value=trigger_bucket.bucket_name,
                      description="Objects created here are copied by the worker")

        worker_logs = logs.LogGroup(self, "WorkerLogs", retention=logs.RetentionDays.ONE_MONTH,
                                    removal_policy=RemovalPolicy.DESTROY)
        worker = lambda_.Function(
            self, "Worker", function_name=f"{name}-worker", runtime=RUNTIME, code=code,
            handler="s3migrate.lambdas.worker.handler", memory_size=options.worker_memory_mib,
            timeout=Duration.minutes(options.worker_timeout_minutes), environment=environment,
            log_group=worker_logs, architecture=lambda_.Architecture.X86_64,
            reserved_concurrent_executions=options.max_concurrency or None,
            description="s3migrate worker: copies the objects named by SQS messages",
        )
        worker.add_event_source(sources.SqsEventSource(
            core.queue, batch_size=options.batch_size, report_batch_item_failures=True,
            max_batching_window=Duration.seconds(0) if options.batch_size == 1 else Duration.seconds(1),
        ))
        core.grant_worker(worker)
        if trigger_bucket is not None:
            trigger_bucket.grant_read(worker)

        sender_logs = logs.LogGroup(self, "JobsenderLogs", retention=logs.RetentionDays.ONE_MONTH,
                                    removal_policy=RemovalPolicy.DESTROY)
        jobsender = lambda_.Function(
            self, "Jobsender", function_name=f"{name}-jobsender", runtime=RUNTIME, code=code,
            handler="s3migrate.lambdas.jobsender.handler", memory_size=1024, timeout=Duration.minutes(15),
            environment=environment, log_group=sender_logs, architecture=lambda_.Architecture.X86_64,
            reserved_concurrent_executions=1,
            description="s3migrate jobsender: compares the bucket pairs and queues what is missing",
        )
        core.grant_jobsender(jobsender)
        events.Rule(self, "JobsenderSchedule", schedule=events.Schedule.expression(options.jobsender_schedule),
                    targets=[targets.LambdaFunction(jobsender)])

        core.add_common_widgets({"FunctionName": worker.function_name}, worker_logs)
        core.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Concurrent executions", width=8, left=[
                worker.metric("ConcurrentExecutions", statistic="Maximum", period=Duration.minutes(1))]),
            cloudwatch.GraphWidget(title="Invocations / errors / throttles", width=8, left=[
                worker.metric_invocations(period=Duration.minutes(1)),
                worker.metric_errors(period=Duration.minutes(1)),
                worker.metric_throttles(period=Duration.minutes(1)),
                jobsender.metric_errors(period=Duration.minutes(5), label="Jobsender errors")]),
            cloudwatch.GraphWidget(title="Duration (ms) and memory (MiB)", width=8, left=[
                worker.metric_duration(statistic="Average", period=Duration.minutes(1)),
                worker.metric_duration(statistic="Maximum", period=Duration.minutes(1))], right=[
                core.traffic_metric("MaxMemoryUsed", {"FunctionName": worker.function_name}).with_(
                    statistic="Maximum")]),
        )
        CfnOutput(self, "QueueUrl", value=core.queue.queue_url)
        CfnOutput(self, "LedgerTable", value=core.table.table_name)
        CfnOutput(self, "DashboardName", value=core.dashboard.dashboard_name)
