import threading
import time

import pytest

from s3migrate.endpoints.failures import classify, client_error
from s3migrate.engine.budget import ByteBudget
from s3migrate.engine.digest import etag_digest, md5_digest, multipart_etag
from s3migrate.engine.retry import with_retries
from s3migrate.engine.server_side import same_service
from s3migrate.errors import Disposition, JobInterrupted, SourceChangedError


def test_budget_bounds_bytes_in_flight() -> None:
    budget = ByteBudget(100)
    assert budget.acquire(60) == 60
    got: list[int] = []
    t = threading.Thread(target=lambda: got.append(budget.acquire(60)))
    t.start()
    time.sleep(0.3)
    assert not got  # blocked: 60 + 60 > 100
    budget.release(60)
    t.join(2)
    assert got == [60] and budget.peak == 60


def test_budget_admits_an_oversized_request_alone_and_can_be_cancelled() -> None:
    budget = ByteBudget(100)
    assert budget.acquire(500) == 100
    cancelled = threading.Event()
    cancelled.set()
    assert budget.acquire(1, cancelled) == -1


def test_multipart_etag() -> None:
    digests = [md5_digest(b"a"), md5_digest(b"b")]
    assert multipart_etag(digests).endswith("-2")
    assert etag_digest('"0cc175b9c0f1b6a831c399e269772661"') == md5_digest(b"a")
    assert etag_digest('"abc-2"') is None


@pytest.mark.parametrize(
    ("code", "status", "disposition"),
    [("SlowDown", 503, Disposition.RETRY), ("InternalError", 500, Disposition.RETRY),
     ("PreconditionFailed", 412, Disposition.SOURCE_CHANGED), ("NoSuchKey", 404, Disposition.FATAL),
     ("AccessDenied", 403, Disposition.FATAL), ("NoSuchUpload", 404, Disposition.RESTART_UPLOAD),
     ("BadDigest", 400, Disposition.RETRY), ("Weird", 502, Disposition.RETRY)],
)
def test_classify(code: str, status: int, disposition: Disposition) -> None:
    assert classify(client_error(code, status=status)) is disposition


def test_retries_transient_then_gives_up_on_fatal() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise client_error("SlowDown", status=503)
        return "ok"

    assert with_retries(flaky, 5, sleep=lambda s: None) == "ok" and len(calls) == 3

    def fatal() -> None:
        calls.append(1)
        raise SourceChangedError("changed")

    calls.clear()
    with pytest.raises(SourceChangedError):
        with_retries(fatal, 5, sleep=lambda s: None)
    assert len(calls) == 1
    assert classify(JobInterrupted("x", timeout=True)) is Disposition.RETRY


@pytest.mark.parametrize(("src", "dst", "expected"), [
    ((None, "us-east-1"), (None, "eu-west-1"), True),  # CopyObject works across regions of one partition
    ((None, "cn-north-1"), (None, "us-east-1"), False),  # AWS China <-> global: never
    ((None, "cn-north-1"), (None, "cn-northwest-1"), True),
    (("http://127.0.0.1:9000/", None), ("http://127.0.0.1:9000", None), True),
    (("http://127.0.0.1:9000", None), ("http://127.0.0.1:9001", None), False),
    (("https://oss-cn-hangzhou.aliyuncs.com", None), (None, "cn-north-1"), False),
])
def test_server_side_copy_is_only_tried_within_one_service(
    src: tuple[str | None, str | None], dst: tuple[str | None, str | None], expected: bool
) -> None:
    assert same_service(*src, *dst) is expected


class _TaggedSource:
    def __init__(self, answer: object) -> None:
        self.answer, self.calls = answer, []

    def get_object_tagging(self, **args: object) -> object:
        self.calls.append(args)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_source_tags_are_read_only_for_tagged_objects_and_encoded_for_the_put() -> None:
    from urllib.parse import parse_qsl

    from s3migrate.engine.source import SourcePin, source_tagging
    from s3migrate.errors import TransferError
    from s3migrate.jobs.job import Job

    job = Job("src-bucket", "k", "dst-bucket", "k", 1)
    untagged = _TaggedSource({"TagSet": []})
    assert source_tagging(untagged, job, SourcePin('"e"', None), 0) == {} and untagged.calls == []
    tagged = _TaggedSource({"TagSet": [{"Key": "k x", "Value": "a/b=c+d"}, {"Key": "u", "Value": "文件"}]})
    tagging = source_tagging(tagged, job, SourcePin('"e"', "v1"), 2)["Tagging"]
    assert tagging.isascii() and parse_qsl(tagging, keep_blank_values=True) == [("k x", "a/b=c+d"), ("u", "文件")]
    assert tagged.calls == [{"Bucket": "src-bucket", "Key": "k", "VersionId": "v1"}]
    denied = _TaggedSource(client_error("AccessDenied", "Access Denied", 403))
    with pytest.raises(TransferError, match=r"GetObjectTagging.*--no-copy-tags") as raised:
        source_tagging(denied, job, SourcePin('"e"', None), 1)
    assert raised.value.disposition is Disposition.FATAL


def test_a_refused_tagged_write_names_the_tagging_permission() -> None:
    from s3migrate.engine.source import write_error

    denied = client_error("AccessDenied", "Access Denied", 403)
    tagged = write_error(denied, "destination PUT", {"Key": "k", "Tagging": "a=b"})
    assert "s3:PutObjectTagging" in str(tagged) and "--no-copy-tags" in str(tagged)
    assert tagged.disposition is Disposition.FATAL
    untagged = write_error(denied, "destination PUT", {"Key": "k"})
    assert "PutObjectTagging" not in str(untagged) and untagged.disposition is Disposition.FATAL
    throttled = write_error(client_error("SlowDown", "slow", 503), "destination PUT", {"Tagging": "a=b"})
    assert "PutObjectTagging" not in str(throttled) and throttled.disposition is Disposition.RETRY
