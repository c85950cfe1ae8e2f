"""State files that cannot be used say so in one line (exit 2, never a traceback), are private to the user, and
read-only commands never create one."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from s3migrate.errors import ConfigError, StateError
from s3migrate.ledger.sqlite import SqliteLedger
from s3migrate.sqlite_db import Database


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "s3migrate", *args], capture_output=True, text=True, cwd=cwd,
                          stdin=subprocess.DEVNULL, timeout=60)


def test_a_new_state_file_and_its_folder_are_private(tmp_path: Path) -> None:
    path = tmp_path / "made" / "state.db"
    SqliteLedger(Database(path)).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_garbage_in_a_state_file_is_one_line_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError, match=r"not an s3migrate state file.*--state PATH"):
        SqliteLedger(Database(path))
    result = cli("status", "--state", str(path), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and str(path) in result.stderr


def test_read_only_commands_never_create_a_state_file(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="no state file"):
        Database(tmp_path / "absent.db", create=False)
    result = cli("status", "--ledger", "sqlite:///absent.db", cwd=tmp_path)
    assert result.returncode == 2 and "no state file" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_sqlite_urls_need_an_existing_folder_and_no_query(tmp_path: Path) -> None:
    from s3migrate.ledger.open import open_ledger

    with pytest.raises(ConfigError, match="does not exist"):
        open_ledger(f"sqlite:///{tmp_path}/no/such/folder/ledger.db")
    with pytest.raises(ConfigError, match="no query string"):
        open_ledger(f"sqlite:///{tmp_path}/ledger.db?mode=ro")
    assert not (tmp_path / "no").exists()
    result = cli("work", "--queue", "sqlite:///typo/q.db", "--ledger", "sqlite:///typo/q.db", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "does not exist" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files: the check cannot fail as root")
def test_a_read_only_state_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteLedger(Database(path)).close()
    path.chmod(0o400)
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(StateError, match="read-only"):
            ledger = SqliteLedger(Database(path))
            ledger.register([])
    finally:
        tmp_path.chmod(0o700)
