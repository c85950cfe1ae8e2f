"""The s3migrate CDK app: a serverless stack and an EC2 cluster stack from one settings file."""

from __future__ import annotations

import os
import shutil
import subprocess


def quiet_node_warning() -> None:
    """jsii prints a banner when Node.js is past its end of life unless told which version to accept."""
    if "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION" in os.environ or not shutil.which("node"):
        return
    try:
        version = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return
    major = version.strip().lstrip("v").split(".")[0]
    if major.isdigit():
        os.environ["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = major


quiet_node_warning()
