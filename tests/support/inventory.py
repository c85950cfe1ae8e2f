"""S3 Inventory files as S3 writes them (manifest.json, CSV gzip and Parquet data files), for the tests and the
benchmark."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from typing import Any
from urllib.parse import quote_plus

CSV_SCHEMA = "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass, IsLatest, IsDeleteMarker"


def csv_gzip(bucket: str, rows: list[tuple[str, int, str]], *, deleted: tuple[str, ...] = ()) -> bytes:
    """A CSV gzip data file: (key, size, ETag) rows, keys URL-encoded as S3 writes them; ``deleted`` keys appear
    as delete markers (which a plan must leave out)."""
    text = io.StringIO()
    writer = csv.writer(text, quoting=csv.QUOTE_ALL)
    for key, size, etag in rows:
        writer.writerow([bucket, quote_plus(key, safe="/"), size, "2026-01-01T00:00:00.000Z", etag.strip('"'),
                         "STANDARD", "true", "false"])
    for key in deleted:
        writer.writerow([bucket, quote_plus(key, safe="/"), "", "2026-01-02T00:00:00.000Z", "", "", "true", "true"])
    return gzip.compress(text.getvalue().encode("utf-8"))


def parquet(bucket: str, rows: list[tuple[str, int, str]]) -> bytes:
    """A Parquet data file with S3 Inventory's column names."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "bucket": [bucket] * len(rows), "key": [r[0] for r in rows], "size": [r[1] for r in rows],
        "e_tag": [r[2].strip('"') for r in rows], "storage_class": ["STANDARD"] * len(rows),
        "is_latest": [True] * len(rows), "is_delete_marker": [False] * len(rows),
    })
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def manifest(source_bucket: str, data_bucket: str, file_format: str, files: dict[str, bytes]) -> bytes:
    """manifest.json naming ``files`` (key -> content) with their MD5s."""
    document: dict[str, Any] = {
        "sourceBucket": source_bucket, "destinationBucket": f"arn:aws:s3:::{data_bucket}", "version": "2016-11-30",
        "creationTimestamp": "1767225600000", "fileFormat": file_format,
        "files": [{"key": key, "size": len(data), "MD5checksum": hashlib.md5(data).hexdigest()}
                  for key, data in files.items()],
    }
    if file_format == "CSV":
        document["fileSchema"] = CSV_SCHEMA
    return json.dumps(document).encode()
