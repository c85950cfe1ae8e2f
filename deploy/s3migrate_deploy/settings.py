"""The deployment settings file: one TOML file for both stacks, validated before anything is synthesized."""

from __future__ import annotations

import importlib.util
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
SCHEMA = HERE.parent / "src" / "s3migrate" / "ledger" / "schema.py"
EXAMPLE = HERE / "settings.example.toml"
LOCAL = HERE / "settings.toml"
STACKS = ("serverless", "cluster")


def ledger_schema() -> Any:
    """The ledger's attribute names, from the package's schema module alone (it imports nothing), so the
    app needs neither the package's dependencies nor an install of it."""
    spec = importlib.util.spec_from_file_location("s3migrate_ledger_schema", SCHEMA)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SettingsError(ValueError):
    """A settings file that cannot be deployed; the message names the key."""


@dataclass(frozen=True)
class BucketPair:
    src_bucket: str
    des_bucket: str
    src_prefix: str = ""
    des_prefix: str = ""

    def as_original(self) -> dict[str, str]:
        """The original ``s3_migration_bucket_para`` item."""
        return {"src_bucket": self.src_bucket, "src_prefix": self.src_prefix, "des_bucket": self.des_bucket,
                "des_prefix": self.des_prefix}


@dataclass(frozen=True)
class ServerlessSettings:
    worker_memory_mib: int = 1024
    worker_timeout_minutes: int = 15
    jobsender_schedule: str = "rate(1 hour)"
    batch_size: int = 1
    max_concurrency: int = 0
    trigger_bucket: bool = True


@dataclass(frozen=True)
class ClusterSettings:
    vpc_id: str = ""
    vpc_cidr: str = "10.10.0.0/16"
    worker_instance_type: str = "c5.large"
    jobsender_instance_type: str = "t3.micro"
    worker_min: int = 0
    worker_max: int = 10
    spot: bool = True
    jobsender_schedule: str = "hourly"


@dataclass(frozen=True)
class AccessSettings:
    """How workers reach and write objects; passed as S3MIGRATE_* environment (the package validates the values
    again). A KMS key must be an ARN, so the workers' role can be granted exactly that key."""

    acl: str = ""
    sse: str = ""
    sse_kms_key_id: str = ""
    metadata: str = ""  # KEY=VALUE,KEY=VALUE
    metadata_directive: str = ""
    content_type: str = ""
    cache_control: str = ""
    content_disposition: str = ""
    content_encoding: str = ""
    content_language: str = ""
    expires: str = ""
    from_request_payer: bool = False
    to_request_payer: bool = False
    from_no_sign_request: bool = False
    copy_object_lock: bool = False
    restore_days: int = 0  # archived sources: ask for restores of this many days (0: only report them)
    restore_tier: str = ""

    def environment(self) -> dict[str, str]:
        return {f"S3MIGRATE_{name.upper()}": str(value) for name, value in self.__dict__.items()
                if value not in ("", False, 0)}


# The original names and their s3migrate defaults; passed to the functions and instances as environment.
@dataclass(frozen=True)
class AdoptSettings:
    """Resources of a running deployment (the original Longbow's, or an earlier one) to use instead of creating
    new ones: its job queue with its dead-letter queue, and its ledger table."""

    queue_arn: str = ""
    dead_letter_queue_arn: str = ""
    table_name: str = ""


WORKER_KNOBS: dict[str, Any] = {
    "JobType": "PUT",
    "StorageClass": "STANDARD",
    "MaxThread": 4,
    "MaxParallelFile": 4,
    "JobTimeout": 870,
    "ChunkSize": 5,
    "ResumableThreshold": 64,
    "JobsenderCompareVersionId": False,
    "UpdateVersionId": False,
    "GetObjectWithVersionId": False,
    "Des_bucket_default": "",
    "Des_prefix_default": "",
}


