"""The EC2 cluster deployment: a jobsender instance and a worker Auto Scaling group that follows the queue."""

from __future__ import annotations

import shlex

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as assets
from constructs import Construct

from s3migrate_deploy.asset import EXCLUDE, REPO
from s3migrate_deploy.core import MigrationCore
from s3migrate_deploy.settings import DeploySettings

BBR = "net.core.default_qdisc = fq\nnet.ipv4.tcp_congestion_control = bbr\n"


def install_commands(package_url: str, environment: dict[str, str], log_group: str) -> list[str]:
    """User data shared by both roles: Python, the package from the stack's asset, BBR, the log agent."""
    env_file = "\n".join(f"{key}={shlex.quote(value)}" for key, value in sorted(environment.items()))
    agent = (
        '{"logs": {"logs_collected": {"files": {"collect_list": [{"file_path": "/var/log/s3migrate/*.log", '
        f'"log_group_name": "{log_group}", "log_stream_name": "{{instance_id}}"}}]}}}}}}'
    )
    return [
        "set -euxo pipefail",
        "dnf install -y python3.11 python3.11-pip unzip amazon-cloudwatch-agent",
        f"printf '%s' {shlex.quote(BBR)} > /etc/sysctl.d/90-s3migrate-bbr.conf && sysctl --system",
        f"aws s3 cp {package_url} /opt/s3migrate.zip",
        "rm -rf /opt/s3migrate-src && mkdir -p /opt/s3migrate-src /var/log/s3migrate",
        "unzip -q /opt/s3migrate.zip -d /opt/s3migrate-src",
        "python3.11 -m venv /opt/s3migrate && /opt/s3migrate/bin/pip install --quiet /opt/s3migrate-src",
        f"cat > /etc/s3migrate.env <<'EOF'\n{env_file}\nEOF",
        'echo "AWS_DEFAULT_REGION=$(cloud-init query region)" >> /etc/s3migrate.env',
        f"cat > /opt/aws/amazon-cloudwatch-agent/etc/s3migrate.json <<'EOF'\n{agent}\nEOF",
        "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s "
        "-c file:/opt/aws/amazon-cloudwatch-agent/etc/s3migrate.json",
    ]


def unit(description: str, command: str, *, service_type: str = "simple", restart: bool = True) -> str:
    lines = [
        "[Unit]", f"Description={description}", "After=network-online.target", "Wants=network-online.target", "",
        "[Service]", f"Type={service_type}", "EnvironmentFile=/etc/s3migrate.env", f"ExecStart={command}",
        "StandardOutput=append:/var/log/s3migrate/s3migrate.log", "StandardError=inherit",
        "KillSignal=SIGTERM", "TimeoutStopSec=120",  # SIGTERM: in-flight messages go back to the queue
    ]
    if restart:
        lines += ["Restart=always", "RestartSec=10"]
    return "\n".join([*lines, "", "[Install]", "WantedBy=multi-user.target", ""])


class ClusterStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, settings: DeploySettings, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        name, options = settings.name, settings.cluster
        core = MigrationCore(self, "Core", settings)
        self.core = core

        if options.vpc_id:
            vpc = ec2.Vpc.from_lookup(self, "Vpc", vpc_id=options.vpc_id)
        else:
            vpc = ec2.Vpc(
                self, "Vpc", ip_addresses=ec2.IpAddresses.cidr(options.vpc_cidr), max_azs=2, nat_gateways=0,
                subnet_configuration=[ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC)],
            )
        vpc.add_gateway_endpoint("S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3)
        group = ec2.SecurityGroup(self, "Instances", vpc=vpc, allow_all_outbound=True,
                                  description="s3migrate instances: no inbound, outbound to S3/SQS/DynamoDB")

        package = assets.Asset(self, "Package", path=str(REPO), exclude=EXCLUDE)
        log_group = logs.LogGroup(self, "Logs", log_group_name=f"/s3migrate/{name}",
                                  retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY)
        environment = core.environment()
        machine = ec2.MachineImage.latest_amazon_linux2023()

        def role(purpose: str) -> iam.Role:
            r = iam.Role(self, f"{purpose}Role", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
                         managed_policies=[
                             iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore"),
                             iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchAgentServerPolicy")])
            package.grant_read(r)
            return r

        # Workers: `s3migrate work` as a service, on Spot when allowed, scaled on the queue.
        worker_role = role("Worker")
        core.grant_worker(worker_role)
        worker_data = ec2.UserData.for_linux()
        worker_data.add_commands(
            *install_commands(package.s3_object_url, environment, log_group.log_group_name),
            f"cat > /etc/systemd/system/s3migrate-worker.service <<'EOF'\n"
            f"{unit('s3migrate worker', '/opt/s3migrate/bin/s3migrate work --metrics-interval 60')}EOF",
            "systemctl daemon-reload && systemctl enable --now s3migrate-worker.service",
        )
        template = ec2.LaunchTemplate(
            self, "WorkerTemplate", machine_image=machine,
            instance_type=ec2.InstanceType(options.worker_instance_type), role=worker_role, user_data=worker_data,
            security_group=group, associate_public_ip_address=True, require_imdsv2=True,
            spot_options=ec2.LaunchTemplateSpotOptions() if options.spot else None,
        )
        workers = autoscaling.AutoScalingGroup(
            self, "Workers", vpc=vpc, launch_template=template, min_capacity=options.worker_min,
            max_capacity=options.worker_max, vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
        )
        jobs = cloudwatch.MathExpression(
            expression="visible + inflight", label="Jobs waiting or running", period=Duration.minutes(1),
            using_metrics={
                "visible": core.queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(1)),
                "inflight": core.queue.metric_approximate_number_of_messages_not_visible(period=Duration.minutes(1)),
            },
        )
        # Out as the queue grows, in to worker_min once nothing is waiting or running.
        middle = max(options.worker_min, 1)
        steps = [
            autoscaling.ScalingInterval(upper=1, change=options.worker_min),
            autoscaling.ScalingInterval(lower=1, upper=100, change=middle),
            autoscaling.ScalingInterval(lower=100, upper=1000, change=max(middle, options.worker_max // 2)),
            autoscaling.ScalingInterval(lower=1000, change=options.worker_max),
        ]
        workers.scale_on_metric("FollowQueue", metric=jobs, scaling_steps=steps,
                                adjustment_type=autoscaling.AdjustmentType.EXACT_CAPACITY,
                                evaluation_periods=2)

        # The jobsender: `s3migrate send` on a systemd timer (it refuses while the queue is busy).
        sender_role = role("Jobsender")
        core.grant_jobsender(sender_role)
        send_unit = unit("s3migrate jobsender", "/opt/s3migrate/bin/s3migrate send", service_type="oneshot",
                         restart=False)
        sender_data = ec2.UserData.for_linux()
        sender_data.add_commands(
            *install_commands(package.s3_object_url, environment, log_group.log_group_name),
            f"cat > /etc/systemd/system/s3migrate-send.service <<'EOF'\n{send_unit}EOF",
            "cat > /etc/systemd/system/s3migrate-send.timer <<'EOF'\n[Unit]\nDescription=s3migrate jobsender\n\n"
            f"[Timer]\nOnCalendar={options.jobsender_schedule}\nOnBootSec=2min\nPersistent=true\n\n"
            "[Install]\nWantedBy=timers.target\nEOF",
            "systemctl daemon-reload && systemctl enable --now s3migrate-send.timer",
        )
        sender = ec2.Instance(
            self, "Jobsender", vpc=vpc, instance_type=ec2.InstanceType(options.jobsender_instance_type),
            machine_image=machine, role=sender_role, user_data=sender_data, security_group=group,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC), associate_public_ip_address=True,
            require_imdsv2=True,
        )

        core.add_common_widgets({"ServiceName": "s3migrate-worker"}, log_group)
        core.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Workers", width=12, left=[cloudwatch.Metric(
                namespace="AWS/AutoScaling", metric_name="GroupInServiceInstances", statistic="Maximum",
                dimensions_map={"AutoScalingGroupName": workers.auto_scaling_group_name},
                period=Duration.minutes(1))], right=[jobs]),
            cloudwatch.GraphWidget(title="Worker network (bytes/min)", width=12, left=[
                cloudwatch.Metric(namespace="AWS/EC2", metric_name=metric, statistic="Sum",
                                  dimensions_map={"AutoScalingGroupName": workers.auto_scaling_group_name},
                                  period=Duration.minutes(1)) for metric in ("NetworkIn", "NetworkOut")]),
        )
        CfnOutput(self, "QueueUrl", value=core.queue.queue_url)
        CfnOutput(self, "LedgerTable", value=core.table.table_name)
        CfnOutput(self, "JobsenderInstance", value=sender.instance_id)
        CfnOutput(self, "WorkerGroup", value=workers.auto_scaling_group_name)
        CfnOutput(self, "DashboardName", value=core.dashboard.dashboard_name)
