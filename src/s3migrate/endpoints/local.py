"""A folder on this machine as an :class:`~s3migrate.endpoints.store.ObjectStore`.

It speaks S3's calls and S3's error codes (NoSuchKey, PreconditionFailed, BadDigest, NoSuchUpload, AccessDenied,
InvalidArgument), so the planner, the engine and verify treat it like any bucket: the same pinning, retries,
resume and checks. The ``Bucket`` of every call is the folder's absolute path; keys are relative paths with ``/``.

- **Reading**: a file's ETag is a pseudo-ETag of its size and mtime (never an MD5, so nothing takes it for one).
  A read pinned by ``IfMatch`` checks it before the first byte and again after the last: a file that changes
  while it is read fails as PreconditionFailed, which the engine reports as "source changed".
- **Writing one request**: bytes go to a hidden temporary file beside the target, are checked against
  Content-MD5, get the source's LastModified as their mtime and are renamed into place, so no partial file
  ever stands under the final name.
- **Writing in parts** (a large download): the parts are written in place into one hidden temporary file beside
  the target, each recorded in a journal next to it once its bytes are on disk. A killed run finds the upload
  with ListMultipartUploads and its parts with ListParts, and fetches only what is missing; completing checks
  every part against the journal, truncates, sets the mtime and renames the file into place.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import email.utils
import hashlib
import json
import logging
import mimetypes
import os
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from s3migrate.endpoints.failures import client_error
from s3migrate.endpoints.lean import ListPage
from s3migrate.endpoints.store import Abilities

log = logging.getLogger(__name__)

_PAGE = 1000
_TEMP = ".s3migrate-tmp"  # a single-request write in progress
_PARTS = ".s3migrate-part"  # the data of a write in parts
_JOURNAL = ".s3migrate-parts"  # its journal: one JSON line per finished part
_OWN_SUFFIXES = (_TEMP, _PARTS, _JOURNAL)
_COPY_BLOCK = 1 << 20


def _missing(key: str, operation: str) -> Exception:
    return client_error("NoSuchKey", f"{key}: no such file", 404, operation)


def _invalid(message: str, operation: str) -> Exception:
    return client_error("InvalidArgument", message, 400, operation)


def check_key(key: str, operation: str) -> list[str]:
    """The path components of a key that can be a file name under the folder; InvalidArgument otherwise."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in key:
        raise _invalid(f"the key {key!r} cannot be a file name (empty, '.' or '..' in its path)", operation)
    return parts


def pseudo_etag(info: os.stat_result) -> str:
    """Size and mtime, quoted like an ETag; never 32 hex digits nor ``x-N``, so no one reads an MD5 into it."""
    return f'"{info.st_mtime_ns:x}.{info.st_size:x}"'


