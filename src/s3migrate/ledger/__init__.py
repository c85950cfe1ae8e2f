"""The ledger: one record per job, as in the original DynamoDB table."""

from s3migrate.ledger.base import (
    Claim,
    ClaimResult,
    JobState,
    Ledger,
    LedgerRecord,
    LedgerSummary,
    Outcome,
    UploadRecord,
)

__all__ = [
    "Claim",
    "ClaimResult",
    "JobState",
    "Ledger",
    "LedgerRecord",
    "LedgerSummary",
    "Outcome",
    "UploadRecord",
]
