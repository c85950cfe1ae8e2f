"""Local folders as SRC or DST: sync and cp both ways, resume of killed uploads and downloads from their parts, a
file changing while it is read, symbolic links, keys that cannot be file names, verify against a folder, and the
mirror into a folder. Real servers (SeaweedFS and moto's S3) and real temporary folders."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from s3migrate.endpoints.local import LocalStore
from tests.conftest import Account
from tests.integration.helpers import (
    MIB,
    deterministic_bytes,
    keys,
    no_traceback,
    put,
    read,
    run_cli,
    start_cli,
    unfinished_uploads,
)
from tests.support.faultproxy import FaultProxy, Rule
from tests.support.waits import parts_uploaded, wait_for_parts

pytestmark = pytest.mark.integration

BIG = 12 * 5 * MIB + 777  # 13 parts of 5 MiB in the tests' settings


def to_args(account: Account) -> list[str]:
    return ["--to-profile", "dst", "--to-endpoint", account.endpoint]


def from_args(account: Account) -> list[str]:
    return ["--from-profile", "dst", "--from-endpoint", account.endpoint]


def write(folder: Path, relative: str, data: bytes) -> bytes:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_folder_up_and_back_down_then_nothing_left_to_do(env: Any, buckets: tuple[str, str],
                                                            tmp_path: Path) -> None:
    _, b = env
    _, bucket = buckets
    src = tmp_path / "photos"
    made = {
        "2024/beach day.jpg": deterministic_bytes(300_000, 1),
        "2024/ünïcode.txt": b"caf\xc3\xa9\n",
        "empty.txt": b"",
        "raw/big.bin": deterministic_bytes(BIG, 2),  # a multipart upload
        "a-b": b"sorts before a/ in S3's order",
    }
    for relative, data in made.items():
        write(src, relative, data)

    up = run_cli("sync", str(src), f"s3://{bucket}/backup", *to_args(b), "-y", "--json")
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["copied"] == len(made)
    assert keys(b.client(), bucket) == {f"backup/{k}": len(v) for k, v in made.items()}
    assert read(b.client(), bucket, "backup/raw/big.bin") == made["raw/big.bin"]
    assert read(b.client(), bucket, "backup/2024/ünïcode.txt") == made["2024/ünïcode.txt"]
    again = run_cli("sync", str(src), f"s3://{bucket}/backup", *to_args(b), "-y", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["copied"] == 0, again.stdout

    down = tmp_path / "restored"
    back = run_cli("sync", f"s3://{bucket}/backup/", f"file://{down}", *from_args(b), "-y", "--json")
    assert back.returncode == 0, back.stderr
    assert files_of(down) == made
    for relative in made:  # each file carries its object's LastModified
        modified = b.client().head_object(Bucket=bucket, Key=f"backup/{relative}")["LastModified"]
        assert (down / relative).stat().st_mtime == modified.timestamp()
    assert not [p.name for p in down.rglob(".*")], "no working file is left behind"
    twice = run_cli("sync", f"s3://{bucket}/backup/", str(down), *from_args(b), "-y", "--json")
    assert twice.returncode == 0 and json.loads(twice.stdout)["copied"] == 0, twice.stdout

    proven = run_cli("verify", str(src), f"s3://{bucket}/backup", *to_args(b), "--json")
    assert proven.returncode == 0, proven.stdout
    assert json.loads(proven.stdout)["summary"]["equal"] == len(made)


def test_a_file_edited_in_place_is_sent_again_and_verify_sees_the_difference(
    env: Any, buckets: tuple[str, str], tmp_path: Path,
) -> None:
    """The default comparison with a folder is aws s3 sync's (size, then newer); verify hashes the file."""
    _, b = env
    _, bucket = buckets
    src = tmp_path / "docs"
    write(src, "notes.txt", b"version one")
    write(src, "same.txt", b"unchanged")
    assert run_cli("sync", str(src), f"s3://{bucket}", *to_args(b), "-y").returncode == 0

    time.sleep(1.1)  # the listing shows whole seconds, as S3 does
    write(src, "notes.txt", b"version two")  # the same size
    elsewhere = tmp_path / "no-ledger"  # verify without the sync's ledger: only the file's MD5 can prove it
    elsewhere.mkdir()
    differs = run_cli("verify", str(src), f"s3://{bucket}", *to_args(b), "--json", cwd=elsewhere)
    assert differs.returncode == 1, differs.stdout
    problems = json.loads(differs.stdout)["problems"]
    assert [(p["key"], p["verdict"]) for p in problems] == [("notes.txt", "different")], problems

    resent = run_cli("sync", str(src), f"s3://{bucket}", *to_args(b), "-y", "--json")
    assert resent.returncode == 0 and json.loads(resent.stdout)["copied"] == 1, resent.stdout
    assert read(b.client(), bucket, "notes.txt") == b"version two"
    equal = run_cli("verify", str(src), f"s3://{bucket}", *to_args(b), "--json", cwd=elsewhere)
    assert equal.returncode == 0 and json.loads(equal.stdout)["summary"]["equal"] == 2, equal.stdout


