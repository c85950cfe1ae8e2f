"""The LocalStore answers as S3 would: key order, pinned reads, checked writes, parts that survive a restart, and
S3's error codes for what a folder cannot do. Real temporary folders; no servers."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3migrate.endpoints.failures import classify, error_code
from s3migrate.endpoints.local import LocalStore, pseudo_etag
from s3migrate.engine.digest import etag_digest
from s3migrate.errors import Disposition


def md5_header(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def listed(store: LocalStore, root: Path, prefix: str = "") -> list[str]:
    out: list[str] = []
    token = None
    while True:
        page = store.list_objects_page(str(root), prefix, token)
        out += [row[0] for row in page.objects]
        token = page.next_token
        if not token:
            return out


def make(root: Path, relative: str, data: bytes = b"x") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def code_of(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return error_code(caught.value)


def test_keys_list_in_s3_order_a_folder_sorting_as_its_name_and_slash(tmp_path: Path) -> None:
    for name in ["a/b", "a-c", "a0", "a.txt", "b", "é", "z/y/x", "A"]:
        make(tmp_path, name)
    assert listed(LocalStore(), tmp_path) == ["A", "a-c", "a.txt", "a/b", "a0", "b", "z/y/x", "é"]
    assert listed(LocalStore(), tmp_path, "a") == ["a-c", "a.txt", "a/b", "a0"]
    assert listed(LocalStore(), tmp_path, "z/") == ["z/y/x"]


segment = st.text(alphabet="ab-._0éZ", min_size=1, max_size=3).filter(lambda s: s not in (".", ".."))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(segment, min_size=1, max_size=3).map("/".join), min_size=1, max_size=25, unique=True))
def test_any_tree_lists_sorted_and_complete(tmp_path_factory: pytest.TempPathFactory, keys: list[str]) -> None:
    root = tmp_path_factory.mktemp("tree")
    made: set[str] = set()
    for key in keys:  # a key whose path a file already blocks (or that would block one) is left out
        parts = key.split("/")
        if any("/".join(parts[:i]) in made for i in range(1, len(parts))) or any(m.startswith(key + "/")
                                                                                for m in made):
            continue
        make(root, key)
        made.add(key)
    assert listed(LocalStore(), root) == sorted(made)


def test_pages_continue_from_their_token_and_from_a_lost_one(tmp_path: Path) -> None:
    for i in range(2500):
        make(tmp_path, f"d{i % 7}/k{i:05d}")
    store = LocalStore()
    everything = listed(store, tmp_path)
    assert len(everything) == 2500 and everything == sorted(everything)
    first = store.list_objects_page(str(tmp_path), "")
    assert first.next_token and len(first.objects) == 1000
    fresh = LocalStore()  # a token this store never made: it resumes after the key the token names
    resumed = fresh.list_objects_page(str(tmp_path), "", first.next_token)
    assert resumed.objects[0][0] == everything[1000]


def test_a_read_is_pinned_and_a_change_while_reading_is_precondition_failed(tmp_path: Path) -> None:
    path = make(tmp_path, "f.bin", b"0123456789" * 100)
    store = LocalStore()
    head = store.head_object(Bucket=str(tmp_path), Key="f.bin")
    assert head["ContentLength"] == 1000 and etag_digest(head["ETag"]) is None  # never mistaken for an MD5
    part = store.get_object(Bucket=str(tmp_path), Key="f.bin", Range="bytes=10-19", IfMatch=head["ETag"])
    assert part["Body"].read() == b"0123456789" and part["ContentLength"] == 10

    body = store.get_object(Bucket=str(tmp_path), Key="f.bin", IfMatch=head["ETag"])["Body"]
    assert body.read(500) == (b"0123456789" * 50)
    time.sleep(0.01)
    path.write_bytes(b"9" * 1000)  # same size, new mtime
    with pytest.raises(ClientError) as caught:
        body.read()
    assert classify(caught.value) is Disposition.SOURCE_CHANGED
    assert code_of(lambda: store.get_object(Bucket=str(tmp_path), Key="f.bin", IfMatch=head["ETag"])) == \
        "PreconditionFailed"
    assert code_of(lambda: store.head_object(Bucket=str(tmp_path), Key="nothing")) == "NoSuchKey"


def test_a_write_is_checked_against_its_md5_and_lands_whole_with_the_source_time(tmp_path: Path) -> None:
    store = LocalStore()
    assert code_of(lambda: store.put_object(Bucket=str(tmp_path), Key="d/x", Body=b"abc",
                                            ContentMD5=md5_header(b"abd"))) == "BadDigest"
    assert list(tmp_path.rglob("*")) == [tmp_path / "d"]  # no file, no temporary file
    put = store.put_object(Bucket=str(tmp_path), Key="d/x", Body=b"abc", ContentMD5=md5_header(b"abc"),
                           SourceLastModified="2024-05-01T12:00:00+00:00")
    info = (tmp_path / "d" / "x").stat()
    assert (tmp_path / "d" / "x").read_bytes() == b"abc" and put["ETag"] == pseudo_etag(info)
    assert info.st_mtime == 1714564800.0


def test_parts_survive_a_new_store_and_complete_into_place(tmp_path: Path) -> None:
    root = str(tmp_path)
    data = os.urandom(3 * 1024 + 100)
    chunks = [data[i:i + 1024] for i in range(0, len(data), 1024)]
    first = LocalStore()
    upload = first.create_multipart_upload(Bucket=root, Key="out/big", PartSize=1024,
                                           SourceLastModified="Wed, 01 May 2024 12:00:00 GMT")["UploadId"]
    for number in (1, 3):
        first.upload_part(Bucket=root, Key="out/big", UploadId=upload, PartNumber=number, Body=chunks[number - 1],
                          ContentMD5=md5_header(chunks[number - 1]), ChecksumCRC32="AAAAAA==")
    assert not (tmp_path / "out" / "big").exists()

    again = LocalStore()  # as after a killed run
    [found] = again.list_multipart_uploads(Bucket=root, Prefix="out/big")["Uploads"]
    assert found["UploadId"] == upload and found["Key"] == "out/big"
    parts = again.list_parts(Bucket=root, Key="out/big", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["Size"], p["ChecksumCRC32"]) for p in parts] == [(1, 1024, "AAAAAA=="),
                                                                                  (3, 1024, "AAAAAA==")]
    for number in (2, 4):
        again.upload_part(Bucket=root, Key="out/big", UploadId=upload, PartNumber=number, Body=chunks[number - 1])
    listed_parts = again.list_parts(Bucket=root, Key="out/big", UploadId=upload)["Parts"]
    wrong = [{"PartNumber": p["PartNumber"], "ETag": '"' + "0" * 32 + '"'} for p in listed_parts]
    assert code_of(lambda: again.complete_multipart_upload(Bucket=root, Key="out/big", UploadId=upload,
                                                           MultipartUpload={"Parts": wrong})) == "InvalidPart"
    done = again.complete_multipart_upload(Bucket=root, Key="out/big", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in listed_parts]})
    target = tmp_path / "out" / "big"
    assert target.read_bytes() == data and done["ETag"] == pseudo_etag(target.stat())
    assert target.stat().st_mtime == 1714564800.0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["big"]
    assert code_of(lambda: again.list_parts(Bucket=root, Key="out/big", UploadId=upload)) == "NoSuchUpload"


def test_an_aborted_upload_leaves_nothing(tmp_path: Path) -> None:
    store = LocalStore()
    upload = store.create_multipart_upload(Bucket=str(tmp_path), Key="k", PartSize=10)["UploadId"]
    store.upload_part(Bucket=str(tmp_path), Key="k", UploadId=upload, PartNumber=1, Body=b"0123456789")
    store.abort_multipart_upload(Bucket=str(tmp_path), Key="k", UploadId=upload)
    assert list(tmp_path.iterdir()) == []
    assert listed(store, tmp_path) == []


@pytest.mark.parametrize("key", ["../escape", "a/../b", "a//b", "/abs", "dir/", "."])
def test_a_key_that_cannot_be_a_file_name_is_invalid_argument(tmp_path: Path, key: str) -> None:
    store = LocalStore()
    with pytest.raises(ClientError) as caught:
        store.put_object(Bucket=str(tmp_path / "in"), Key=key, Body=b"x")
    assert error_code(caught.value) == "InvalidArgument" and classify(caught.value) is Disposition.FATAL
    assert not (tmp_path / "escape").exists()


def test_a_file_and_a_folder_of_one_name_cannot_both_be_written(tmp_path: Path) -> None:
    store = LocalStore()
    store.put_object(Bucket=str(tmp_path), Key="a", Body=b"1")
    assert code_of(lambda: store.put_object(Bucket=str(tmp_path), Key="a/b", Body=b"2")) == "InvalidArgument"
    store.put_object(Bucket=str(tmp_path), Key="c/d", Body=b"3")
    assert code_of(lambda: store.put_object(Bucket=str(tmp_path), Key="c", Body=b"4")) == "InvalidArgument"


def test_an_unreadable_file_is_access_denied_and_fails_its_object(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run as root here, whom file modes do not stop, so the refusal the kernel would give a user is
    raised where the file is opened."""
    make(tmp_path, "secret", b"s")
    real_open = open

    def refusing_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path).endswith("secret"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", refusing_open)
    with pytest.raises(ClientError) as caught:
        LocalStore().get_object(Bucket=str(tmp_path), Key="secret")
    assert error_code(caught.value) == "AccessDenied" and classify(caught.value) is Disposition.FATAL


def test_names_that_are_not_utf8_and_unlistable_folders_are_reported(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    make(tmp_path, "ok.txt")
    (tmp_path / os.fsdecode(b"bad\xff.txt")).write_bytes(b"x")
    make(tmp_path, "locked/inside.txt")
    real_scandir = os.scandir

    def refusing_scandir(path: Any) -> Any:
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", refusing_scandir)
    store = LocalStore()
    assert listed(store, tmp_path) == ["ok.txt"]
    reasons = {problem.path: problem.reason for problem in store.problems}
    assert "not UTF-8" in reasons["bad\ufffd.txt"]
    assert "cannot list this folder" in reasons["locked/"]
    assert not any(problem.skipped for problem in store.problems)


def test_the_runs_own_files_are_never_listed(tmp_path: Path) -> None:
    make(tmp_path, "data.txt")
    make(tmp_path, ".s3migrate/state.db")
    make(tmp_path, ".data.txt.1234.s3migrate-tmp")
    store = LocalStore(hidden=frozenset({str(tmp_path / ".s3migrate")}))
    assert listed(store, tmp_path) == ["data.txt"]
