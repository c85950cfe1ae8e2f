"""The Lambda asset builds on this machine for the Lambda platform, with the boto3 and botocore the tests ran
with (the runtime's may be older than the package allows)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from s3migrate_deploy.asset import build


def test_lambda_asset_contains_the_handlers_linux_wheels_and_the_tested_botocore(tmp_path: Path) -> None:
    build(tmp_path)
    assert (tmp_path / "s3migrate" / "lambdas" / "worker.py").is_file()
    assert (tmp_path / "s3migrate" / "lambdas" / "jobsender.py").is_file()
    assert any(p.name.endswith("-x86_64-linux-gnu.so") and "cpython-312" in p.name
               for p in (tmp_path / "pydantic_core").iterdir())
    for name in ("boto3", "botocore"):
        bundled = list(tmp_path.glob(f"{name}-*.dist-info"))
        assert [p.name for p in bundled] == [f"{name}-{metadata.version(name)}.dist-info"], bundled
    assert not any(p.name.startswith("tests") for p in tmp_path.iterdir())
