"""The Lambda deployment asset: the s3migrate package and its dependencies, built by pip on this machine
for the Lambda runtime's platform (no Docker needed).

boto3 and botocore are bundled at the versions installed here, the ones the tests ran with: the Lambda
runtime's own copies are older than this package allows at times, and the lean path relies on botocore
internals that it checks only against the versions it was tested with."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO = Path(__file__).resolve().parents[2]
RUNTIME = lambda_.Runtime.PYTHON_3_12
PYTHON_VERSION = "3.12"
PLATFORM = "manylinux2014_x86_64"
# Pinned in the asset to what this environment has (and the tests ran with).
PINNED = ("boto3", "botocore", "s3transfer", "urllib3")
EXCLUDE = [".git", ".venv", "**/__pycache__", "deploy", "tests", "bench", ".mypy_cache", ".ruff_cache",
           ".pytest_cache", ".hypothesis", ".benchmarks", "*.db", "cdk.out", "build", "*.egg-info", ".ci"]


def build(output: Path, repo: Path = REPO, python_version: str = PYTHON_VERSION) -> None:
    """pip-install the package for the Lambda platform into ``output`` (the asset's root).
    ``python_version`` other than the runtime's is for local Lambda emulators running another Python."""
    with tempfile.TemporaryDirectory() as work:
        source, wheels = Path(work) / "source", Path(work) / "wheels"
        # Built from a copy, so the build leaves nothing behind in the working tree.
        shutil.copytree(repo / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(repo / name, source / name)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", str(source), "-w",
                        str(wheels)], check=True)
        wheel = next(wheels.glob("s3migrate-*.whl"))
        pins = [f"{name}=={metadata.version(name)}" for name in PINNED]
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(output),
                        "--platform", PLATFORM, "--implementation", "cp", "--python-version", python_version,
                        "--only-binary=:all:", "--upgrade", str(wheel), *pins], check=True)
    for leftover in ("bin", "__pycache__"):
        shutil.rmtree(output / leftover, ignore_errors=True)


@jsii.implements(ILocalBundling)
class _PipBundling:
    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        build(Path(output_dir))
        return True


def lambda_code() -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(REPO),
        exclude=EXCLUDE,
        bundling=BundlingOptions(image=DockerImage.from_registry("unused-local-bundling"), local=_PipBundling()),
    )
