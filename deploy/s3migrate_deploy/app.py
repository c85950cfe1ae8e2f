"""Build the CDK app from the settings file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from aws_cdk import App, Environment

from s3migrate_deploy.settings import DeploySettings, SettingsError, load


def build_app(settings: DeploySettings, outdir: str | None = None, context: dict[str, object] | None = None) -> App:
    from s3migrate_deploy.cluster import ClusterStack
    from s3migrate_deploy.serverless import ServerlessStack

    app = App(outdir=outdir, context=context)
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    env = Environment(account=account, region=region) if account and region else None
    if "serverless" in settings.stacks:
        ServerlessStack(app, f"{settings.name}-serverless", settings, env=env,
                        description="s3migrate serverless: SQS-fed worker Lambda and scheduled jobsender")
    if "cluster" in settings.stacks:
        ClusterStack(app, f"{settings.name}-cluster", settings, env=env,
                     description="s3migrate cluster: EC2 worker Auto Scaling group and jobsender instance")
    return app


def main() -> int:
    try:
        settings = load()
    except SettingsError as exc:
        print(f"s3migrate deploy: {exc}", file=sys.stderr)
        return 2
    outdir = os.environ.get("CDK_OUTDIR") or str(Path(__file__).resolve().parent.parent / "cdk.out")
    build_app(settings, outdir).synth()
    return 0
