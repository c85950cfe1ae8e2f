"""S3's and botocore's failures, translated at the endpoint boundary into what a transfer should do.

Everything above the endpoints reasons about a :class:`~s3migrate.errors.Disposition` (retry, give up, re-plan,
restart the upload) and about our own exceptions, never about HTTP status codes or botocore's classes.
"""

from __future__ import annotations

import socket
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from urllib3.exceptions import HTTPError as Urllib3HTTPError
from urllib3.exceptions import ProtocolError

from s3migrate.errors import (
    Disposition,
    EndpointError,
    SourceChangedError,
    SourceMissingError,
    TransferError,
)

# S3 error codes grouped by what they mean for a transfer.
_THROTTLE_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests",
     "RequestThrottled", "ProvisionedThroughputExceededException"}
)
_TRANSIENT_CODES = frozenset(
    {"InternalError", "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException",
     "BadDigest", "IncompleteBody", "OperationAborted", "RequestTimeTooSkewed"}
)
# Credentials the service refuses: no retry of the same request changes that. Keys kept in SSM are read again
# about once a minute (endpoints.client), so a rotated parameter reaches running workers without a restart; an
# object refused in between fails by name and the next plan sends it again.
_CREDENTIAL_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken",
     "TokenRefreshRequired", "InvalidClientTokenId", "UnrecognizedClientException"}
)
_SOURCE_CHANGED_CODES = frozenset({"PreconditionFailed", "412"})
_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})
_UPLOAD_GONE_CODES = frozenset({"NoSuchUpload", "InvalidPart", "InvalidPartOrder", "EntityTooSmall"})
_FATAL_CODES = frozenset(
    {"AccessDenied", "403", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch",
     "InvalidBucketName", "AllAccessDisabled", "AccountProblem", "InvalidObjectState",
     "InvalidStorageClass", "EntityTooLarge", "KeyTooLongError", "InvalidArgument", "MethodNotAllowed",
     "InvalidRequest", "NotImplemented", "InvalidRange"}
)


def error_code(exc: BaseException) -> str:
    """The S3 error code of a service error ('' when absent, or for any other exception)."""
    if not isinstance(exc, ClientError):
        return ""
    return str(exc.response.get("Error", {}).get("Code", ""))


def http_status(exc: BaseException) -> int:
    """The HTTP status of a service error (0 for any other exception)."""
    if not isinstance(exc, ClientError):
        return 0
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_service_error(exc: BaseException) -> bool:
    """Whether the service answered (an error code and status), rather than the network or the client failing."""
    return isinstance(exc, ClientError)


def classify(exc: BaseException) -> Disposition:
    """Map any exception raised while copying one object to what the job should do next."""
    if isinstance(exc, TransferError):
        return exc.disposition
    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = http_status(exc)
        if code in _CREDENTIAL_CODES:
            return Disposition.FATAL
        if code in _SOURCE_CHANGED_CODES or status == 412:
            return Disposition.SOURCE_CHANGED
        if code in _UPLOAD_GONE_CODES:
            return Disposition.RESTART_UPLOAD
        if code in _THROTTLE_CODES or code in _TRANSIENT_CODES or status >= 500 or status == 429:
            return Disposition.RETRY
        if code in _MISSING_CODES or code in _FATAL_CODES:
            return Disposition.FATAL
        return Disposition.FATAL if 400 <= status < 500 else Disposition.RETRY
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError, ProfileNotFound, ParamValidationError,
                        CredentialRetrievalError)):
        return Disposition.FATAL  # the request itself is wrong, or there are no keys: retrying cannot help
    if isinstance(
        exc,
        (BotoConnectionError, ReadTimeoutError, ResponseStreamingError, BotoCoreError,
         ProtocolError, Urllib3HTTPError, socket.timeout, ConnectionError, TimeoutError),
    ):
        return Disposition.RETRY
    return Disposition.FATAL


