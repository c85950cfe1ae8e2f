"""The embedded ledger: the original DynamoDB attributes as columns of one SQLite table."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from typing import Any

from s3migrate.jobs.job import Job
from s3migrate.ledger import schema as S
from s3migrate.ledger.base import (
    Claim,
    ClaimResult,
    JobState,
    LedgerRecord,
    LedgerSummary,
    Outcome,
    UploadRecord,
    refuse_claim,
    same_destination,
    time_text,
)
from s3migrate.sqlite_db import Database

_TABLE = "ledger"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {_TABLE} (
    "{S.KEY}"               TEXT PRIMARY KEY,
    "{S.DES_BUCKET}"        TEXT NOT NULL,
    "{S.DES_KEY}"           TEXT NOT NULL,
    "{S.SIZE}"              INTEGER NOT NULL,
    "{S.VERSION_ID}"        TEXT,
    "{S.SRC_ETAG}"          TEXT,
    "{S.STATE}"             TEXT NOT NULL,
    "{S.JOB_STATUS}"        TEXT NOT NULL DEFAULT '[]',
    "{S.INSTANCE_ID}"       TEXT NOT NULL DEFAULT '[]',
    "{S.TRY_TIMES}"         INTEGER NOT NULL DEFAULT 0,
    "{S.FAIL_COUNT}"        INTEGER NOT NULL DEFAULT 0,
    "{S.FIRST_TIME}"        REAL,
    "{S.START_TIME_F}"      TEXT NOT NULL DEFAULT '[]',
    "{S.END_TIME}"          REAL,
    "{S.END_TIME_F}"        TEXT,
    "{S.TOTAL_SPENT_TIME}"  REAL,
    "{S.CLAIM_TIME}"        REAL,
    "{S.LAST_TIME_PROGRESS}" REAL NOT NULL DEFAULT 0,
    "{S.DES_ETAG}"          TEXT,
    "{S.UPLOAD_ID}"         TEXT,
    "{S.UPLOAD_PART_SIZE}"  INTEGER,
    "{S.UPLOAD_SRC_ETAG}"   TEXT,
    "{S.UPLOAD_SRC_VERSION}" TEXT,
    "{S.LEASE_OWNER}"       TEXT,
    "{S.LEASE_EXPIRES}"     REAL,
    "{S.LAST_ERROR}"        TEXT
);
CREATE INDEX IF NOT EXISTS "{S.DES_BUCKET_INDEX}" ON {_TABLE} ("{S.DES_BUCKET}", "{S.DES_KEY}");
CREATE INDEX IF NOT EXISTS ledger_state ON {_TABLE} ("{S.STATE}");
CREATE TABLE IF NOT EXISTS giant_parts (
    "{S.KEY}" TEXT NOT NULL,
    part      INTEGER NOT NULL,
    md5       TEXT NOT NULL,
    PRIMARY KEY ("{S.KEY}", part)
);
CREATE TABLE IF NOT EXISTS giant_completion (
    "{S.KEY}" TEXT PRIMARY KEY,
    owner     TEXT NOT NULL,
    expires   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS deletions (
    "{S.DES_BUCKET}" TEXT NOT NULL,
    "{S.DES_KEY}"    TEXT NOT NULL,
    "{S.SIZE}"       INTEGER,
    "{S.END_TIME}"   REAL NOT NULL
);
"""
# Columns added since the first release: a state file made by an older version gets them on open.
_ADDED_COLUMNS = {S.CLAIM_TIME: "REAL"}


