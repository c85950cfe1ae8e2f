import json

import pytest

from s3migrate.errors import BadMessageError
from s3migrate.jobs.codec import decode_message, encode_job
from s3migrate.jobs.job import Job


def test_original_message_round_trip() -> None:
    job = Job("src-b", "dir/a b+c%d/é", "dst-b", "p/dir/a b+c%d/é", 12, None, '"abc"')
    body = json.loads(encode_job(job))
    assert body["Src_key"] == "dir/a b+c%d/é" and body["versionId"] == "null" and body["Size"] == 12
    assert decode_message(encode_job(job)).jobs == [job]


def test_original_message_without_our_fields() -> None:
    body = '{"Src_bucket": "s", "Src_key": "k", "Des_bucket": "d", "Des_key": "k", "Size": 3, "versionId": "v1"}'
    (job,) = decode_message(body).jobs
    assert job.version_id == "v1" and job.etag is None


def test_s3_event_keys_are_decoded_and_destination_is_the_default() -> None:
    event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "src"}, "object": {
        "key": "folder+one/a%2Bb+%25c%C3%A9/", "size": 0, "eTag": "d41d8cd98f00b204e9800998ecf8427e",
        "versionId": "3HL4k"}}}]}
    (job,) = decode_message(json.dumps(event), ("dst", "pre")).jobs
    assert job.src_key == "folder one/a+b %cé/"
    assert job.dst_key == "pre/folder one/a+b %cé/"
    assert job.version_id == "3HL4k" and job.etag == '"d41d8cd98f00b204e9800998ecf8427e"'
    (job2,) = decode_message(json.dumps(event), ("dst", "")).jobs
    assert job2.dst_key == job2.src_key


def test_test_event_and_removals_are_ignored() -> None:
    assert decode_message('{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}').ignored
    removed = {"Records": [{"eventName": "ObjectRemoved:Delete",
                            "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]}
    assert decode_message(json.dumps(removed), ("d", "")).ignored


@pytest.mark.parametrize(
    "body",
    ["not json", "[]", '{"Src_bucket": "s"}',
     '{"Src_bucket":"s","Src_key":"k","Des_bucket":"d","Des_key":"k","Size":-1}',
     '{"Src_bucket":"s","Src_key":"k","Des_bucket":"d","Des_key":"k","Size":"x"}',
     json.dumps({"Src_bucket": "s", "Src_key": "k" * 1025, "Des_bucket": "d", "Des_key": "k", "Size": 1}),
     '{"Records": [{"s3": {}}]}', "x" * 300_000],
)
def test_malformed_messages(body: str) -> None:
    with pytest.raises(BadMessageError):
        decode_message(body, ("d", ""))


def test_event_without_default_destination_is_an_error() -> None:
    event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "s"}, "object": {"key": "k"}}}]}
    with pytest.raises(BadMessageError, match="Des_bucket_default"):
        decode_message(json.dumps(event))


S3_EVENT = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "src"}, "object": {
    "key": "photos/red+flower%2B1.jpg", "size": 42, "eTag": "0123456789abcdef0123456789abcdef"}}}]}


def test_sns_wrapped_s3_events_are_jobs() -> None:
    """S3 -> SNS -> SQS: the S3 event is a string in the notification's Message."""
    wrapped = {"Type": "Notification", "MessageId": "m1", "TopicArn": "arn:aws:sns:us-east-1:1:t",
               "Message": json.dumps(S3_EVENT), "Timestamp": "2026-01-01T00:00:00.000Z"}
    (job,) = decode_message(json.dumps(wrapped), ("dst", "")).jobs
    assert (job.src_bucket, job.src_key, job.dst_key, job.size) == ("src", "photos/red flower+1.jpg",
                                                                    "photos/red flower+1.jpg", 42)
    test_event = {"Type": "Notification", "Message": json.dumps({"Event": "s3:TestEvent", "Bucket": "src"})}
    assert decode_message(json.dumps(test_event), ("dst", "")).ignored
    with pytest.raises(BadMessageError, match="SNS"):
        decode_message(json.dumps({"Type": "Notification", "Message": "{broken"}), ("dst", ""))


def test_eventbridge_object_created_events_are_jobs() -> None:
    event = {"version": "0", "detail-type": "Object Created", "source": "aws.s3", "detail": {
        "version": "0", "bucket": {"name": "src"}, "object": {
            "key": "raw/a+b%2Bc.zip", "size": 198524144, "etag": "4af981f98d22a0b9979da24b259e5e42-12",
            "version-id": "uhggCJ2"}, "reason": "CompleteMultipartUpload"}}
    (job,) = decode_message(json.dumps(event), ("dst", "copy")).jobs
    assert (job.src_key, job.dst_key, job.size, job.version_id) == ("raw/a b+c.zip", "copy/raw/a b+c.zip",
                                                                      198524144, "uhggCJ2")
    assert job.etag == '"4af981f98d22a0b9979da24b259e5e42-12"'
    deleted = {**event, "detail-type": "Object Deleted"}
    assert decode_message(json.dumps(deleted), ("dst", "")).ignored


def test_an_event_without_a_default_destination_is_not_a_job() -> None:
    """It must reach the dead-letter queue (the worker's part), never be acked as handled."""
    with pytest.raises(BadMessageError, match="Des_bucket_default"):
        decode_message(json.dumps(S3_EVENT), None)


def test_keys_are_verbatim_unless_the_originals_mapping_is_asked_for() -> None:
    """The original built destination keys with PurePosixPath: '//' collapsed, './' dropped."""
    from s3migrate.jobs.codec import original_destination_key, posix_key

    assert original_destination_key("pre", "a//b/./c") == "pre/a//b/./c"
    assert original_destination_key("pre", "a//b/./c", posix=True) == "pre/a/b/c"
    assert original_destination_key("", "./x//", posix=True) == "x/"  # a folder marker keeps its slash
    assert posix_key("", "dir/") == "dir/" and posix_key("p", "k") == "p/k"
    event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "src"}, "object": {
        "key": "a//b", "size": 1}}}]}
    assert decode_message(json.dumps(event), ("dst", "pre")).jobs[0].dst_key == "pre/a//b"
    assert decode_message(json.dumps(event), ("dst", "pre"), posix_keys=True).jobs[0].dst_key == "pre/a/b"
