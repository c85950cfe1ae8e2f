"""Objects in S3 Glacier Flexible Retrieval or Deep Archive: not readable until restored.

A GET of such an object fails (InvalidObjectState), so the plan does not send them as copies that would fail: it
HEADs each one it would copy (a listing does not show restores), copies those whose restore is finished, and
reports the rest as archived, with the reason and a count. With ``--restore-days N`` it asks S3 for a restore
(RestoreObject, in the tier asked for), and a later run copies the object once S3 has restored it.
GLACIER_IR (Instant Retrieval) is readable as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from s3migrate.endpoints.failures import describe, error_code

ARCHIVED_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
TIERS = ("Standard", "Bulk", "Expedited")


@dataclass(frozen=True)
class RestorePolicy:
    """``--restore-days``: ask for restores of this many days, in this tier (None: only report)."""

    days: int | None = None
    tier: str = "Standard"


def archived_reason(client: Any, bucket: str, key: str, storage_class: str | None,
                    policy: RestorePolicy) -> str | None:
    """None when the object can be read now; else why it is left for a later run (and the restore asked for)."""
    if storage_class not in ARCHIVED_CLASSES:
        return None
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except Exception as exc:
        return f"in {storage_class}, and its restore state could not be read ({describe(exc)})"
    restore = str(head.get("Restore") or "")
    if 'ongoing-request="false"' in restore:
        return None  # restored: readable until its expiry date
    if 'ongoing-request="true"' in restore:
        return f"in {storage_class}: a restore is in progress; a later run copies it"
    if policy.days is None:
        return f"in {storage_class}, not restored (--restore-days N asks S3 to restore it)"
    try:
        client.restore_object(Bucket=bucket, Key=key, RestoreRequest={
            "Days": policy.days, "GlacierJobParameters": {"Tier": policy.tier}})
    except Exception as exc:
        if error_code(exc) == "RestoreAlreadyInProgress":
            return f"in {storage_class}: a restore is in progress; a later run copies it"
        return f"in {storage_class}: the restore request failed ({describe(exc)})"
    return f"in {storage_class}: restore requested ({policy.days} days, {policy.tier} tier); a later run copies it"
