"""The lean path's SigV4 signer gives the signature botocore's S3 signer gives for the same request."""

from __future__ import annotations

import calendar
import time
from urllib.parse import quote

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

from s3migrate.endpoints.sigv4 import canonical_query, sign

NOW = calendar.timegm(time.strptime("20261127T120000Z", "%Y%m%dT%H%M%SZ"))


def botocore_signature(method: str, url: str, headers: dict[str, str], token: str | None) -> str:
    request = AWSRequest(method=method, url=url, headers=headers)
    request.context["timestamp"] = "20261127T120000Z"
    signer = S3SigV4Auth(Credentials("AKIDEXAMPLE", "secret/key+x", token), "s3", "cn-north-1")
    request.headers["X-Amz-Date"] = "20261127T120000Z"
    request.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    if token:
        request.headers["X-Amz-Security-Token"] = token
    canonical = signer.canonical_request(request)
    return str(signer.signature(signer.string_to_sign(request, canonical), request))


@given(key=st.text(min_size=1, max_size=30), version=st.text(max_size=10),
       token=st.one_of(st.none(), st.just("token/+=")))
def test_signature_matches_botocore(key: str, version: str, token: str | None) -> None:
    host = "bucket.s3.cn-north-1.amazonaws.com.cn"
    path = "/" + quote(key, safe="/~")
    query = canonical_query({"partNumber": "3", "uploadId": "a/b+c", **({"versionId": version} if version else {})})
    headers = {"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==", "Content-Type": "text/plain;  charset=utf-8"}
    signed = sign("PUT", host, path, query, headers, "AKIDEXAMPLE", "secret/key+x", "cn-north-1", token, now=NOW)
    ours = signed["Authorization"].rsplit("Signature=", 1)[1]
    assert ours == botocore_signature("PUT", f"https://{host}{path}?{query}", {**headers, "Host": host}, token)
    assert signed["X-Amz-Date"] == "20261127T120000Z" and signed["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