@dataclass(frozen=True)
class DeploySettings:
    name: str
    stacks: tuple[str, ...]
    alarm_email: str
    knobs: dict[str, Any]
    ssm_parameter_credentials: str
    ignore_list: tuple[str, ...]
    bucket_pairs: tuple[BucketPair, ...]
    serverless: ServerlessSettings = field(default_factory=ServerlessSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    adopt: AdoptSettings = field(default_factory=AdoptSettings)
    access: AccessSettings = field(default_factory=AccessSettings)
    source: Path = EXAMPLE

    @property
    def job_type(self) -> str:
        return str(self.knobs["JobType"])

    def own_buckets(self) -> list[str]:
        """Buckets this account's identity touches: sources with JobType PUT, destinations with GET."""
        names = [p.src_bucket if self.job_type == "PUT" else p.des_bucket for p in self.bucket_pairs]
        return sorted(set(names))

    def environment(self) -> dict[str, str]:
        """The knobs as the original environment variable names (booleans as True/False), and the access
        settings as S3MIGRATE_* names."""
        return {**{key: str(value) for key, value in self.knobs.items() if value != ""},
                **self.access.environment()}


def _section(data: dict[str, Any], name: str, cls: type[Any]) -> Any:
    values = data.pop(name, {}) or {}
    if not isinstance(values, dict):
        raise SettingsError(f"[{name}] must be a table")
    known = set(cls.__dataclass_fields__)
    unknown = set(values) - known
    if unknown:
        raise SettingsError(f"[{name}]: unknown key {sorted(unknown)[0]!r}")
    for key, value in values.items():
        expected = type(cls.__dataclass_fields__[key].default)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise SettingsError(f"[{name}] {key}: expected {expected.__name__}, got {value!r}")
    return cls(**values)


def parse(data: dict[str, Any], source: Path = EXAMPLE) -> DeploySettings:
    data = dict(data)
    serverless = _section(data, "serverless", ServerlessSettings)
    cluster = _section(data, "cluster", ClusterSettings)
    adopt = _section(data, "adopt", AdoptSettings)
    access = _section(data, "access", AccessSettings)
    if access.sse_kms_key_id and not (access.sse_kms_key_id.startswith("arn:aws") and ":kms:" in access.sse_kms_key_id):
        raise SettingsError("[access] sse_kms_key_id: the key's ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), so the "
                            "workers can be granted that key alone")
    if access.sse_kms_key_id and access.sse not in ("aws:kms", "aws:kms:dsse"):
        raise SettingsError("[access] sse_kms_key_id needs sse = \"aws:kms\" or \"aws:kms:dsse\"")
    if bool(adopt.queue_arn) != bool(adopt.dead_letter_queue_arn):
        raise SettingsError("[adopt] queue_arn and dead_letter_queue_arn go together (the alarm watches the DLQ)")
    for key in ("queue_arn", "dead_letter_queue_arn"):
        value = getattr(adopt, key)
        if value and not (value.startswith("arn:aws") and ":sqs:" in value):
            raise SettingsError(f"[adopt] {key}: an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME), not {value!r}")
    knobs = dict(WORKER_KNOBS)
    for key in WORKER_KNOBS:
        if key in data:
            value = data.pop(key)
            if type(value) is not type(WORKER_KNOBS[key]):
                raise SettingsError(f"{key}: expected {type(WORKER_KNOBS[key]).__name__}, got {value!r}")
            knobs[key] = value
    if knobs["JobType"] not in ("PUT", "GET"):
        raise SettingsError(f"JobType: PUT or GET, not {knobs['JobType']!r}")
    for key in ("MaxThread", "MaxParallelFile", "JobTimeout", "ChunkSize"):
        if knobs[key] <= 0:
            raise SettingsError(f"{key}: must be positive")
    name = str(data.pop("name", "s3migrate"))
    if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 40:
        raise SettingsError(f"name: letters, digits, - and _ only (40 at most), not {name!r}")
    stacks = tuple(data.pop("stacks", list(STACKS)))
    if not stacks or any(s not in STACKS for s in stacks):
        raise SettingsError(f"stacks: a list of {', '.join(STACKS)}")
    pairs = []
    for i, item in enumerate(data.pop("bucket_pairs", [])):
        try:
            pairs.append(BucketPair(**item))
        except TypeError as exc:
            raise SettingsError(f"bucket_pairs[{i}]: {exc}") from None
        if not pairs[-1].src_bucket or not pairs[-1].des_bucket:
            raise SettingsError(f"bucket_pairs[{i}]: src_bucket and des_bucket are required")
    settings = DeploySettings(
        name=name,
        stacks=stacks,
        alarm_email=str(data.pop("alarm_email", "")),
        knobs=knobs,
        ssm_parameter_credentials=str(data.pop("ssm_parameter_credentials", "s3_migration_credentials")),
        ignore_list=tuple(str(p) for p in data.pop("ignore_list", [])),
        bucket_pairs=tuple(pairs),
        serverless=serverless,
        cluster=cluster,
        adopt=adopt,
        access=access,
        source=source,
    )
    if data:
        raise SettingsError(f"unknown key {sorted(data)[0]!r}")
    if "@" not in settings.alarm_email:
        raise SettingsError("alarm_email: an e-mail address for the dead-letter alarm")
    if cluster.worker_min < 0 or cluster.worker_max < max(1, cluster.worker_min):
        raise SettingsError("[cluster] worker_max must be at least 1 and at least worker_min")
    if not 1 <= serverless.batch_size <= 10:
        raise SettingsError("[serverless] batch_size: 1 to 10")
    if not 1 <= serverless.worker_timeout_minutes <= 15:
        raise SettingsError("[serverless] worker_timeout_minutes: 1 to 15")
    return settings


def settings_path(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    if env.get("S3MIGRATE_DEPLOY_SETTINGS"):
        return Path(env["S3MIGRATE_DEPLOY_SETTINGS"])
    return LOCAL if LOCAL.exists() else EXAMPLE


def load(path: Path | None = None) -> DeploySettings:
    path = path or settings_path()
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise SettingsError(f"{path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: {exc}") from None
    try:
        return parse(data, path)
    except SettingsError as exc:
        raise SettingsError(f"{path}: {exc}") from None
