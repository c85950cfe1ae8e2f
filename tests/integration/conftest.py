"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Account
from tests.support.faultproxy import FaultProxy


@pytest.fixture
def env(accounts: tuple[Account, Account], aws_profiles: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> tuple[Account, Account]:
    """Both accounts, their profiles in the credentials file, and a fresh working directory for the CLI."""
    monkeypatch.chdir(tmp_path)
    return accounts


@pytest.fixture
def proxies(accounts: tuple[Account, Account], aws_profiles: Path, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FaultProxy, FaultProxy]]:
    """Fault-injecting proxies in front of both accounts."""
    monkeypatch.chdir(tmp_path)
    a, b = accounts
    with FaultProxy(a.endpoint) as src_proxy, FaultProxy(b.endpoint) as dst_proxy:
        yield src_proxy, dst_proxy