def describe(exc: BaseException) -> str:
    """One human line for any exception, without a traceback."""
    if isinstance(exc, ClientError):
        code = error_code(exc) or str(http_status(exc))
        msg = exc.response.get("Error", {}).get("Message") or ""
        op = getattr(exc, "operation_name", "") or ""
        if code in ("404", "NotFound") and op == "HeadObject":  # HEAD answers carry no error body
            code, msg = "NotFound", "the object or its bucket does not exist"
        elif code in ("403", "Forbidden") and op == "HeadObject":
            code, msg = "AccessDenied", "access denied (HEAD answers carry no detail)"
        text = f"{code}: {msg}" if msg and msg != code else code
        return f"{text} ({op})" if op else text
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text


def names_missing_object(exc: BaseException) -> bool:
    """Whether S3 answered that the object (or version) does not exist."""
    return isinstance(exc, ClientError) and error_code(exc) in _MISSING_CODES


def names_access_denied(exc: BaseException) -> bool:
    """Whether S3 refused the request to these credentials (a code or just a 403 status, as HEAD answers)."""
    return isinstance(exc, ClientError) and (error_code(exc) in ("AccessDenied", "403") or http_status(exc) == 403)


def translate_transfer_error(exc: BaseException, what: str) -> TransferError:
    """Wrap a botocore/network exception raised while copying one object."""
    if isinstance(exc, TransferError):
        return exc
    disposition = classify(exc)
    text = f"{what}: {describe(exc)}"
    if disposition is Disposition.SOURCE_CHANGED:
        return SourceChangedError(f"source changed during the copy ({text})")
    if names_missing_object(exc) and what.startswith("source"):
        return SourceMissingError(text)
    return TransferError(text, disposition)


def translate_endpoint_error(exc: BaseException, where: str) -> EndpointError:
    """Turn a failure to reach or list a bucket into one clear line."""
    if isinstance(exc, EndpointError):
        return exc
    if isinstance(exc, ClientError):
        code = error_code(exc)
        hints: dict[str, str] = {
            "NoSuchBucket": "the bucket does not exist",
            "InvalidAccessKeyId": "the access key is not known to this endpoint (wrong credentials or endpoint?)",
            "SignatureDoesNotMatch": "the secret key is wrong for this access key",
            "AccessDenied": "access denied: these credentials may not list this bucket",
            "403": "access denied: these credentials may not list this bucket",
            "404": "the bucket does not exist",
            "PermanentRedirect": "the bucket is in another region: pass the right --from-region/--to-region",
            "AuthorizationHeaderMalformed": "wrong region for this bucket: pass --from-region/--to-region",
        }
        hint = hints.get(code)
        return EndpointError(f"{where}: {hint} ({describe(exc)})" if hint else f"{where}: {describe(exc)}")
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return EndpointError(f"{where}: no credentials found (use --from-profile/--to-profile or AWS_* variables)")
    if isinstance(exc, ProfileNotFound):
        return EndpointError(f"{where}: {describe(exc)}")
    if isinstance(exc, BotoConnectionError):
        return EndpointError(f"{where}: cannot connect ({describe(exc)})")
    return EndpointError(f"{where}: {describe(exc)}")


def client_error(code: str, message: str = "", status: int = 400, operation: str = "") -> ClientError:
    """Build a ClientError (used by fakes and by code that must re-raise a typed S3 condition)."""
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


# Answers to a server-side copy (CopyObject, UploadPartCopy) that mean "not for this pair" (no read access to
# the source, not implemented, another partition), not "this object failed".
_SERVER_SIDE_REFUSALS = frozenset({
    "AccessDenied", "NotImplemented", "InvalidRequest", "AuthorizationHeaderMalformed", "NoSuchBucket",
    "InvalidArgument", "XNotImplemented", "MethodNotAllowed", "PermanentRedirect", "400", "403", "501",
})


def server_side_refusal(exc: BaseException) -> str | None:
    """The error code when ``exc`` refuses a server-side copy for the endpoint pair, else None."""
    if not isinstance(exc, ClientError):
        return None
    code = error_code(exc) or str(http_status(exc))
    return code if code in _SERVER_SIDE_REFUSALS else None
