"""MD5 digests and S3 ETags: what we send as Content-MD5 and how we check what S3 stored."""

from __future__ import annotations

import base64
import hashlib
import re

_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def md5_digest(data: bytes | memoryview) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def content_md5(digest: bytes) -> str:
    """The Content-MD5 header value for a digest."""
    return base64.b64encode(digest).decode("ascii")


def strip_etag(etag: str | None) -> str:
    return (etag or "").strip().strip('"').lower()


def etag_digest(etag: str | None) -> bytes | None:
    """The MD5 in a single-part ETag, or None when the ETag is not a plain MD5."""
    text = strip_etag(etag)
    return bytes.fromhex(text) if _HEX32.match(text) else None


def etag_is_md5(response: dict[str, object]) -> bool:
    """Whether S3 makes this response's ETag the MD5 of the bytes: only for objects stored unencrypted or with
    SSE-S3 (AES256). Under SSE-KMS, DSSE-KMS (``aws:kms:dsse``) and SSE-C the ETags of PutObject, UploadPart,
    CompleteMultipartUpload, HEAD, GET and LIST are something else (AWS: "Checking object integrity")."""
    return response.get("ServerSideEncryption") in (None, "", "AES256") and not response.get("SSECustomerAlgorithm")


def object_md5(response: dict[str, object]) -> bytes | None:
    """The MD5 of a single-part object from a GET/HEAD/PUT response, when its ETag is one; else None."""
    etag = response.get("ETag")
    return etag_digest(etag) if isinstance(etag, str) and etag_is_md5(response) else None


def multipart_etag(part_digests: list[bytes]) -> str:
    """S3's ETag of a completed multipart upload: md5 of the concatenated part digests, ``-N``."""
    return f"{hashlib.md5(b''.join(part_digests), usedforsecurity=False).hexdigest()}-{len(part_digests)}"
