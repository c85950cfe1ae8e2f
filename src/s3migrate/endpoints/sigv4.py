"""AWS Signature Version 4 for S3 header-signed requests with an unsigned payload: the lean path's signer.

botocore's signer builds an AWSRequest and re-derives the signing key on every call (about 0.13 ms of CPU per
request here, a sixth of a small object's client CPU); this one caches the key per day and region. It signs
what botocore's S3 signer signs: the path as sent (S3 paths are not normalised or double-encoded), the sorted
query, every header sent, ``x-amz-content-sha256: UNSIGNED-PAYLOAD`` (integrity comes from Content-MD5).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import time
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


@functools.lru_cache(maxsize=64)
def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), day.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def canonical_query(query: dict[str, str]) -> str:
    """The query string, encoded as SigV4 wants it; send exactly this string."""
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items()))


def sign(
    method: str,
    host: str,
    path: str,
    query: str,
    headers: dict[str, str],
    access_key: str,
    secret_key: str,
    region: str,
    session_token: str | None = None,
    now: float | None = None,
    service: str = "s3",
) -> dict[str, str]:
    """``headers`` plus Host, X-Amz-Date, X-Amz-Content-SHA256, the token and Authorization."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    signed = {**headers, "Host": host, "X-Amz-Date": stamp, "X-Amz-Content-SHA256": UNSIGNED_PAYLOAD}
    if session_token:
        signed["X-Amz-Security-Token"] = session_token
    canonical = sorted((name.lower(), " ".join(str(value).split())) for name, value in signed.items())
    names = ";".join(name for name, _ in canonical)
    request = "\n".join([method, path, query, *(f"{n}:{v}" for n, v in canonical), "", names, UNSIGNED_PAYLOAD])
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(request.encode()).hexdigest()}"
    signature = hmac.digest(_signing_key(secret_key, stamp[:8], region, service), to_sign.encode(), "sha256").hex()
    signed["Authorization"] = (f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={names}, "
                               f"Signature={signature}")
    return signed
