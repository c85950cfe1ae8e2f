"""The deployment settings file: the example is valid; mistakes are one clear line, and the app exits 2."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from s3migrate_deploy.settings import EXAMPLE, SettingsError, load, parse

APP = Path(__file__).resolve().parents[2] / "deploy" / "app.py"


def example() -> dict[str, object]:
    return tomllib.loads(EXAMPLE.read_text())


def test_the_example_is_valid_and_maps_to_the_original_names() -> None:
    settings = load(EXAMPLE)
    env = settings.environment()
    assert env["JobType"] == "PUT" and env["MaxThread"] == "4" and env["JobTimeout"] == "870"
    assert env["UpdateVersionId"] == "False" and "Des_prefix_default" not in env  # empty: left out
    assert settings.own_buckets() == ["your-source-bucket"]


@pytest.mark.parametrize(("change", "message"), [
    ({"JobType": "POST"}, "JobType"),
    ({"MaxThread": "4"}, "MaxThread: expected int"),
    ({"bogus": 1}, "unknown key 'bogus'"),
    ({"alarm_email": ""}, "alarm_email"),
    ({"stacks": ["lambda"]}, "stacks"),
    ({"serverless": {"batch_size": 20}}, "batch_size"),
    ({"cluster": {"worker_max": "ten"}}, "worker_max: expected int"),
    ({"bucket_pairs": [{"src_bucket": "a"}]}, "bucket_pairs[0]"),
    ({"adopt": {"queue_arn": "arn:aws:sqs:us-east-1:1:q"}}, "go together"),
    ({"adopt": {"queue_arn": "q", "dead_letter_queue_arn": "d"}}, "an SQS queue ARN"),
])
def test_mistakes_are_named(change: dict[str, object], message: str) -> None:
    data = {**example(), **change}
    with pytest.raises(SettingsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(data)


def test_app_with_a_broken_settings_file_exits_2_with_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "settings.toml"
    broken.write_text('JobType = "POST"\n' + EXAMPLE.read_text().replace('JobType = "PUT"', ""))
    result = subprocess.run([sys.executable, str(APP)], capture_output=True, text=True,
                            env={**os.environ, "S3MIGRATE_DEPLOY_SETTINGS": str(broken),
                                 "CDK_OUTDIR": str(tmp_path / "out")})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "JobType" in result.stderr and "Traceback" not in result.stderr
