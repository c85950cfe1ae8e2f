"""s3migrate: move object storage data between S3 buckets in different accounts, regions or clouds."""

__version__ = "0.1.0"