def test_cp_a_file_up_and_an_object_down(env: Any, buckets: tuple[str, str], tmp_path: Path) -> None:
    _, b = env
    _, bucket = buckets
    data = write(tmp_path, "in/report.pdf", deterministic_bytes(BIG, 3))
    up = run_cli("cp", str(tmp_path / "in/report.pdf"), f"s3://{bucket}/archive/", *to_args(b))
    assert up.returncode == 0, up.stderr
    assert read(b.client(), bucket, "archive/report.pdf") == data

    (tmp_path / "out").mkdir()
    into_folder = run_cli("cp", f"s3://{bucket}/archive/report.pdf", str(tmp_path / "out"), *from_args(b))
    assert into_folder.returncode == 0, into_folder.stderr
    renamed = run_cli("cp", f"s3://{bucket}/archive/report.pdf", str(tmp_path / "out/2026.pdf"), *from_args(b))
    assert renamed.returncode == 0, renamed.stderr
    assert files_of(tmp_path / "out") == {"report.pdf": data, "2026.pdf": data}

    missing = run_cli("cp", str(tmp_path / "in/nothing.pdf"), f"s3://{bucket}/", *to_args(b))
    assert missing.returncode == 2 and "no such file" in missing.stderr and no_traceback(missing)
    folder = run_cli("sync", str(tmp_path / "in/report.pdf"), f"s3://{bucket}/x/", *to_args(b), "-y")
    assert folder.returncode == 2 and "s3migrate cp" in folder.stderr and no_traceback(folder)


def test_a_killed_download_fetches_only_the_parts_it_lacks(
    accounts: tuple[Account, Account], buckets: tuple[str, str], proxies: tuple[FaultProxy, FaultProxy],
    tmp_path: Path,
) -> None:
    a, _ = accounts
    bucket, _ = buckets
    src_proxy, _ = proxies
    data = put(a.client(), bucket, "disk.img", BIG)
    src_proxy.rules.append(Rule(method="GET", pattern="disk.img", delay=0.4))  # slow the ranged reads
    down = tmp_path / "down"
    args = ["sync", f"s3://{bucket}", str(down), "--from-profile", "src", "--from-endpoint", src_proxy.endpoint_url,
            "--workers", "1", "--threads", "1", "--state", "state.db"]
    process = start_cli(*args)
    local = LocalStore()
    assert wait_for_parts(local, str(down), "disk.img", 4, process), process.communicate()
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert not (down / "disk.img").exists(), "no partial file stands under the final name"
    already = parts_uploaded(local, str(down), "disk.img")
    assert 4 <= already < 13

    src_proxy.rules.clear()
    src_proxy.paths.clear()
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    # Only the missing parts were read.
    assert src_proxy.paths.get(f"GET /{bucket}/disk.img", 0) == 13 - already, result.stderr
    assert (down / "disk.img").read_bytes() == data
    assert [p.name for p in down.iterdir()] == ["disk.img"], "the part file and its journal are gone"


def test_a_killed_upload_sends_only_the_parts_it_lacks(
    accounts: tuple[Account, Account], buckets: tuple[str, str], proxies: tuple[FaultProxy, FaultProxy],
    tmp_path: Path,
) -> None:
    _, b = accounts
    _, bucket = buckets
    _, dst_proxy = proxies
    data = write(tmp_path / "up", "video.bin", deterministic_bytes(BIG, 4))
    dst_proxy.rules.append(Rule(method="PUT", pattern="partNumber=", delay=0.4))
    args = ["sync", str(tmp_path / "up"), f"s3://{bucket}", "--to-profile", "dst", "--to-endpoint",
            dst_proxy.endpoint_url, "--workers", "1", "--threads", "1", "--state", "state.db"]
    process = start_cli(*args)
    assert wait_for_parts(b.client(), bucket, "video.bin", 4, process), process.communicate()
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    time.sleep(1.0)  # a part the proxy was still holding may land after the client died
    already = parts_uploaded(b.client(), bucket, "video.bin")
    assert 4 <= already < 13

    dst_proxy.rules.clear()
    dst_proxy.counts.clear()
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert dst_proxy.counts.get("PUT part", 0) == 13 - already
    assert read(b.client(), bucket, "video.bin") == data
    assert unfinished_uploads(b.client(), bucket) == []


