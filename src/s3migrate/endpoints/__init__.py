"""Where objects live: bucket locations, endpoint settings and the S3 client factory."""

from s3migrate.endpoints.client import Endpoint, make_s3_client
from s3migrate.endpoints.location import S3Location

__all__ = ["Endpoint", "S3Location", "make_s3_client"]
