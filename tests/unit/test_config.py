from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s3migrate.config import GIB, MIB, load_settings, parse_size
from s3migrate.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5MiB", 5 * MIB), ("64MB", 64_000_000), ("5242880", 5242880), ("1.5KiB", 1536), ("8 mib", 8 * MIB),
     ("1GiB", 1024**3), ("0", 0)],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "five", "5XB", "-1", "1.3B", "MiB", "5 5"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_size(text)


@given(st.integers(min_value=0, max_value=2**50))
def test_parse_size_round_trips_bytes(n: int) -> None:
    assert parse_size(str(n)) == n


def test_defaults() -> None:
    s = load_settings({}, env={})
    assert s.chunk_size == 8 * MIB and s.resumable_threshold == 64 * MIB
    assert s.workers == 64 and s.max_memory == 512 * MIB
    assert s.memory_budget == 512 * MIB  # under 64 x 4 x 8 MiB: the cap holds
    assert load_settings({"workers": 2}, env={}).memory_budget == 2 * 4 * 8 * MIB  # under the cap
    assert load_settings({"max_memory": "1GiB"}, env={}).memory_budget == GIB


def test_original_ini_keys_use_mib_and_foreign_keys_are_accepted(tmp_path: Path) -> None:
    ini = tmp_path / "s3_migration_config.ini"
    ini.write_text(
        "[Basic]\nJobType = PUT\ntable_queue_name = s3_migrate_file_list\nStorageClass = standard_ia\n"
        "ResumableThreshold = 10\nMaxRetry = 3\nMaxThread = 7\nMaxParallelFile = 2\nJobTimeout = 870\n"
        "ChunkSize = 6\nCleanUnfinishedUpload = True\n[Debug]\nLoggingLevel = INFO\n"
    )
    s = load_settings({}, ini, env={})
    assert (s.workers, s.threads, s.chunk_size, s.resumable_threshold) == (2, 7, 6 * MIB, 10 * MIB)
    assert s.storage_class == "STANDARD_IA" and s.max_retries == 3 and s.job_timeout == 870
    assert s.clean_unfinished_upload is True and s.log_level == "INFO"


def test_precedence_file_env_flags(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('workers = 3\nthreads = 3\nchunk_size = "16MiB"\n')
    s = load_settings({"threads": 9}, toml, env={"MaxParallelFile": "5"})
    assert (s.workers, s.threads, s.chunk_size) == (5, 9, 16 * MIB)


@pytest.mark.parametrize(
    ("cli", "message"),
    [({"workers": 0}, "--workers"), ({"chunk_size": "1MiB"}, "--chunk-size"), ({"storage_class": "FAST"}, "storage"),
     ({"from_endpoint": "localhost:9000"}, "http"), ({"bogus": 1}, "unknown setting")],
)
def test_invalid_settings_name_the_flag(cli: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(cli, env={})


def test_missing_or_broken_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings({}, tmp_path / "nope.ini", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("workers = [")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings({}, bad, env={})
    unknown = tmp_path / "u.ini"
    unknown.write_text("[x]\nfoo = 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'foo'"):
        load_settings({}, unknown, env={})


def test_settings_without_an_original_name_come_from_prefixed_environment_variables() -> None:
    settings = load_settings({}, None, {"S3MIGRATE_FROM_ENDPOINT": "http://127.0.0.1:9000", "S3MIGRATE_TO_REGION":
                                        "cn-north-1", "S3MIGRATE_LEAN_REQUESTS": "0", "MaxThread": "3"})
    assert settings.from_endpoint == "http://127.0.0.1:9000" and settings.to_region == "cn-north-1"
    assert settings.threads == 3
    # Flags still win over the environment.
    assert load_settings({"to_region": "eu-west-1"}, None, {"S3MIGRATE_TO_REGION": "cn-north-1"}).to_region == \
        "eu-west-1"


def test_the_original_jobsender_lambdas_variables(caplog: pytest.LogCaptureFixture) -> None:
    """The original jobsender Lambda names its queue sqs_queue; LocalProfileMode and checkip_url are not used
    here, and a warning says so instead of silence."""
    env = {"sqs_queue": "s3_migrate_file_list", "table_queue_name": "s3_migrate_file_list",
           "checkip_url": "https://checkip.amazonaws.com", "LocalProfileMode": "False"}
    settings = load_settings({}, None, env)
    assert settings.queue == "s3_migrate_file_list" and settings.ledger == "s3_migrate_file_list"
    assert "checkip_url" in caplog.text and "LocalProfileMode" in caplog.text and "ignored" in caplog.text


def test_unused_original_keys_in_a_config_file_are_warned_about(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "s3_migration_config.ini"
    path.write_text("[Basic]\nLocalProfileMode = False\nMaxThread = 7\n")
    assert load_settings({}, path, {}).threads == 7
    assert "LocalProfileMode" in caplog.text and str(path) in caplog.text


def test_a_bad_value_is_reported_as_the_user_wrote_it_with_sizes_in_units(tmp_path: Path) -> None:
    path = tmp_path / "s3_migration_config.ini"
    path.write_text("[Basic]\nChunkSize = 1\n")
    with pytest.raises(ConfigError, match=r"^ChunkSize = 1 in .*s3_migration_config.ini: must be at least 5\.0 MiB$"):
        load_settings({}, path, {})
    with pytest.raises(ConfigError, match=r"^environment variable ChunkSize=1: must be at least 5\.0 MiB$"):
        load_settings({}, None, {"ChunkSize": "1"})
    with pytest.raises(ConfigError, match=r"^--chunk-size 1KiB: must be at least 5\.0 MiB$"):
        load_settings({"chunk_size": "1KiB"}, None, {})
    with pytest.raises(ConfigError, match=r"^environment variable MaxThread=0: "):
        load_settings({}, None, {"MaxThread": "0"})


def test_values_that_do_not_parse_are_named_as_written(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^--min-age soon: not a duration"):
        load_settings({"min_age": "soon"}, None, {})
    with pytest.raises(ConfigError, match=r"^environment variable MaxThread=lots: not a number$"):
        load_settings({}, None, {"MaxThread": "lots"})
    path = tmp_path / "c.ini"
    path.write_text("ChunkSize = big\n")
    with pytest.raises(ConfigError, match=r"^ChunkSize = big in .*c\.ini: not a size"):
        load_settings({}, path, {})


def test_workers_and_threads_grow_by_default_and_a_number_given_is_kept() -> None:
    """The adaptive ceilings (adaptive.py): four times the defaults; a --workers or --threads given alone is what
    the user asked for, so it stays fixed; --max-workers / --max-threads set the ceiling (never under the start)."""
    default = load_settings({}, None, {})
    assert (default.worker_ceiling, default.thread_ceiling) == (256, 16)
    given = load_settings({"workers": 16, "threads": 2}, None, {})
    assert (given.worker_ceiling, given.thread_ceiling) == (16, 2)
    both = load_settings({"workers": 16, "max_workers": 64, "max_threads": 8}, None, {})
    assert (both.worker_ceiling, both.thread_ceiling) == (64, 8)
    assert load_settings({"workers": 32, "max_workers": 8}, None, {}).worker_ceiling == 32
    original = load_settings({}, None, {"MaxParallelFile": "5"})  # the original's name counts as given too
    assert original.worker_ceiling == 5