def _number(value: Any) -> float | None:
    """A time column of this or an older version (which stored text there): a number, or None."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None



def _set_add(raw: str, item: str) -> str:
    return json.dumps(sorted({*json.loads(raw), item}))


def _row_to_record(row: sqlite3.Row) -> LedgerRecord:
    return LedgerRecord(
        key=row[S.KEY],
        dst_bucket=row[S.DES_BUCKET],
        dst_key=row[S.DES_KEY],
        size=row[S.SIZE],
        version_id=row[S.VERSION_ID],
        src_etag=row[S.SRC_ETAG],
        state=JobState(row[S.STATE]),
        job_status=set(json.loads(row[S.JOB_STATUS])),
        instance_ids=set(json.loads(row[S.INSTANCE_ID])),
        try_times=row[S.TRY_TIMES],
        fail_count=row[S.FAIL_COUNT],
        first_time=_number(row[S.FIRST_TIME]),
        claim_time=_number(row[S.CLAIM_TIME]),
        end_time=_number(row[S.END_TIME]),
        total_spent_time=_number(row[S.TOTAL_SPENT_TIME]),
        progress=row[S.LAST_TIME_PROGRESS],
        dst_etag=row[S.DES_ETAG],
        upload_id=row[S.UPLOAD_ID],
        upload_part_size=row[S.UPLOAD_PART_SIZE],
        upload_src_etag=row[S.UPLOAD_SRC_ETAG],
        upload_src_version=row[S.UPLOAD_SRC_VERSION],
        lease_owner=row[S.LEASE_OWNER],
        lease_expires=row[S.LEASE_EXPIRES],
        last_error=row[S.LAST_ERROR],
    )


class SqliteLedger:
    """A Ledger in a SQLite file (the same file as the embedded queue, in ``sync``)."""

    def __init__(self, db: Database) -> None:
        self._db = db.acquire()
        self._db.executescript(_SCHEMA)
        with self._db.transaction() as conn:
            present = {row[1] for row in conn.execute(f"PRAGMA table_info({_TABLE})")}
            for name, kind in _ADDED_COLUMNS.items():
                if name not in present:
                    conn.execute(f'ALTER TABLE {_TABLE} ADD COLUMN "{name}" {kind}')

    def _fetch(self, conn: sqlite3.Connection, key: str) -> LedgerRecord | None:
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute(f'SELECT * FROM {_TABLE} WHERE "{S.KEY}" = ?', (key,)).fetchone()
        finally:
            conn.row_factory = None
        return _row_to_record(row) if row else None

    def _update(self, conn: sqlite3.Connection, key: str, values: dict[str, Any]) -> None:
        assignments = ", ".join(f'"{name}" = ?' for name in values)
        conn.execute(f'UPDATE {_TABLE} SET {assignments} WHERE "{S.KEY}" = ?', (*values.values(), key))

    def register(self, jobs: Sequence[Job]) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                f"""INSERT INTO {_TABLE} ("{S.KEY}", "{S.DES_BUCKET}", "{S.DES_KEY}", "{S.SIZE}",
                        "{S.VERSION_ID}", "{S.SRC_ETAG}", "{S.STATE}")
                    VALUES (?, ?, ?, ?, ?, ?, 'PENDING')
                    ON CONFLICT ("{S.KEY}") DO UPDATE SET
                        "{S.DES_BUCKET}" = excluded."{S.DES_BUCKET}", "{S.DES_KEY}" = excluded."{S.DES_KEY}",
                        "{S.SIZE}" = excluded."{S.SIZE}", "{S.VERSION_ID}" = excluded."{S.VERSION_ID}",
                        "{S.SRC_ETAG}" = excluded."{S.SRC_ETAG}", "{S.STATE}" = 'PENDING',
                        "{S.FAIL_COUNT}" = 0, "{S.LEASE_OWNER}" = NULL, "{S.LEASE_EXPIRES}" = NULL""",
                [
                    (j.ledger_key, j.dst_bucket, j.dst_key, j.size, j.version_id, j.etag)
                    for j in jobs
                ],
            )

    def claim(self, job: Job, owner: str, lease_seconds: float) -> Claim:
        now = time.time()
        with self._db.transaction() as conn:
            record = self._fetch(conn, job.ledger_key)
            refused = refuse_claim(record, job, owner, now)
            if refused is not None:
                return refused
            if record is None:
                record = LedgerRecord(job.ledger_key, job.dst_bucket, job.dst_key, job.size, job.version_id,
                                      job.etag, first_time=int(now))
                conn.execute(
                    f"""INSERT INTO {_TABLE} ("{S.KEY}", "{S.DES_BUCKET}", "{S.DES_KEY}", "{S.SIZE}",
                            "{S.VERSION_ID}", "{S.SRC_ETAG}", "{S.STATE}", "{S.FIRST_TIME}")
                        VALUES (?, ?, ?, ?, ?, ?, 'PENDING', ?)""",
                    (job.ledger_key, job.dst_bucket, job.dst_key, job.size, job.version_id, job.etag,
                     record.first_time),
                )
            values: dict[str, Any] = {}
            if not same_destination(record, job):  # another destination's upload is not this job's
                record = dataclasses.replace(record, upload_id=None, upload_part_size=None, upload_src_etag=None,
                                             upload_src_version=None, dst_etag=None)
                values.update({S.UPLOAD_ID: None, S.UPLOAD_PART_SIZE: None, S.UPLOAD_SRC_ETAG: None,
                               S.UPLOAD_SRC_VERSION: None, S.DES_ETAG: None})
            claimed = dataclasses.replace(
                record, state=JobState.RUNNING, lease_owner=owner, lease_expires=now + lease_seconds,
                try_times=record.try_times + 1, instance_ids={*record.instance_ids, owner},
                claim_time=now, first_time=record.first_time or int(now), dst_bucket=job.dst_bucket,
                dst_key=job.dst_key, size=job.size, src_etag=job.etag or record.src_etag,
                version_id=job.version_id or record.version_id,
            )
            (starts,) = conn.execute(f'SELECT "{S.START_TIME_F}" FROM {_TABLE} WHERE "{S.KEY}" = ?',
                                     (job.ledger_key,)).fetchone()
            self._update(conn, job.ledger_key, {
                **values,
                S.STATE: claimed.state.value,
                S.LEASE_OWNER: owner,
                S.LEASE_EXPIRES: claimed.lease_expires,
                S.TRY_TIMES: claimed.try_times,
                S.INSTANCE_ID: json.dumps(sorted(claimed.instance_ids)),
                S.START_TIME_F: _set_add(starts or "[]", time_text(now)),
                S.CLAIM_TIME: now,
                S.FIRST_TIME: claimed.first_time,
                S.DES_BUCKET: job.dst_bucket,
                S.DES_KEY: job.dst_key,
                S.SIZE: job.size,
                S.SRC_ETAG: claimed.src_etag,
                S.VERSION_ID: claimed.version_id,
            })
        return Claim(ClaimResult.CLAIMED, claimed)

    def look(self, job: Job, owner: str) -> Claim:
        with self._db.reading() as conn:
            record = self._fetch(conn, job.ledger_key)
        return refuse_claim(record, job, owner, time.time()) or Claim(ClaimResult.FREE, record)

    def finish(
        self, job: Job, owner: str, seen: LedgerRecord | None, dst_etag: str, version_id: str | None = None,
    ) -> None:
        """One transaction: the claim's bookkeeping and the completion (an embedded run's state file then
        commits once per small object instead of twice). It reads only the columns it adds to, in the same
        transaction, so ``seen`` (what DynamoDB's single write needs) is not used here."""
        del seen
        now = time.time()
        now_text = time_text(now)
        with self._db.transaction() as conn:
            row = conn.execute(
                f'''SELECT "{S.TRY_TIMES}", "{S.INSTANCE_ID}", "{S.JOB_STATUS}", "{S.START_TIME_F}", "{S.FIRST_TIME}",
                    "{S.SRC_ETAG}", "{S.VERSION_ID}" FROM {_TABLE} WHERE "{S.KEY}" = ?''', (job.ledger_key,)).fetchone()
            if row is None:
                conn.execute(
                    f"""INSERT INTO {_TABLE} ("{S.KEY}", "{S.DES_BUCKET}", "{S.DES_KEY}", "{S.SIZE}", "{S.STATE}")
                        VALUES (?, ?, ?, ?, 'PENDING')""",
                    (job.ledger_key, job.dst_bucket, job.dst_key, job.size),
                )
                row = (0, "[]", "[]", "[]", None, None, None)
            try_times, instances, job_status, starts, first, src_etag, recorded_version = row
            first_time = _number(first) or int(now)
            self._update(conn, job.ledger_key, {
                S.DES_BUCKET: job.dst_bucket,
                S.DES_KEY: job.dst_key,
                S.SIZE: job.size,
                S.SRC_ETAG: job.etag or src_etag,
                S.VERSION_ID: version_id or job.version_id or recorded_version,
                S.TRY_TIMES: (try_times or 0) + 1,
                S.INSTANCE_ID: _set_add(instances or "[]", owner),
                S.START_TIME_F: _set_add(starts or "[]", now_text),
                S.CLAIM_TIME: now,
                S.FIRST_TIME: first_time,
                **self._completion(job_status or "[]", dst_etag, None, first_time, now, now_text),
            })

    def _owned(self, conn: sqlite3.Connection, key: str, owner: str) -> LedgerRecord | None:
        record = self._fetch(conn, key)
        if record is None or record.lease_owner != owner:
            return None
        return record

    def renew(self, key: str, owner: str, lease_seconds: float, progress: float | None = None) -> bool:
        with self._db.transaction() as conn:
            if self._owned(conn, key, owner) is None:
                return False
            values: dict[str, Any] = {S.LEASE_EXPIRES: time.time() + lease_seconds}
            if progress is not None:
                values[S.LAST_TIME_PROGRESS] = round(progress, 1)
            self._update(conn, key, values)
            return True

    def record_version(self, key: str, version_id: str) -> None:
        with self._db.transaction() as conn:
            self._update(conn, key, {S.VERSION_ID: version_id})

    def record_upload(self, key: str, owner: str, upload: UploadRecord | None) -> None:
        with self._db.transaction() as conn:
            self._update(
                conn,
                key,
                {
                    S.UPLOAD_ID: upload.upload_id if upload else None,
                    S.UPLOAD_PART_SIZE: upload.part_size if upload else None,
                    S.UPLOAD_SRC_ETAG: upload.src_etag if upload else None,
                    S.UPLOAD_SRC_VERSION: upload.src_version if upload else None,
                },
            )

    def complete(
        self, key: str, owner: str, dst_etag: str, version_id: str | None = None, part_size: int | None = None,
        first_time: float | None = None,
    ) -> None:
        del first_time  # one transaction reads the record anyway
        now = time.time()
        with self._db.transaction() as conn:
            row = conn.execute(f'SELECT "{S.JOB_STATUS}", "{S.FIRST_TIME}" FROM {_TABLE} WHERE "{S.KEY}" = ?',
                               (key,)).fetchone()
            if row is None:
                return
            job_status, first = row
            values = self._completion(job_status, dst_etag, part_size, _number(first), now)
            if version_id:
                values[S.VERSION_ID] = version_id
            self._update(conn, key, values)

    @staticmethod
    def _completion(job_status: str, dst_etag: str, part_size: int | None, first_time: float | None,
                    now: float, now_text: str | None = None) -> dict[str, Any]:
        return {
            S.STATE: JobState.DONE.value,
            S.JOB_STATUS: _set_add(job_status, Outcome.DONE.value),
            S.END_TIME: int(now),
            S.END_TIME_F: now_text or time_text(now),
            S.TOTAL_SPENT_TIME: int(now) - int(first_time or now),
            S.LAST_TIME_PROGRESS: 100.0,
            S.DES_ETAG: dst_etag,
            S.FAIL_COUNT: 0,
            S.LAST_ERROR: None,
            S.UPLOAD_ID: None,
            S.UPLOAD_SRC_ETAG: None,
            S.UPLOAD_SRC_VERSION: None,
            S.LEASE_OWNER: None,
            S.LEASE_EXPIRES: None,
            S.UPLOAD_PART_SIZE: part_size,  # the layout behind desEtag (None: one PUT)
        }

    def fail(self, key: str, owner: str, reason: str, outcome: Outcome, final: bool, *, unclaimed: bool = False) -> int:
        now = time.time()
        with self._db.transaction() as conn:
            record = self._fetch(conn, key)
            if record is None:
                return 0
            failures = record.fail_count + (0 if outcome is Outcome.TIMEOUT or outcome is Outcome.QUIT else 1)
            attempt: dict[str, Any] = {}
            if unclaimed:
                attempt = {S.TRY_TIMES: record.try_times + 1,
                           S.INSTANCE_ID: json.dumps(sorted({*record.instance_ids, owner}))}
            self._update(
                conn,
                key,
                {
                    **attempt,
                    S.STATE: (JobState.FAILED if final else JobState.PENDING).value,
                    S.JOB_STATUS: _set_add(json.dumps(sorted(record.job_status)), outcome.value),
                    S.FAIL_COUNT: failures,
                    S.LAST_ERROR: reason[:2000],
                    S.END_TIME: int(now),
                    S.END_TIME_F: time_text(now),
                    S.LEASE_OWNER: None,
                    S.LEASE_EXPIRES: None,
                },
            )
            return failures

    def part_done(self, key: str, part_number: int, md5_hex: str) -> int:
        with self._db.transaction() as conn:
            conn.execute(f'INSERT OR REPLACE INTO giant_parts ("{S.KEY}", part, md5) VALUES (?, ?, ?)',
                         (key, part_number, md5_hex))
            done: int = conn.execute(f'SELECT COUNT(*) FROM giant_parts WHERE "{S.KEY}" = ?', (key,)).fetchone()[0]
            return done

    def parts_done(self, key: str) -> dict[int, str]:
        with self._db.transaction() as conn:
            rows = conn.execute(f'SELECT part, md5 FROM giant_parts WHERE "{S.KEY}" = ?', (key,)).fetchall()
        return {int(part): str(md5) for part, md5 in rows}

    def claim_completion(self, key: str, owner: str, lease_seconds: float) -> bool:
        now = time.time()
        with self._db.transaction() as conn:
            row = conn.execute(f'SELECT owner, expires FROM giant_completion WHERE "{S.KEY}" = ?', (key,)).fetchone()
            if row is not None and row[0] != owner and row[1] > now:
                return False
            conn.execute(f'INSERT OR REPLACE INTO giant_completion ("{S.KEY}", owner, expires) VALUES (?, ?, ?)',
                         (key, owner, now + lease_seconds))
            return True

    def release_completion(self, key: str, owner: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(f'DELETE FROM giant_completion WHERE "{S.KEY}" = ? AND owner = ?', (key, owner))

    def record_deletions(self, bucket: str, deleted: list[tuple[str, int]]) -> None:
        """A mirror's deletions (destination key, size): what ``sync --delete`` removed, and when."""
        now = time.time()
        with self._db.transaction() as conn:
            columns = f'"{S.DES_BUCKET}", "{S.DES_KEY}", "{S.SIZE}", "{S.END_TIME}"'
            conn.executemany(f"INSERT INTO deletions ({columns}) VALUES (?, ?, ?, ?)",
                             [(bucket, key, size, now) for key, size in deleted])

    def deletions(self) -> list[tuple[str, str, int]]:
        """(bucket, key, size) of every recorded deletion, oldest first."""
        with self._db.reading() as conn:
            rows = conn.execute(f'SELECT "{S.DES_BUCKET}", "{S.DES_KEY}", "{S.SIZE}" FROM deletions ORDER BY rowid')
            return [(str(b), str(k), int(n or 0)) for b, k, n in rows.fetchall()]

    def get(self, key: str) -> LedgerRecord | None:
        with self._db.reading() as conn:
            return self._fetch(conn, key)

    def records(self, state: JobState | None = None) -> Iterator[LedgerRecord]:
        with self._db.reading() as conn:
            conn.row_factory = sqlite3.Row
            try:
                if state is None:
                    rows = conn.execute(f'SELECT * FROM {_TABLE} ORDER BY "{S.KEY}"').fetchall()
                else:
                    rows = conn.execute(
                        f'SELECT * FROM {_TABLE} WHERE "{S.STATE}" = ? ORDER BY "{S.KEY}"', (state.value,)
                    ).fetchall()
            finally:
                conn.row_factory = None
        return iter([_row_to_record(row) for row in rows])

    def destination_keys(self, dst_bucket: str) -> Iterator[tuple[str, str | None]]:
        with self._db.reading() as conn:
            rows = conn.execute(
                f'SELECT "{S.DES_KEY}", "{S.VERSION_ID}" FROM {_TABLE} WHERE "{S.DES_BUCKET}" = ?'
                f' ORDER BY "{S.DES_KEY}"',
                (dst_bucket,),
            ).fetchall()
        return iter([(row[0], row[1]) for row in rows])

    def summary(self) -> LedgerSummary:
        counts = dict.fromkeys(JobState, 0)
        sizes = dict.fromkeys(JobState, 0)
        with self._db.reading() as conn:
            for state, count, size in conn.execute(
                f'SELECT "{S.STATE}", COUNT(*), COALESCE(SUM("{S.SIZE}"), 0) FROM {_TABLE} GROUP BY "{S.STATE}"'
            ):
                counts[JobState(state)] = count
                sizes[JobState(state)] = size
            (retries,) = conn.execute(
                f'SELECT COALESCE(SUM(MAX("{S.TRY_TIMES}" - 1, 0)), 0) FROM {_TABLE}'
            ).fetchone()
        return LedgerSummary(counts, sizes, int(retries))

    def close(self) -> None:
        self._db.close()