def _modified(info: os.stat_result) -> datetime.datetime:
    """The mtime to the whole second, as S3 shows LastModified: a file uploaded in the second it was written
    is then not "newer" than its copy (--compare newer), and a downloaded file shows its object's time."""
    return datetime.datetime.fromtimestamp(info.st_mtime_ns // 1_000_000_000, datetime.UTC)


def _mtime_of(value: Any) -> float | None:
    """A LastModified (datetime, ISO text or HTTP date) as seconds since the epoch."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(text) if text else None
        return parsed.timestamp() if parsed else None


def _range(spec: str | None, size: int, key: str) -> tuple[int, int]:
    """``bytes=a-b`` as (start, length) within a file of ``size`` bytes."""
    if not spec:
        return 0, size
    try:
        first, _, last = spec.removeprefix("bytes=").partition("-")
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    except ValueError:
        raise _invalid(f"{key}: bad range {spec!r}", "GetObject") from None
    if start >= size or end < start:
        raise client_error("InvalidRange", f"{key}: {spec} is not within {size} bytes", 416, "GetObject")
    return start, end - start + 1


class _FileBody:
    """A GET's body: reads ``length`` bytes from ``start``, then checks the file is still what was pinned."""

    def __init__(self, path: str, key: str, start: int, length: int, pinned: str, follow: bool) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close(), as an HTTP body is
        self._file.seek(start)
        self._left = length
        self._path, self._key, self._pinned, self._follow = path, key, pinned, follow

    def read(self, amount: int | None = -1) -> bytes:
        want = self._left if amount is None or amount < 0 else min(amount, self._left)
        data = self._file.read(want) if want else b""
        self._left -= len(data)
        if len(data) < want or self._left == 0:
            self._check_unchanged()
            if len(data) < want:
                raise client_error("PreconditionFailed", f"{self._key}: the file got shorter while it was read",
                                   412, "GetObject")
        return data

    def _check_unchanged(self) -> None:
        info = os.stat(self._path, follow_symlinks=self._follow)
        if pseudo_etag(info) != self._pinned:
            raise client_error("PreconditionFailed", f"{self._key}: the file changed while it was read (size or "
                               "mtime)", 412, "GetObject")

    def close(self) -> None:
        self._file.close()


@dataclass
class ListingProblem:
    """A file the listing could not offer as an object, and why (reported by name, never dropped silently)."""

    path: str
    reason: str
    skipped: bool = False  # left out on purpose (a symlink under --no-follow-symlinks), not a failure


@dataclass
class _Walk:
    entries: Iterator[tuple[str, os.stat_result]]
    last: str = ""


@dataclass
class LocalStore:
    """A local folder tree; see the module docstring. ``follow_symlinks``: a link to a file is read as that file
    and a link to a folder is walked (loops are reported); False leaves links out, each reported as skipped.
    ``hidden``: absolute paths the listing leaves out (the run's own state folder)."""

    follow_symlinks: bool = True
    hidden: frozenset[str] = frozenset()
    problems: list[ListingProblem] = field(default_factory=list)
    _walks: dict[str, _Walk] = field(default_factory=dict)
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    @property
    def abilities(self) -> Abilities:
        return Abilities(streamed_put=False, ranged_listing=False, server_side_copy=False, versions=False,
                         checksums=False, filesystem=True)

    # -- listing -----------------------------------------------------------------------------------------

    def list_objects_page(self, bucket: str, prefix: str, token: str | None = None, delimiter: str = "",
                          start_after: str = "") -> ListPage:
        if delimiter:
            raise _invalid("a local folder is listed without a delimiter", "ListObjectsV2")
        walk = self._walks.pop(token, None) if token else None
        if walk is None:
            if not token:
                self.problems.clear()
            after = (token.partition(":")[2] if token else "") or start_after
            walk = _Walk(self._walk(bucket, prefix, after))
        rows: list[tuple[str, int, str | None, str | None, str | None]] = []
        for key, info in walk.entries:
            rows.append((key, info.st_size, pseudo_etag(info), None, _modified(info).isoformat()))
            walk.last = key
            if len(rows) == _PAGE:
                next_token = f"{uuid.uuid4().hex}:{key}"
                self._walks[next_token] = walk
                return ListPage(rows, next_token)
        return ListPage(rows, None)

    def _walk(self, root: str, prefix: str, after: str) -> Iterator[tuple[str, os.stat_result]]:
        """Every file under ``root`` whose key starts with ``prefix`` and sorts after ``after``, in S3's key order
        (UTF-8 bytes, a folder sorting as its name plus ``/``)."""
        try:
            info = os.stat(root)
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(info.st_mode):
            raise client_error("NoSuchBucket", f"{root} is not a folder", 404, "ListObjectsV2")
        yield from self._walk_dir(root, "", prefix, after, {(info.st_dev, info.st_ino)})

    def _walk_dir(self, path: str, base: str, prefix: str, after: str,
                  ancestors: set[tuple[int, int]]) -> Iterator[tuple[str, os.stat_result]]:
        try:
            with os.scandir(path) as listing:
                entries = list(listing)
        except OSError as exc:
            self.problems.append(ListingProblem(base or ".", f"cannot list this folder: {exc.strerror or exc}"))
            return
        named: list[tuple[bytes, str, os.DirEntry[str], os.stat_result]] = []
        for entry in entries:
            if (entry.name.startswith(".") and entry.name.endswith(_OWN_SUFFIXES)) or entry.path in self.hidden:
                continue
            key = base + entry.name
            try:
                key.encode("utf-8")
            except UnicodeEncodeError:
                shown = key.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                self.problems.append(ListingProblem(shown, "its name is not UTF-8, so it cannot be an S3 key"))
                continue
            try:
                if entry.is_symlink() and not self.follow_symlinks:
                    self.problems.append(ListingProblem(key, "a symbolic link (--no-follow-symlinks)", skipped=True))
                    continue
                info = entry.stat(follow_symlinks=self.follow_symlinks)
            except OSError as exc:
                self.problems.append(ListingProblem(key, f"cannot read it: {exc.strerror or exc}"))
                continue
            is_dir = stat.S_ISDIR(info.st_mode)
            if not is_dir and not stat.S_ISREG(info.st_mode):
                self.problems.append(ListingProblem(key, "not a regular file", skipped=True))
                continue
            named.append(((key + "/" if is_dir else key).encode("utf-8"), key, entry, info))
        named.sort(key=lambda item: item[0])
        after_bytes = after.encode("utf-8")
        prefix_bytes = prefix.encode("utf-8")
        for sort_key, key, entry, info in named:
            if stat.S_ISDIR(info.st_mode):
                # Skip a folder whose keys all sort at or before ``after``, or that cannot hold ``prefix``.
                if sort_key < after_bytes and not after_bytes.startswith(sort_key):
                    continue
                if not (sort_key.startswith(prefix_bytes) or prefix_bytes.startswith(sort_key)):
                    continue
                identity = (info.st_dev, info.st_ino)
                if identity in ancestors:
                    self.problems.append(ListingProblem(key + "/", "a symbolic link loop (it leads to a folder "
                                                                   "that contains it)"))
                    continue
                yield from self._walk_dir(entry.path, key + "/", prefix, after, ancestors | {identity})
            elif sort_key > after_bytes and sort_key.startswith(prefix_bytes):
                yield key, info

    # -- reading -----------------------------------------------------------------------------------------

    def _file(self, bucket: str, key: str, operation: str) -> tuple[str, os.stat_result]:
        check_key(key, operation)
        path = os.path.join(bucket, *key.split("/"))
        try:
            info = os.stat(path, follow_symlinks=self.follow_symlinks)
        except (FileNotFoundError, NotADirectoryError):
            raise _missing(key, operation) from None
        except PermissionError as exc:
            raise client_error("AccessDenied", f"{key}: {exc.strerror}", 403, operation) from None
        if not stat.S_ISREG(info.st_mode):
            raise _missing(key, operation)
        return path, info

    def head_object(self, *, Bucket: str, Key: str, IfMatch: str | None = None, VersionId: str | None = None,
                    PartNumber: int | None = None, **_ignored: Any) -> dict[str, Any]:
        if VersionId or PartNumber:
            raise _invalid("a local file has no versions or parts", "HeadObject")
        _, info = self._file(Bucket, Key, "HeadObject")
        etag = pseudo_etag(info)
        if IfMatch and IfMatch != etag:
            raise client_error("PreconditionFailed", f"{Key} changed", 412, "HeadObject")
        return {"ContentLength": info.st_size, "ETag": etag, "LastModified": _modified(info),
                "ContentType": mimetypes.guess_type(Key)[0] or "binary/octet-stream"}

    def get_object(self, *, Bucket: str, Key: str, Range: str | None = None, IfMatch: str | None = None,
                   VersionId: str | None = None, **_ignored: Any) -> dict[str, Any]:
        head = self.head_object(Bucket=Bucket, Key=Key, IfMatch=IfMatch, VersionId=VersionId)
        path = os.path.join(Bucket, *Key.split("/"))
        start, length = _range(Range, int(head["ContentLength"]), Key)
        try:
            body = _FileBody(path, Key, start, length, str(head["ETag"]), self.follow_symlinks)
        except PermissionError as exc:
            raise client_error("AccessDenied", f"{Key}: {exc.strerror}", 403, "GetObject") from None
        except FileNotFoundError:
            raise _missing(Key, "GetObject") from None
        return {**head, "Body": body, "ContentLength": length}

    def get_object_tagging(self, **_ignored: Any) -> dict[str, Any]:
        return {"TagSet": []}

    # -- writing one request -----------------------------------------------------------------------------

    def _target(self, bucket: str, key: str, operation: str) -> str:
        """The file a key is written to, its folders made; InvalidArgument when a file or folder is in the way."""
        parts = check_key(key, operation)
        folder = os.path.join(bucket, *parts[:-1])
        try:
            os.makedirs(folder, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise _invalid(f"cannot write {key}: a file stands where a folder of its path must be", operation) \
                from None
        except PermissionError as exc:
            raise client_error("AccessDenied", f"{key}: {exc.strerror}", 403, operation) from None
        target = os.path.join(folder, parts[-1])
        if os.path.isdir(target):
            raise _invalid(f"cannot write {key}: a folder of that name exists", operation)
        return target

    def put_object(self, *, Bucket: str, Key: str, Body: Any, ContentMD5: str | None = None,
                   SourceLastModified: Any = None, **_ignored: Any) -> dict[str, Any]:
        target = self._target(Bucket, Key, "PutObject")
        temp = _hidden(target, uuid.uuid4().hex[:12], _TEMP)
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with open(temp, "wb") as out:
                for chunk in _chunks(Body):
                    digest.update(chunk)
                    out.write(chunk)
            if ContentMD5 is not None and _md5_header(digest.digest()) != ContentMD5:
                raise client_error("BadDigest", f"{Key}: the bytes do not have the MD5 that was sent", 400,
                                   "PutObject")
            _finish(temp, target, SourceLastModified)
        except BaseException:
            _remove(temp)
            raise
        # The ETag the file now lists with (the bytes were checked against Content-MD5 above), so the ledger
        # records what verify will see.
        return {"ETag": pseudo_etag(os.stat(target))}

    def delete_object(self, *, Bucket: str, Key: str, **_ignored: Any) -> dict[str, Any]:
        check_key(Key, "DeleteObject")
        with contextlib.suppress(FileNotFoundError):  # as S3: deleting what is not there succeeds
            os.remove(os.path.join(Bucket, *Key.split("/")))
        return {}

    def delete_objects(self, *, Bucket: str, Delete: dict[str, Any], **_ignored: Any) -> dict[str, Any]:
        deleted, errors = [], []
        for item in Delete.get("Objects", []):
            key = str(item["Key"])
            try:
                self.delete_object(Bucket=Bucket, Key=key)
                deleted.append({"Key": key})
            except Exception as exc:
                errors.append({"Key": key, "Code": "AccessDenied" if isinstance(exc, PermissionError) else "Error",
                               "Message": str(exc)})
        return {"Deleted": deleted, "Errors": errors}

    # -- writing in parts --------------------------------------------------------------------------------

    def create_multipart_upload(self, *, Bucket: str, Key: str, PartSize: int,
                                SourceLastModified: Any = None, **_ignored: Any) -> dict[str, Any]:
        target = self._target(Bucket, Key, "CreateMultipartUpload")
        upload_id = uuid.uuid4().hex[:16]
        header = {"key": Key, "part_size": PartSize, "initiated": time.time(),
                  "mtime": _mtime_of(SourceLastModified)}
        open(_hidden(target, upload_id, _PARTS), "wb").close()
        with open(_hidden(target, upload_id, _JOURNAL), "w") as journal:
            journal.write(json.dumps(header) + "\n")
        return {"Bucket": Bucket, "Key": Key, "UploadId": upload_id}

    def _upload(self, bucket: str, key: str, upload_id: str, operation: str) -> tuple[str, dict[str, Any],
                                                                                          dict[int, dict[str, Any]]]:
        """The data file of an upload, its header and its finished parts; NoSuchUpload when it is gone."""
        parts = check_key(key, operation)
        target = os.path.join(bucket, *parts)
        try:
            with open(_hidden(target, upload_id, _JOURNAL)) as journal:
                lines = [json.loads(line) for line in journal if line.endswith("\n")]
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
            raise client_error("NoSuchUpload", f"{key}: no upload {upload_id}", 404, operation) from None
        header, finished = lines[0], {int(line["n"]): line for line in lines[1:]}
        return target, header, finished

    def upload_part(self, *, Bucket: str, Key: str, UploadId: str, PartNumber: int, Body: Any,
                    ContentMD5: str | None = None, **more: Any) -> dict[str, Any]:
        target, header, _ = self._upload(Bucket, Key, UploadId, "UploadPart")
        data = bytes(Body) if isinstance(Body, bytes | bytearray | memoryview) else b"".join(_chunks(Body))
        digest = hashlib.md5(data, usedforsecurity=False).digest()
        if ContentMD5 is not None and _md5_header(digest) != ContentMD5:
            raise client_error("BadDigest", f"{Key}: part {PartNumber} does not have the MD5 that was sent", 400,
                               "UploadPart")
        fd = os.open(_hidden(target, UploadId, _PARTS), os.O_WRONLY)
        try:
            os.pwrite(fd, data, (PartNumber - 1) * int(header["part_size"]))
            os.fdatasync(fd)  # on disk before the journal says so
        finally:
            os.close(fd)
        # An additional checksum the part was sent with is listed again by ListParts, as S3 does, so a resumed
        # copy can trust the part without reading it back.
        checksums = {name: str(value) for name, value in more.items() if name.startswith("Checksum") and value}
        line = json.dumps({"n": PartNumber, "size": len(data), "md5": digest.hex(), "at": time.time(),
                           **checksums}) + "\n"
        with self._lock(target), open(_hidden(target, UploadId, _JOURNAL), "a") as journal:
            journal.write(line)
        return {"ETag": f'"{digest.hex()}"'}

    def list_parts(self, *, Bucket: str, Key: str, UploadId: str, **_ignored: Any) -> dict[str, Any]:
        _, _, finished = self._upload(Bucket, Key, UploadId, "ListParts")
        parts = [{"PartNumber": n, "Size": p["size"], "ETag": f'"{p["md5"]}"',
                  "LastModified": datetime.datetime.fromtimestamp(p["at"], datetime.UTC),
                  **{name: value for name, value in p.items() if name.startswith("Checksum")}}
                 for n, p in sorted(finished.items())]
        return {"Bucket": Bucket, "Key": Key, "UploadId": UploadId, "Parts": parts, "IsTruncated": False}

    def list_multipart_uploads(self, *, Bucket: str, Prefix: str = "", **_ignored: Any) -> dict[str, Any]:
        uploads = []
        for folder, _dirs, files in os.walk(Bucket):
            for name in files:
                if not (name.startswith(".") and name.endswith(_JOURNAL)):
                    continue
                try:
                    with open(os.path.join(folder, name)) as journal:
                        header = json.loads(journal.readline())
                except (OSError, ValueError):
                    continue
                upload_id = name[: -len(_JOURNAL)].rpartition(".")[2]
                if str(header["key"]).startswith(Prefix):
                    uploads.append({"Key": header["key"], "UploadId": upload_id,
                                    "Initiated": datetime.datetime.fromtimestamp(header["initiated"], datetime.UTC)})
        uploads.sort(key=lambda u: (u["Key"], u["Initiated"]))
        return {"Bucket": Bucket, "Uploads": uploads, "IsTruncated": False}

    def complete_multipart_upload(self, *, Bucket: str, Key: str, UploadId: str, MultipartUpload: dict[str, Any],
                                  **_ignored: Any) -> dict[str, Any]:
        target, header, finished = self._upload(Bucket, Key, UploadId, "CompleteMultipartUpload")
        named = MultipartUpload.get("Parts", [])
        if [int(p["PartNumber"]) for p in named] != list(range(1, len(named) + 1)):
            raise client_error("InvalidPartOrder", f"{Key}: parts must be 1..N", 400, "CompleteMultipartUpload")
        digests, size = [], 0
        for part in named:
            recorded = finished.get(int(part["PartNumber"]))
            if recorded is None or f'"{recorded["md5"]}"' != part["ETag"]:
                raise client_error("InvalidPart", f"{Key}: part {part['PartNumber']} is not the one uploaded", 400,
                                   "CompleteMultipartUpload")
            digests.append(bytes.fromhex(recorded["md5"]))
            size += int(recorded["size"])
        data = _hidden(target, UploadId, _PARTS)
        with self._lock(target):
            os.truncate(data, size)
            _finish(data, target, header.get("mtime"))
            _remove(_hidden(target, UploadId, _JOURNAL))
        return {"Bucket": Bucket, "Key": Key, "ETag": pseudo_etag(os.stat(target))}

    def abort_multipart_upload(self, *, Bucket: str, Key: str, UploadId: str, **_ignored: Any) -> dict[str, Any]:
        target, _, _ = self._upload(Bucket, Key, UploadId, "AbortMultipartUpload")
        _remove(_hidden(target, UploadId, _PARTS))
        _remove(_hidden(target, UploadId, _JOURNAL))
        return {}

    def get_paginator(self, operation: str) -> _OnePage:
        """ListParts and ListMultipartUploads as botocore paginators (a folder answers in one page)."""
        calls = {"list_parts": self.list_parts, "list_multipart_uploads": self.list_multipart_uploads}
        if operation not in calls:
            raise _invalid(f"a local folder has no {operation}", operation)
        return _OnePage(calls[operation])

    def copy_object(self, **_ignored: Any) -> dict[str, Any]:
        raise client_error("NotImplemented", "a local folder cannot copy from another store", 501, "CopyObject")

    def upload_part_copy(self, **_ignored: Any) -> dict[str, Any]:
        raise client_error("NotImplemented", "a local folder cannot copy from another store", 501, "UploadPartCopy")

    def _lock(self, target: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(target, threading.Lock())


@dataclass
class _OnePage:
    call: Any

    def paginate(self, **args: Any) -> Iterator[dict[str, Any]]:
        yield self.call(**args)


def _hidden(target: str, tag: str, suffix: str) -> str:
    """A working file beside ``target`` (hidden, and never listed as an object)."""
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}.{tag}{suffix}")


def _chunks(body: Any) -> Iterator[bytes]:
    if isinstance(body, bytes | bytearray | memoryview):
        yield bytes(body)
        return
    if hasattr(body, "read"):
        yield from iter(lambda: body.read(_COPY_BLOCK), b"")
        return
    yield from body


def _finish(temp: str, target: str, mtime: Any) -> None:
    """Give the finished file its mtime and rename it into place (atomic: the old file or the new, never half)."""
    seconds = _mtime_of(mtime)
    if seconds is not None:
        os.utime(temp, (seconds, seconds))
    try:
        os.replace(temp, target)
    except IsADirectoryError:
        raise _invalid(f"cannot write {os.path.basename(target)}: a folder of that name exists", "PutObject") \
            from None


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _md5_header(digest: bytes) -> str:
    """Content-MD5 as S3 reads it (base64 of the digest); the endpoints layer does not import the engine's."""
    return base64.b64encode(digest).decode("ascii")
