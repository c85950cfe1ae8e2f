"""``s3migrate sync`` between two real SeaweedFS servers with different credentials (two accounts)."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Account
from tests.integration.helpers import MIB, endpoint_args, keys, no_traceback, put, read, run_cli, unfinished_uploads

pytestmark = pytest.mark.integration

DATASET: dict[str, int] = {
    "data/small.txt": 100,
    "data/empty": 0,
    "data/exactly-5MiB": 5 * MIB,
    "data/5MiB-plus-1": 5 * MIB + 1,
    "data/odd-multipart.bin": 13 * MIB + 12345,
    "data/with space/a b.txt": 10,
    "data/plus+sign%percent.txt": 11,
    "data/unicode/é中文🙂.txt": 12,
    "data/folder/": 0,
    "data/nested/deeper/deepest/x.bin": 4096,
    "other/not-copied.txt": 5,
    "database/not-copied-either.txt": 5,
}




def sync_args(accounts: tuple[Account, Account], src: str, dst: str, *extra: str) -> list[str]:
    a, b = accounts
    return ["sync", src, dst, *endpoint_args(a.endpoint, b.endpoint), *extra]


def test_sync_copies_a_prefix_byte_identical_then_nothing(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    src, dst = a.client(), b.client()
    contents = {
        key: put(src, src_bucket, key, size, ContentType="text/x-test", Metadata={"origin": "account-a"})
        for key, size in DATASET.items()
    }

    result = run_cli(*sync_args(env, f"s3://{src_bucket}/data", f"s3://{dst_bucket}/copy/"))
    assert result.returncode == 0, result.stderr
    assert no_traceback(result)
    expected = {"copy/" + k[len("data/"):]: s for k, s in DATASET.items() if k.startswith("data/")}
    assert keys(dst, dst_bucket) == expected
    for key in expected:
        assert read(dst, dst_bucket, key) == contents["data/" + key[len("copy/"):]], key
    head = dst.head_object(Bucket=dst_bucket, Key="copy/odd-multipart.bin")
    assert head["ContentType"] == "text/x-test" and head["Metadata"] == {"origin": "account-a"}
    assert head["ETag"].strip('"').endswith("-3")
    assert unfinished_uploads(dst, dst_bucket) == []

    again = run_cli(*sync_args(env, f"s3://{src_bucket}/data/", f"s3://{dst_bucket}/copy"))
    assert again.returncode == 0, again.stderr
    assert "copied 0 objects" in again.stdout and f"{len(expected)} unchanged" in again.stdout


def test_dry_run_copies_nothing_and_lists_reasons(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "k1", 10)
    put(a.client(), src_bucket, "k2", 20)
    put(b.client(), dst_bucket, "k2", 21)
    result = run_cli(*sync_args(env, f"s3://{src_bucket}", f"s3://{dst_bucket}", "--dry-run"))
    assert result.returncode == 0, result.stderr
    assert "would copy: 2 objects" in result.stdout
    assert "k1  (missing at destination)" in result.stdout and "size differs" in result.stdout
    assert keys(b.client(), dst_bucket) == {"k2": 21}
    assert not Path(".s3migrate").exists()


def test_changed_size_is_copied_again(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "k", 10)
    assert run_cli(*sync_args(env, f"s3://{src_bucket}", f"s3://{dst_bucket}")).returncode == 0
    new = put(a.client(), src_bucket, "k", 30, seed=7)
    assert run_cli(*sync_args(env, f"s3://{src_bucket}", f"s3://{dst_bucket}")).returncode == 0
    assert read(b.client(), dst_bucket, "k") == new


def test_ignore_patterns_and_storage_class(env: Any, buckets: tuple[str, str], tmp_path: Path) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    for key in ["keep.txt", "skip.jpg", "deep/dir/skip.jpg", "logs/2024/x.log", "logs/keep.txt", "dir/readme.md"]:
        put(a.client(), src_bucket, key, 10)
    ignore = tmp_path / "ignore.txt"
    ignore.write_text(f"*.jpg\n{src_bucket}/logs/*.log\n*/readme.md\n")
    result = run_cli(*sync_args(env, f"s3://{src_bucket}", f"s3://{dst_bucket}", "--ignore-file", str(ignore),
                                "--storage-class", "STANDARD_IA"))
    assert result.returncode == 0, result.stderr
    assert set(keys(b.client(), dst_bucket)) == {"keep.txt", "logs/keep.txt"}
    assert b.client().head_object(Bucket=dst_bucket, Key="keep.txt")["StorageClass"] == "STANDARD_IA"
    assert "4 ignored" in result.stdout


def test_whole_bucket_to_prefix_and_original_ini_config(env: Any, buckets: tuple[str, str], tmp_path: Path) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "x/y.bin", 7 * MIB)
    ini = tmp_path / "s3_migration_config.ini"
    ini.write_text("[Basic]\nJobType = PUT\nChunkSize = 5\nResumableThreshold = 5\nMaxThread = 2\n"
                   "MaxParallelFile = 2\nStorageClass = STANDARD\n")
    result = run_cli(*sync_args(env, f"s3://{src_bucket}", f"s3://{dst_bucket}/backup", "--config", str(ini)))
    assert result.returncode == 0, result.stderr
    assert keys(b.client(), dst_bucket) == {"backup/x/y.bin": 7 * MIB}


def test_ledger_keeps_the_original_attributes(env: Any, buckets: tuple[str, str], tmp_path: Path) -> None:
    a, _b = env
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "k.bin", 6 * MIB)
    state = tmp_path / "state.db"
    assert run_cli(*sync_args(env, f"s3://{src_bucket}", f"s3://{dst_bucket}", "--state", str(state))).returncode == 0
    conn = sqlite3.connect(state)
    conn.row_factory = sqlite3.Row
    row = conn.execute("SELECT * FROM ledger").fetchone()
    assert row["Key"] == f"{src_bucket}/k.bin" and row["desBucket"] == dst_bucket and row["desKey"] == "k.bin"
    assert row["Size"] == 6 * MIB and row["tryTimes"] == 1 and '"DONE"' in row["jobStatus"]
    for name in ["instanceID", "firstTime", "startTime_f", "lastTimeProgress", "endTime", "endTime_f",
                 "totalSpentTime", "versionId", "uploadId", "uploadPartSize"]:
        assert name in row.keys()  # noqa: SIM118  # sqlite3.Row supports "in" only on keys()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["s3://{src}", "s3://no-such-bucket-here"], "destination"),
        (["s3://no-such-bucket-here", "s3://{dst}"], "source"),
        (["{src}", "s3://{dst}"], "no such folder"),  # a bare name is a local path, as in aws s3 sync
        (["s3://{src}", "s3://{dst}", "--chunk-size", "5 potatoes"], "--chunk-size"),
        (["s3://{src}", "s3://{dst}", "--workers", "0"], "--workers"),
        (["s3://{src}", "s3://{dst}", "--storage-class", "CHEAP"], "storage class"),
        (["s3://{src}", "s3://{dst}", "--ignore-file", "/no/such/file"], "ignore file"),
        (["s3://{src}", "s3://{dst}", "--bogus-flag"], "bogus"),
        (["s3://{src}", "s3://{dst}", "--compare", "mtime"], "--compare"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(env: Any, buckets: tuple[str, str], args: list[str], message: str) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "k", 10)
    filled = [x.format(src=src_bucket, dst=dst_bucket) for x in args]
    result = run_cli("sync", *filled, *endpoint_args(a.endpoint, b.endpoint))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert no_traceback(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert keys(b.client(), dst_bucket) == {}


def test_object_tags_are_copied_unless_switched_off(env: Any, buckets: tuple[str, str]) -> None:
    """Tags travel with the object on every path (streamed, buffered, multipart); GET only says how many there
    are, so each tagged object costs one GetObjectTagging."""
    a, b = env
    src_bucket, dst_bucket = buckets
    tags = [{"Key": "k x", "Value": "v=1 + a/b:c@d"}, {"Key": "empty", "Value": ""}, {"Key": "uni", "Value": "文件"}]
    for key, size in (("data/small.txt", 100), ("data/multi.bin", 13 * MIB + 7), ("data/untagged.txt", 5)):
        put(a.client(), src_bucket, key, size)
        if "untagged" not in key:
            a.client().put_object_tagging(Bucket=src_bucket, Key=key, Tagging={"TagSet": tags})

    def tag_sets(prefix: str) -> dict[str, list[dict[str, str]]]:
        return {key: sorted(b.client().get_object_tagging(Bucket=dst_bucket, Key=f"{prefix}/{key}")["TagSet"],
                            key=lambda t: t["Key"])
                for key in ("small.txt", "multi.bin", "untagged.txt")}

    result = run_cli(*sync_args(env, f"s3://{src_bucket}/data", f"s3://{dst_bucket}/with",
                                "--resumable-threshold", "5MiB"))
    assert result.returncode == 0, result.stderr
    expected = sorted(tags, key=lambda t: t["Key"])
    assert tag_sets("with") == {"small.txt": expected, "multi.bin": expected, "untagged.txt": []}
    result = run_cli(*sync_args(env, f"s3://{src_bucket}/data", f"s3://{dst_bucket}/without", "--no-copy-tags",
                                "--resumable-threshold", "5MiB"))
    assert result.returncode == 0, result.stderr
    assert tag_sets("without") == {"small.txt": [], "multi.bin": [], "untagged.txt": []}


def test_status_reads_the_state_file_sync_left(env: Any, buckets: tuple[str, str]) -> None:
    a, _b = env
    src_bucket, dst_bucket = buckets
    for i in range(3):
        put(a.client(), src_bucket, f"data/f{i}", 10 + i)
    missing = run_cli("status")  # nothing synced from this directory yet
    assert missing.returncode == 2 and "--state" in missing.stderr and no_traceback(missing)
    assert run_cli(*sync_args(env, f"s3://{src_bucket}/data", f"s3://{dst_bucket}/data")).returncode == 0
    result = run_cli("status", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["objects"]["DONE"] == 3 and report["queue"]["visible"] == 0
    assert run_cli(*sync_args(env, f"s3://{src_bucket}/data", f"s3://{dst_bucket}/other")).returncode == 0
    two = run_cli("status")
    assert two.returncode == 2 and "2 sync state files" in two.stderr
    # State files are named so a person can tell them apart, and `status SRC DST` finds its own.
    names = sorted(p.name for p in Path(".s3migrate").glob("*.db"))
    assert [n.rsplit("-", 1)[0] for n in names] == [f"{src_bucket}-data--{dst_bucket}-data",
                                                    f"{src_bucket}-data--{dst_bucket}-other"], names
    theirs = run_cli("status", f"s3://{src_bucket}/data", f"s3://{dst_bucket}/other", "--json")
    assert theirs.returncode == 0 and json.loads(theirs.stdout)["objects"]["DONE"] == 3, theirs.stderr
    nothing = run_cli("status", f"s3://{src_bucket}/data", f"s3://{dst_bucket}/elsewhere")
    assert nothing.returncode == 2 and "no state file of a sync" in nothing.stderr
    typo = run_cli("status", "--state", "no/such.db")
    assert typo.returncode == 2 and "no state file" in typo.stderr


def test_compare_newer_copies_what_was_overwritten_with_the_same_size(env: Any, buckets: tuple[str, str]) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "data/same-size.txt", 100, seed=1)
    put(a.client(), src_bucket, "data/untouched.txt", 50)
    args = sync_args(env, f"s3://{src_bucket}/data", f"s3://{dst_bucket}/data")
    assert run_cli(*args).returncode == 0
    time.sleep(1.1)  # listings give LastModified to the second
    changed = put(a.client(), src_bucket, "data/same-size.txt", 100, seed=2)
    size_only = run_cli(*args)  # the original's rule: same size, nothing to do
    assert size_only.returncode == 0 and "copied 0 objects" in size_only.stdout, size_only.stdout
    dry = run_cli(*args, "--compare", "newer", "--dry-run")
    assert "would copy: 1 object," in dry.stdout and "newer at source" in dry.stdout, dry.stdout
    newer = run_cli(*args, "--compare", "newer")
    assert newer.returncode == 0 and "copied 1 object " in newer.stdout, newer.stdout
    assert read(b.client(), dst_bucket, "data/same-size.txt") == changed
    again = run_cli(*args, "--compare", "newer")
    assert again.returncode == 0 and "copied 0 objects" in again.stdout, again.stdout


def test_a_destination_inside_the_source_is_refused(env: Any, buckets: tuple[str, str]) -> None:
    a, _b = env
    src_bucket, _ = buckets
    put(a.client(), src_bucket, "data/k", 10)
    same = ["--from-profile", "src", "--to-profile", "src", "--from-endpoint", a.endpoint, "--to-endpoint", a.endpoint]
    for dst in (f"s3://{src_bucket}/data/backup", f"s3://{src_bucket}/data/"):
        result = run_cli("sync", f"s3://{src_bucket}/data", dst, *same)
        assert result.returncode == 2 and no_traceback(result), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert keys(a.client(), src_bucket) == {"data/k": 10}


@pytest.mark.not_on("moto", "moto accepts any credentials")
def test_wrong_credentials_and_unreachable_endpoint(env: Any, buckets: tuple[str, str], tmp_path: Path) -> None:
    a, b = env
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "k", 10)
    # the destination account's keys against the source server: unknown access key
    wrong = run_cli("sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", "--from-profile", "dst", "--to-profile", "dst",
                    "--from-endpoint", a.endpoint, "--to-endpoint", b.endpoint)
    assert wrong.returncode == 2 and no_traceback(wrong)
    assert len(wrong.stderr.strip().splitlines()) == 1 and "source" in wrong.stderr
    missing_profile = run_cli(*sync_args(env, f"s3://{src_bucket}", f"s3://{dst_bucket}", "--to-profile", "nobody"))
    assert missing_profile.returncode == 2 and "nobody" in missing_profile.stderr and no_traceback(missing_profile)
    unreachable = run_cli("sync", f"s3://{src_bucket}", f"s3://{dst_bucket}", "--from-profile", "src",
                          "--to-profile", "dst", "--from-endpoint", a.endpoint, "--to-endpoint", "http://127.0.0.1:9",
                          timeout=120)
    assert unreachable.returncode == 2 and no_traceback(unreachable)
    assert "cannot connect" in unreachable.stderr and len(unreachable.stderr.strip().splitlines()) == 1
    assert keys(b.client(), dst_bucket) == {}


def test_the_question_comes_before_the_progress_display_and_the_clock(env: Any, buckets: tuple[str, str]) -> None:
    """On a terminal the plan and the [y/N] question come first; the progress display starts after the answer,
    and rate and ETA count from there (time spent answering is not copying time)."""
    from s3migrate.config import load_settings
    from s3migrate.sync import SyncRun

    a, b = env
    src_bucket, dst_bucket = buckets
    put(a.client(), src_bucket, "data/one.txt", 100)
    settings = load_settings({"from_profile": "src", "to_profile": "dst", "from_endpoint": a.endpoint,
                              "to_endpoint": b.endpoint, "state": "q.db"}, None, {})
    run = SyncRun(settings, f"s3://{src_bucket}/data", f"s3://{dst_bucket}/data")
    events: list[str] = []

    def confirm(stats: Any) -> bool:
        events.append(f"asked about {stats.to_copy}")
        time.sleep(1.5)  # the user thinks
        return True

    report = run.run(confirm, on_copy_start=lambda: events.append("progress shown"))
    assert events == ["asked about 1", "progress shown"]
    assert report.exit_code == 0 and report.progress.elapsed < 1.5  # the answering time is not in the rate
