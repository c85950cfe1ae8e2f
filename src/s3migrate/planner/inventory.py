"""Planning from an S3 Inventory instead of a listing (``--from-inventory``, ``--to-inventory``).

Listing a billion keys costs a million LIST requests (about $5,000); the bucket's S3 Inventory lists them for about
$2.50. The manifest (``manifest.json``, in a bucket or a local file) names the data files (CSV gzip, Parquet or
ORC) with their MD5s; each data file is read, checked against its MD5, and its rows under the prefix (current
versions only, no delete markers) are sorted in runs of ``RUN_ROWS`` and spilled to disk. The runs are then
merged in key order, so the planner's merge-join sees an ordinary sorted listing while memory holds one run at a
time, whatever the bucket's or a data file's size. Keys in CSV inventories are URL-encoded, as S3 writes them,
and decoded here.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import heapq
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from s3migrate.endpoints.failures import describe
from s3migrate.endpoints.location import local_path
from s3migrate.errors import ConfigError, EndpointError
from s3migrate.planner.listing import ListedObject

FORMATS = ("CSV", "PARQUET", "ORC")
_CHUNK = 1 << 20
RUN_ROWS = 50_000  # rows sorted in memory at once before they are spilled to a run file


@dataclass(frozen=True)
class Manifest:
    where: str  # as the user named it
    source_bucket: str
    data_bucket: str  # where the data files are (the inventory's destination bucket)
    file_format: str  # CSV, PARQUET or ORC
    schema: tuple[str, ...]  # CSV columns (fileSchema); empty for Parquet/ORC (their files name their columns)
    files: tuple[tuple[str, str], ...]  # (key, MD5 hex) of each data file


def _normal(name: str) -> str:
    """Column names compared as S3 writes them in either spelling: ``LastModifiedDate``, ``last_modified_date``."""
    return name.strip().lower().replace("_", "")


def read_manifest(where: str, client: Any) -> Manifest:
    """The manifest at ``s3://bucket/key`` (read with ``client``) or at a local path."""
    try:
        path = local_path(where)
        if path is not None:
            text = Path(path).read_bytes()
        else:
            bucket, _, key = where[len("s3://"):].partition("/")
            text = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--from-inventory {where}: not a readable manifest.json ({exc})") from None
    except Exception as exc:
        raise EndpointError(f"inventory manifest {where}: {describe(exc)}") from None
    try:
        file_format = str(data["fileFormat"]).upper()
        files = tuple((str(f["key"]), str(f["MD5checksum"])) for f in data["files"])
        data_bucket = str(data["destinationBucket"]).rpartition(":")[2]
    except (KeyError, TypeError):
        raise ConfigError(f"inventory manifest {where}: no fileFormat, files or destinationBucket (is it an S3 "
                          "Inventory manifest.json?)") from None
    if file_format not in FORMATS:
        raise ConfigError(f"inventory manifest {where}: unknown fileFormat {data['fileFormat']!r}")
    schema = tuple(_normal(c) for c in str(data.get("fileSchema", "")).split(",")) if file_format == "CSV" else ()
    if file_format == "CSV" and ("key" not in schema or "size" not in schema):
        raise ConfigError(f"inventory manifest {where}: its CSV fileSchema has no Key and Size columns")
    return Manifest(where, str(data.get("sourceBucket", "")), data_bucket, file_format, schema, files)


def _fetch(manifest: Manifest, client: Any, key: str, md5: str, folder: str) -> str:
    """One data file on disk, checked against the manifest's MD5."""
    target = os.path.join(folder, "data")
    digest = hashlib.md5(usedforsecurity=False)
    try:
        path = local_path(manifest.where)
        if path is not None:  # a local manifest: its data files sit in the same folder tree as S3 wrote them
            source: Any = open(_local_data_file(path, key), "rb")  # noqa: SIM115 - closed below
        else:
            source = client.get_object(Bucket=manifest.data_bucket, Key=key)["Body"]
        with open(target, "wb") as out:
            for block in iter(lambda: source.read(_CHUNK), b""):
                digest.update(block)
                out.write(block)
        source.close()
    except OSError as exc:
        raise EndpointError(f"inventory data file {key}: {exc}") from None
    except Exception as exc:
        raise EndpointError(f"inventory data file {key}: {describe(exc)}") from None
    if digest.hexdigest() != md5.lower():
        raise EndpointError(f"inventory data file {key}: its MD5 is {digest.hexdigest()}, the manifest says {md5}; "
                            "not used")
    return target


