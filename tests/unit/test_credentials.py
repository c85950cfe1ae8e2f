"""Keys kept in SSM reload themselves, so a rotated parameter reaches running workers; refused credentials and
invalid requests are not retried as if they were transient."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ParamValidationError

from s3migrate.endpoints import client as client_module
from s3migrate.endpoints.client import Credentials, Endpoint, make_s3_client
from s3migrate.endpoints.failures import classify, client_error
from s3migrate.endpoints.location import S3Location
from s3migrate.errors import Disposition


def signer_keys(client: object) -> tuple[str, str]:
    frozen = client._request_signer._credentials.get_frozen_credentials()  # type: ignore[attr-defined]
    return frozen.access_key, frozen.secret_key


def test_reloadable_keys_are_read_again_and_take_effect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "RELOAD_EVERY", 0.5)
    current = {"id": "AKOLD", "secret": "old-secret"}
    reads: list[str] = []

    def reload() -> Credentials:
        reads.append(current["id"])
        return Credentials(current["id"], current["secret"], reload=reload)

    keys = Credentials("AKOLD", "old-secret", reload=reload)
    client = make_s3_client(Endpoint(S3Location("bkt"), endpoint_url="http://127.0.0.1:9", credentials=keys))
    assert signer_keys(client) == ("AKOLD", "old-secret")
    current.update(id="AKNEW", secret="new-secret")  # the parameter is rotated
    deadline = time.monotonic() + 10
    while signer_keys(client) != ("AKNEW", "new-secret"):
        assert time.monotonic() < deadline, "the rotated keys never arrived"
        time.sleep(0.2)
    assert reads and reads[-1] == "AKNEW"


def test_a_failing_reload_keeps_the_keys_it_has(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "RELOAD_EVERY", 0.2)

    attempts: list[float] = []

    def reload() -> Credentials:
        attempts.append(time.monotonic())
        raise RuntimeError("SSM is unreachable")

    keys = Credentials("AKKEEP", "keep-secret", reload=reload)
    client = make_s3_client(Endpoint(S3Location("bkt2"), endpoint_url="http://127.0.0.1:9", credentials=keys))
    deadline = time.monotonic() + 10
    while not attempts:  # the reload was tried (and failed) ...
        assert time.monotonic() < deadline, "the keys were never read again"
        signer_keys(client)
        time.sleep(0.1)
    assert signer_keys(client) == ("AKKEEP", "keep-secret")  # ... and the keys in hand still sign


@pytest.mark.parametrize("code", ["ExpiredToken", "InvalidAccessKeyId", "SignatureDoesNotMatch"])
def test_refused_credentials_are_not_transient(code: str) -> None:
    assert classify(client_error(code, status=403 if code != "ExpiredToken" else 400)) is Disposition.FATAL


def test_client_side_errors_are_not_transient() -> None:
    assert classify(ParamValidationError(report="Invalid type for parameter Key")) is Disposition.FATAL
