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
