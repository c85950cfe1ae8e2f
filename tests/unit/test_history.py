"""Version histories in the order S3 made them: the document order of ListObjectVersions (versions and delete
markers interleaved, newest first) decides where LastModified (whole seconds) ties; chains pair by content or by
the source version a copy names."""

from __future__ import annotations

import datetime
from typing import Any

from s3migrate.endpoints.client import keep_version_order
from s3migrate.planner.history import History, Version, compare_history, list_histories
from s3migrate.planner.mapping import KeyMapping

SECOND = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Version><Key>a</Key><VersionId>v3</VersionId></Version>
<DeleteMarker><Key>a</Key><VersionId>m2</VersionId></DeleteMarker>
<Version><Key>a</Key><VersionId>v1</VersionId></Version>
<Version><Key>b</Key><VersionId>w1</VersionId></Version>
</ListVersionsResult>"""


class Pages:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def get_paginator(self, name: str) -> Any:
        assert name == "list_object_versions"
        return self

    def paginate(self, **_: Any) -> Any:
        return iter(self.pages)


def test_ties_in_time_are_ordered_as_the_service_listed_them() -> None:
    kept: dict[str, Any] = {}
    keep_version_order(response_dict={"body": XML, "status_code": 200}, customized_response_dict=kept)
    assert kept["VersionOrder"] == [("a", "v3", False), ("a", "m2", True), ("a", "v1", False), ("b", "w1", False)]
    page = {  # botocore's two lists, every LastModified in one second
        "Versions": [{"Key": "a", "VersionId": "v3", "Size": 3, "LastModified": SECOND},
                     {"Key": "a", "VersionId": "v1", "Size": 1, "LastModified": SECOND},
                     {"Key": "b", "VersionId": "w1", "Size": 5, "LastModified": SECOND}],
        "DeleteMarkers": [{"Key": "a", "VersionId": "m2", "LastModified": SECOND}],
        **kept,
    }
    histories = list(list_histories(Pages([page]), "bucket", "", 0, "source"))
    assert [h.key for h in histories] == ["a", "b"]
    assert [(v.version_id, v.delete_marker) for v in histories[0].versions] == [("v1", False), ("m2", True),
                                                                                ("v3", False)]


def test_a_key_spanning_pages_is_one_history_ordered_by_time() -> None:
    later = SECOND + datetime.timedelta(seconds=5)
    pages = [{"Versions": [{"Key": "a", "VersionId": "v2", "Size": 2, "LastModified": later}]},
             {"Versions": [{"Key": "a", "VersionId": "v1", "Size": 1, "LastModified": SECOND}]}]
    [history] = list(list_histories(Pages(pages), "bucket", "", 0, "source"))
    assert [v.version_id for v in history.versions] == ["v1", "v2"]


class Heads:
    def __init__(self, metadata: dict[str, dict[str, str]]) -> None:
        self.metadata = metadata

    def head_object(self, *, VersionId: str, **_: Any) -> dict[str, Any]:
        return {"Metadata": self.metadata.get(VersionId, {})}


def version(vid: str, size: int = 1, etag: str | None = None, marker: bool = False) -> Version:
    return Version(vid, size, etag, marker, SECOND)


def test_a_destination_history_is_a_beginning_of_the_source_or_left() -> None:
    mapping = KeyMapping("src", "", 0, "dst", "", 0)
    md5 = '"' + "a" * 32 + '"'
    src = History("k", (version("s1", etag=md5), version("s2", etag='"x-2"'), version("s3", marker=True),
                        version("s4")))
    copied = History("k", (version("d1", etag=md5), version("d2", etag='"y-3"')))
    named = Heads({"d2": {"s3migrate-source-version-id": "s2"}})
    decision = compare_history(named, mapping, src, copied)
    assert decision.diverged is None and [v.version_id for v in decision.to_copy] == ["s3", "s4"]
    unnamed = compare_history(Heads({}), mapping, src, copied)  # the ETags cannot say, and nothing names it
    assert unnamed.diverged is not None and "version 2" in unnamed.diverged
    longer = History("k", (*src.versions, version("extra")))
    assert compare_history(named, mapping, src, longer).diverged is not None
    assert compare_history(named, mapping, src, None).to_copy == src.versions


def test_a_chain_is_one_message_decoded_in_order() -> None:
    from s3migrate.jobs.codec import decode_message, encode_chain
    from s3migrate.jobs.job import Job

    jobs = [Job("s", "k", "d", "k", 5, version_id="null", etag='"e1"', history=True),
            Job("s", "k", "d", "k", 0, version_id="m2", history=True, delete_marker=True),
            Job("s", "k", "d", "k", 7, version_id="v3", etag='"e3"', history=True)]
    decoded = decode_message(encode_chain(jobs))
    assert decoded.sequential and decoded.jobs == jobs
    assert len({job.ledger_key for job in decoded.jobs}) == 3  # each version is done once, on its own
    assert decoded.jobs[0].tagged({})["Metadata"] == {"s3migrate-source-version-id": "null"}