def _local_data_file(manifest_path: str, key: str) -> str:
    """A data file of a manifest kept on disk: beside it (``data/...``), or under the folder that mirrors the
    inventory bucket (the manifest's own key ends with its folder)."""
    folder = os.path.dirname(manifest_path)
    for base in (folder, *(os.path.join(folder, *[".."] * up) for up in range(1, 6))):
        candidate = os.path.normpath(os.path.join(base, key))
        if os.path.exists(candidate):
            return candidate
    return os.path.join(folder, os.path.basename(key))


Row = tuple[str, int, str | None, str | None, str | None]  # key, size, ETag, storage class, LastModified


def _rows(manifest: Manifest, path: str) -> Iterator[dict[str, Any]]:
    """Each row of a data file as {normalised column: value}."""
    if manifest.file_format == "CSV":
        with gzip.open(path, "rt", encoding="utf-8", newline="") as text:
            for values in csv.reader(text):
                yield dict(zip(manifest.schema, values, strict=False))
        return
    try:
        import pyarrow.orc as orc
        import pyarrow.parquet as parquet
    except ImportError:
        raise ConfigError(f"a {manifest.file_format} inventory needs pyarrow: pip install 's3migrate[inventory]'") \
            from None
    batches: Any
    if manifest.file_format == "PARQUET":
        batches = parquet.ParquetFile(path).iter_batches(batch_size=65536)
    else:
        reader = orc.ORCFile(path)
        batches = (reader.read_stripe(i) for i in range(reader.nstripes))
    for batch in batches:
        names: list[str] = [_normal(name) for name in batch.schema.names]
        for row in zip(*(column.to_pylist() for column in batch.columns), strict=True):
            yield dict(zip(names, row, strict=True))


def _row(values: dict[str, Any], csv_keys: bool) -> Row | None:
    """A current object's row (None for a delete marker or an older version)."""
    if str(values.get("isdeletemarker", "")).lower() == "true" or str(values.get("islatest", "true")).lower() \
            == "false":
        return None
    key = str(values["key"])
    if csv_keys:
        key = unquote_plus(key)
    etag = values.get("etag")
    modified = values.get("lastmodifieddate")
    if modified is not None and hasattr(modified, "isoformat"):
        modified = modified.isoformat()
    return (key, int(values.get("size") or 0), f'"{etag}"' if etag else None, values.get("storageclass") or None,
            str(modified) if modified else None)


def inventory_listing(manifest: Manifest, client: Any, prefix: str, cut: int) -> Iterator[ListedObject]:
    """The inventory's current objects under ``prefix`` in key order (the first ``cut`` characters removed)."""
    folder = tempfile.mkdtemp(prefix="s3migrate-inventory-")
    try:
        runs: list[str] = []

        def spill(rows: list[Row]) -> None:
            rows.sort(key=lambda row: row[0])
            run = os.path.join(folder, f"run-{len(runs)}")
            with open(run, "w", encoding="utf-8") as out:
                for row in rows:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
            runs.append(run)
            rows.clear()

        for key, md5 in manifest.files:
            data = _fetch(manifest, client, key, md5, folder)
            rows: list[Row] = []
            for values in _rows(manifest, data):
                row = _row(values, manifest.file_format == "CSV")
                if row is not None and row[0].startswith(prefix):
                    rows.append(row)
                    if len(rows) >= RUN_ROWS:  # memory holds one run, whatever a data file's size
                        spill(rows)
            if rows:
                spill(rows)
            os.remove(data)
        files = [open(run, encoding="utf-8") for run in runs]  # noqa: SIM115 - closed below
        try:
            merged = heapq.merge(*(map(json.loads, f) for f in files), key=lambda row: row[0])
            previous = None
            for key, size, etag, storage_class, modified in merged:
                if key == previous:  # the same key in two data files (an inventory taken while it changed)
                    continue
                previous = key
                yield ListedObject(key[cut:], size, etag, storage_class=storage_class, last_modified=modified)
        finally:
            for f in files:
                f.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
