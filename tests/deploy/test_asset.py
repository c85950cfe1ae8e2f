"""The Lambda asset builds on this machine for the Lambda platform, without boto3 (the runtime has it)."""

from __future__ import annotations

from pathlib import Path

from s3migrate_deploy.asset import build


def test_lambda_asset_contains_the_handlers_and_linux_wheels_but_not_boto3(tmp_path: Path) -> None:
    build(tmp_path)
    assert (tmp_path / "s3migrate" / "lambdas" / "worker.py").is_file()
    assert (tmp_path / "s3migrate" / "lambdas" / "jobsender.py").is_file()
    assert any(p.name.endswith("-x86_64-linux-gnu.so") and "cpython-312" in p.name
               for p in (tmp_path / "pydantic_core").iterdir())
    for provided in ("boto3", "botocore", "s3transfer", "urllib3", "six.py"):
        assert not (tmp_path / provided).exists(), provided
    assert not any(p.name.startswith("tests") for p in tmp_path.iterdir())