def test_a_file_that_changes_while_it_is_read_fails_as_source_changed(
    accounts: tuple[Account, Account], buckets: tuple[str, str], proxies: tuple[FaultProxy, FaultProxy],
    tmp_path: Path,
) -> None:
    _, b = accounts
    _, bucket = buckets
    _, dst_proxy = proxies
    path = tmp_path / "up" / "growing.log"
    write(tmp_path / "up", "growing.log", deterministic_bytes(BIG, 5))
    dst_proxy.rules.append(Rule(method="PUT", pattern="partNumber=", delay=0.4))
    args = ["sync", str(tmp_path / "up"), f"s3://{bucket}", "--to-profile", "dst", "--to-endpoint",
            dst_proxy.endpoint_url, "--workers", "1", "--threads", "1", "--max-retries", "1"]
    process = start_cli(*args)
    assert wait_for_parts(b.client(), bucket, "growing.log", 2, process), process.communicate()
    with path.open("r+b") as handle:  # rewritten in place: the same size, new bytes, a new mtime
        handle.seek(BIG // 2)
        handle.write(b"X" * 100)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1 and "source changed" in stderr and "growing.log" in stderr, stderr
    assert "growing.log" not in keys(b.client(), bucket)

    dst_proxy.rules.clear()
    assert run_cli(*args).returncode == 0
    assert read(b.client(), bucket, "growing.log") == path.read_bytes()


def test_symbolic_links_are_followed_by_default_and_left_out_on_request(
    env: Any, buckets: tuple[str, str], tmp_path: Path,
) -> None:
    _, b = env
    _, bucket = buckets
    src = tmp_path / "tree"
    write(src, "real/data.txt", b"the data")
    (src / "link.txt").symlink_to(src / "real" / "data.txt")
    (src / "linked-folder").symlink_to(src / "real", target_is_directory=True)
    (src / "real" / "loop").symlink_to(src, target_is_directory=True)  # leads back up: reported, not walked

    followed = run_cli("sync", str(src), f"s3://{bucket}/f", *to_args(b), "-y", "--json")
    assert followed.returncode == 1, followed.stderr  # the loop fails by name
    failed = json.loads(followed.stdout)["failed"]  # both ways into the loop are named
    assert {f["object"] for f in failed} == {"real/loop/", "linked-folder/loop/"}, failed
    assert all("loop" in f["reason"] for f in failed)
    assert keys(b.client(), bucket, "f/") == {"f/link.txt": 8, "f/linked-folder/data.txt": 8, "f/real/data.txt": 8}
    assert read(b.client(), bucket, "f/link.txt") == b"the data"

    left_out = run_cli("sync", str(src), f"s3://{bucket}/n", *to_args(b), "-y", "--no-follow-symlinks")
    assert left_out.returncode == 0, left_out.stderr
    assert "left out 3 files" in left_out.stderr and "link.txt: a symbolic link" in left_out.stderr
    assert keys(b.client(), bucket, "n/") == {"n/real/data.txt": 8}


def test_keys_that_cannot_be_file_names_fail_by_name(env: Any, buckets: tuple[str, str], tmp_path: Path) -> None:
    """``a`` and ``a/b`` cannot both be files; a folder marker (an empty key ending in /) is skipped."""
    _, b = env
    _, bucket = buckets
    client = b.client()
    client.put_object(Bucket=bucket, Key="a", Body=b"file a")
    client.put_object(Bucket=bucket, Key="a/b", Body=b"file a/b")
    client.put_object(Bucket=bucket, Key="folder/", Body=b"")
    client.put_object(Bucket=bucket, Key="folder/ok.txt", Body=b"fine")
    down = tmp_path / "down"
    result = run_cli("sync", f"s3://{bucket}", str(down), *from_args(b), "-y", "--json")
    assert result.returncode == 1 and no_traceback(result), result.stderr
    report = json.loads(result.stdout)
    # Whichever of the two is written first lands; the other fails, saying why.
    [failure] = report["failed"]
    landed = files_of(down)
    if failure["object"] == f"s3://{bucket}/a/b":
        assert "a file stands where a folder of its path must be" in failure["reason"]
        assert landed == {"a": b"file a", "folder/ok.txt": b"fine"}
    else:
        assert failure["object"] == f"s3://{bucket}/a" and "a folder of that name exists" in failure["reason"]
        assert landed == {"a/b": b"file a/b", "folder/ok.txt": b"fine"}
    assert report["copied"] == 2 and report["skipped"] == 1  # the marker


def test_mirror_into_a_folder_deletes_its_extra_files(env: Any, buckets: tuple[str, str], tmp_path: Path) -> None:
    _, b = env
    _, bucket = buckets
    b.client().put_object(Bucket=bucket, Key="keep.txt", Body=b"keep")
    down = tmp_path / "mirror"
    write(down, "old/stale.txt", b"stale")
    result = run_cli("sync", f"s3://{bucket}", str(down), *from_args(b), "-y", "--delete", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["deleted"] == ["old/stale.txt"]
    assert files_of(down) == {"keep.txt": b"keep"}
    assert os.path.isdir(down / "old")  # folders are left (as aws s3 sync does)
