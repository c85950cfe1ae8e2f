"""Jobs (one object to copy), their wire format, and the multipart part layout."""

from s3migrate.jobs.codec import decode_message, encode_job
from s3migrate.jobs.job import Job
from s3migrate.jobs.layout import PartLayout

__all__ = ["Job", "PartLayout", "decode_message", "encode_job"]
