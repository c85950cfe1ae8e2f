"""Amazon DynamoDB as the Ledger: the original table layout, with conditional (optimistic) claims.

Claims read the item with a consistent read, decide exactly as the SQLite ledger does, and write with a
condition on ``tryTimes`` (which every claim increments), so two workers claiming one job at once cannot
both win. ``versionId`` is written as the string ``"null"`` when unknown, as the original did.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from s3migrate.endpoints.failures import describe, error_code
from s3migrate.errors import EndpointError
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

log = logging.getLogger(__name__)
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()



def _number(value: Any) -> float | None:
    """A number attribute (or the text an older writer put there); None when it is neither."""
    if value is None or isinstance(value, (set, bool)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _strings(value: Any) -> set[str]:
    """A string set (or a lone string, as some writers put there)."""
    if isinstance(value, (set, frozenset, list)):
        return {str(v) for v in value}
    return {value} if isinstance(value, str) and value else set()


def _item_to_record(item: dict[str, Any]) -> LedgerRecord:
    """Read an item written by s3migrate or by the original Longbow workers, whatever the attribute types.

    An attribute of an unexpected type is read as absent (and said once, in a warning), never an exception:
    a record is only a claim's input, and a fresh claim repairs it."""
    d: dict[str, Any] = {}
    for name, raw in item.items():
        try:
            d[name] = _deserializer.deserialize(raw)
        except Exception:
            log.warning("ledger item %s: attribute %s is unreadable (%s); ignored", item.get(S.KEY), name, raw)
    state_text = str(d.get(S.STATE))
    if state_text in JobState.__members__:
        state = JobState(state_text)
    else:  # an item the original wrote: its jobStatus history says whether it finished
        state = JobState.DONE if Outcome.DONE.value in _strings(d.get(S.JOB_STATUS)) else JobState.PENDING
    version = d.get(S.VERSION_ID)
    part_size = _number(d.get(S.UPLOAD_PART_SIZE))
    return LedgerRecord(
        key=str(d.get(S.KEY, "")),
        dst_bucket=_text(d.get(S.DES_BUCKET)) or "",
        dst_key=_text(d.get(S.DES_KEY)) or "",
        size=int(_number(d.get(S.SIZE)) or 0),
        version_id=None if version in (None, "null") or not isinstance(version, str) else version,
        src_etag=_text(d.get(S.SRC_ETAG)),
        state=state,
        job_status=_strings(d.get(S.JOB_STATUS)),
        instance_ids=_strings(d.get(S.INSTANCE_ID)),
        try_times=int(_number(d.get(S.TRY_TIMES)) or 0),
        fail_count=int(_number(d.get(S.FAIL_COUNT)) or 0),
        first_time=_number(d.get(S.FIRST_TIME)),
        claim_time=_number(d.get(S.CLAIM_TIME)),
        end_time=_number(d.get(S.END_TIME)),
        total_spent_time=_number(d.get(S.TOTAL_SPENT_TIME)),
        progress=_number(d.get(S.LAST_TIME_PROGRESS)) or 0.0,
        dst_etag=_text(d.get(S.DES_ETAG)),
        upload_id=_text(d.get(S.UPLOAD_ID)),
        upload_part_size=int(part_size) if part_size else None,
        upload_src_etag=_text(d.get(S.UPLOAD_SRC_ETAG)),
        upload_src_version=_text(d.get(S.UPLOAD_SRC_VERSION)),
        lease_owner=_text(d.get(S.LEASE_OWNER)),
        lease_expires=_number(d.get(S.LEASE_EXPIRES)),
        last_error=_text(d.get(S.LAST_ERROR)),
    )


class _Update:
    """Builds one UpdateItem expression with placeholder names and values."""

    def __init__(self) -> None:
        self.sets: list[str] = []
        self.removes: list[str] = []
        self.adds: list[str] = []
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def _name(self, attr: str) -> str:
        placeholder = f"#a{len(self.names)}"
        self.names[placeholder] = attr
        return placeholder

    def _value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        if isinstance(value, float):
            value = Decimal(str(value))
        self.values[placeholder] = _serializer.serialize(value)
        return placeholder

    def set(self, attr: str, value: Any, *, if_missing: bool = False) -> _Update:
        if value is None:
            self.removes.append(self._name(attr))
            return self
        name = self._name(attr)
        val = self._value(value)
        self.sets.append(f"{name} = if_not_exists({name}, {val})" if if_missing else f"{name} = {val}")
        return self

    def add(self, attr: str, value: Any) -> _Update:
        self.adds.append(f"{self._name(attr)} {self._value(value)}")
        return self

    def condition(self, text: str, *, raw: bool = False, **values: Any) -> str:
        """A condition expression; ``{attr}`` and ``:name`` placeholders are filled in. ``raw``: the values are
        DynamoDB AttributeValues as read (of any type), not Python values to serialise."""
        for key, value in values.items():
            if key.startswith("attr_"):
                text = text.replace("{" + key + "}", self._name(value))
            elif raw:
                placeholder = f":v{len(self.values)}"
                self.values[placeholder] = value
                text = text.replace(":" + key, placeholder)
            else:
                text = text.replace(":" + key, self._value(value))
        return text

    def expression(self) -> str:
        parts = []
        if self.sets:
            parts.append("SET " + ", ".join(self.sets))
        if self.removes:
            parts.append("REMOVE " + ", ".join(self.removes))
        if self.adds:
            parts.append("ADD " + ", ".join(self.adds))
        return " ".join(parts)


def _add_to_set(update: _Update, item: dict[str, Any] | None, attr: str, value: str) -> None:
    """ADD to a string set, as the original does; an attribute of another type is replaced (ADD would fail)."""
    raw = (item or {}).get(attr)
    if raw is None or "SS" in raw:
        update.add(attr, {value})
    else:
        update.set(attr, {value})


# A giant object's item also holds its finished parts and who completes its upload (ours, not the original's).
_PARTS_DONE = "partsDone"
_COMPLETER = "completer"
_COMPLETER_EXPIRES = "completerExpires"


class DynamoLedger:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self.table = table

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(TableName=self.table, **kwargs)
        except ClientError as exc:
            raise EndpointError(f"DynamoDB {operation} on {self.table}: {describe(exc)}") from None

    def _update(self, key: str, update: _Update, condition: str | None = None,
                returned: str | None = None) -> dict[str, Any]:
        args: dict[str, Any] = {
            "Key": {S.KEY: {"S": key}},
            "UpdateExpression": update.expression(),
            "ExpressionAttributeNames": update.names,
        }
        if update.values:
            args["ExpressionAttributeValues"] = update.values
        if condition:
            args["ConditionExpression"] = condition
        if returned:
            args["ReturnValues"] = returned
        response: dict[str, Any] = self._client.update_item(TableName=self.table, **args)
        return response

    def _update_checked(self, key: str, update: _Update, condition: str | None = None,
                        returned: str | None = None) -> dict[str, Any] | None:
        """The update's response, or None when its condition did not hold."""
        try:
            return self._update(key, update, condition, returned)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise EndpointError(f"DynamoDB UpdateItem on {self.table}: {describe(exc)}") from None

    def _job_fields(self, update: _Update, job: Job) -> _Update:
        update.set(S.DES_BUCKET, job.dst_bucket).set(S.DES_KEY, job.dst_key).set(S.SIZE, job.size)
        update.set(S.VERSION_ID, job.version_id or "null")
        if job.etag:
            update.set(S.SRC_ETAG, job.etag)
        return update

    def register(self, jobs: Sequence[Job]) -> None:
        def one(job: Job) -> None:
            update = self._job_fields(_Update(), job)
            update.set(S.STATE, JobState.PENDING.value).set(S.FAIL_COUNT, 0).set(S.TRY_TIMES, 0, if_missing=True)
            update.set(S.LEASE_OWNER, None).set(S.LEASE_EXPIRES, None)
            if self._update_checked(job.ledger_key, update) is None:
                raise EndpointError("unexpected conditional failure")  # pragma: no cover

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(one, jobs))

    def _get_item(self, key: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._call("get_item", Key={S.KEY: {"S": key}}, ConsistentRead=True).get("Item")
        return item

    def get(self, key: str) -> LedgerRecord | None:
        item = self._get_item(key)
        return _item_to_record(item) if item else None

    def claim(self, job: Job, owner: str, lease_seconds: float) -> Claim:
        for _ in range(8):
            now = time.time()
            item = self._get_item(job.ledger_key)
            record = _item_to_record(item) if item else None
            refused = refuse_claim(record, job, owner, now)
            if refused is not None:
                return refused
            update = self._job_fields(_Update(), job)
            update.set(S.STATE, JobState.RUNNING.value).set(S.LEASE_OWNER, owner)
            update.set(S.LEASE_EXPIRES, round(now + lease_seconds, 3)).set(S.CLAIM_TIME, round(now, 3))
            update.set(S.FIRST_TIME, int(now), if_missing=True).set(S.LAST_TIME_PROGRESS, 0, if_missing=True)
            _add_to_set(update, item, S.INSTANCE_ID, owner)
            _add_to_set(update, item, S.START_TIME_F, time_text(now))
            if record is not None and not same_destination(record, job):  # that upload is not this job's
                for attr in (S.UPLOAD_ID, S.UPLOAD_PART_SIZE, S.UPLOAD_SRC_ETAG, S.UPLOAD_SRC_VERSION, S.DES_ETAG):
                    update.set(attr, None)
            if item is None:
                update.add(S.TRY_TIMES, 1)
                condition = update.condition("attribute_not_exists({attr_k})", attr_k=S.KEY)
            elif S.TRY_TIMES not in item:
                update.add(S.TRY_TIMES, 1)
                condition = update.condition("attribute_not_exists({attr_t})", attr_t=S.TRY_TIMES)
            else:
                # Whatever tryTimes holds (a number, or what another writer put there), the claim wins only if it
                # is still what was read: that is what makes two claims at once have one winner.
                seen = item[S.TRY_TIMES]
                if "N" in seen:
                    update.add(S.TRY_TIMES, 1)
                else:
                    log.warning("ledger item %s: tryTimes is not a number (%s); counting again from 1",
                                job.ledger_key, seen)
                    update.set(S.TRY_TIMES, 1)
                condition = update.condition("{attr_t} = :seen", raw=True, attr_t=S.TRY_TIMES, seen=seen)
            claimed = self._update_checked(job.ledger_key, update, condition, returned="ALL_NEW")
            if claimed is not None:  # the item as the claim left it: no second read
                return Claim(ClaimResult.CLAIMED, _item_to_record(claimed["Attributes"]))
        record = self.get(job.ledger_key)
        return Claim(ClaimResult.BUSY, record)

    def look(self, job: Job, owner: str) -> Claim:
        record = self.get(job.ledger_key)
        return refuse_claim(record, job, owner, time.time()) or Claim(ClaimResult.FREE, record)

    def finish(
        self, job: Job, owner: str, seen: LedgerRecord | None, dst_etag: str, version_id: str | None = None,
    ) -> None:
        """One UpdateItem: the claim's fields and the completion's. The string sets take their values with ADD, as
        the original's; an item whose sets are of another type is read and rewritten instead (ValidationException)."""
        now = time.time()
        first_time = seen.first_time if seen is not None and seen.first_time else int(now)

        def update_for(item: dict[str, Any] | None) -> _Update:
            update = self._completion(dst_etag, None, None, first_time, item)
            self._job_fields(update, replace(job, version_id=version_id or job.version_id))
            update.set(S.CLAIM_TIME, round(now, 3)).set(S.FIRST_TIME, int(first_time), if_missing=True)
            if item is not None and "N" not in item.get(S.TRY_TIMES, {"N": "0"}):
                update.set(S.TRY_TIMES, 1)  # not a number (another writer's): counting again, as claim does
            else:
                update.add(S.TRY_TIMES, 1)
            _add_to_set(update, item, S.INSTANCE_ID, owner)
            _add_to_set(update, item, S.START_TIME_F, time_text(now))
            return update

        try:
            self._update(job.ledger_key, update_for(None))
            return
        except ClientError as exc:
            if error_code(exc) != "ValidationException":
                raise EndpointError(f"DynamoDB UpdateItem on {self.table}: {describe(exc)}") from None
        self._update_checked(job.ledger_key, update_for(self._get_item(job.ledger_key)))

    def renew(self, key: str, owner: str, lease_seconds: float, progress: float | None = None) -> bool:
        update = _Update().set(S.LEASE_EXPIRES, round(time.time() + lease_seconds, 3))
        if progress is not None:
            update.set(S.LAST_TIME_PROGRESS, round(progress, 1))
        condition = update.condition("{attr_o} = :me", attr_o=S.LEASE_OWNER, me=owner)
        return self._update_checked(key, update, condition) is not None

    def record_version(self, key: str, version_id: str) -> None:
        update = _Update().set(S.VERSION_ID, version_id)
        self._update_checked(key, update, update.condition("attribute_exists({attr_k})", attr_k=S.KEY))

    def record_upload(self, key: str, owner: str, upload: UploadRecord | None) -> None:
        update = _Update()
        update.set(S.UPLOAD_ID, upload.upload_id if upload else None)
        update.set(S.UPLOAD_PART_SIZE, upload.part_size if upload else None)
        update.set(S.UPLOAD_SRC_ETAG, upload.src_etag if upload else None)
        update.set(S.UPLOAD_SRC_VERSION, upload.src_version if upload else None)
        condition = update.condition("attribute_exists({attr_k})", attr_k=S.KEY)
        self._update_checked(key, update, condition)

    def part_done(self, key: str, part_number: int, md5_hex: str) -> int:
        # One binary set on the object's item: two bytes of part number and the 16-byte MD5 per part (180 KB for
        # 10,000 parts, under DynamoDB's 400 KB item limit); ADD to a set is atomic and idempotent.
        element = part_number.to_bytes(2, "big") + bytes.fromhex(md5_hex)
        response = self._call("update_item", Key={S.KEY: {"S": key}}, UpdateExpression="ADD #p :p",
                              ExpressionAttributeNames={"#p": _PARTS_DONE},
                              ExpressionAttributeValues={":p": {"BS": [element]}},
                              ReturnValues="ALL_NEW")  # UPDATED_NEW may leave out a set an ADD did not change
        return len(response.get("Attributes", {}).get(_PARTS_DONE, {}).get("BS", []))

    def parts_done(self, key: str) -> dict[int, str]:
        item = self._call("get_item", Key={S.KEY: {"S": key}}, ConsistentRead=True,
                          ProjectionExpression="#p", ExpressionAttributeNames={"#p": _PARTS_DONE}).get("Item", {})
        elements = item.get(_PARTS_DONE, {}).get("BS", [])
        return {int.from_bytes(bytes(e)[:2], "big"): bytes(e)[2:].hex() for e in elements}

    def claim_completion(self, key: str, owner: str, lease_seconds: float) -> bool:
        now = time.time()
        try:
            self._client.update_item(
                TableName=self.table, Key={S.KEY: {"S": key}}, UpdateExpression="SET #c = :o, #e = :e",
                ConditionExpression="attribute_not_exists(#c) OR #c = :o OR #e < :now",
                ExpressionAttributeNames={"#c": _COMPLETER, "#e": _COMPLETER_EXPIRES},
                ExpressionAttributeValues={":o": {"S": owner}, ":e": {"N": str(now + lease_seconds)},
                                           ":now": {"N": str(now)}})
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise EndpointError(f"DynamoDB UpdateItem on {self.table}: {describe(exc)}") from None
        return True

    def release_completion(self, key: str, owner: str) -> None:
        try:
            self._client.update_item(
                TableName=self.table, Key={S.KEY: {"S": key}}, UpdateExpression="REMOVE #c, #e",
                ConditionExpression="#c = :o", ExpressionAttributeNames={"#c": _COMPLETER, "#e": _COMPLETER_EXPIRES},
                ExpressionAttributeValues={":o": {"S": owner}})
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise EndpointError(f"DynamoDB UpdateItem on {self.table}: {describe(exc)}") from None

    def complete(
        self, key: str, owner: str, dst_etag: str, version_id: str | None = None, part_size: int | None = None,
        first_time: float | None = None,
    ) -> None:
        """With ``first_time`` (the claim's), one write and no read: jobStatus gets DONE added as the string set
        the original keeps; an item whose jobStatus is of another type is read and rewritten instead."""
        if first_time is not None:
            update = self._completion(dst_etag, version_id, part_size, first_time, None)
            try:
                self._update(key, update, update.condition("attribute_exists({attr_k})", attr_k=S.KEY))
                return
            except ClientError as exc:
                if error_code(exc) not in ("ValidationException", "ConditionalCheckFailedException"):
                    raise EndpointError(f"DynamoDB UpdateItem on {self.table}: {describe(exc)}") from None
        item = self._get_item(key)
        if item is None:
            return
        record = _item_to_record(item)
        self._update_checked(key, self._completion(dst_etag, version_id, part_size, record.first_time, item))

    def _completion(self, dst_etag: str, version_id: str | None, part_size: int | None, first_time: float | None,
                    item: dict[str, Any] | None) -> _Update:
        now = time.time()
        update = _Update().set(S.STATE, JobState.DONE.value).set(S.END_TIME, int(now))
        update.set(S.END_TIME_F, time_text(now)).set(S.LAST_TIME_PROGRESS, 100)
        update.set(S.TOTAL_SPENT_TIME, int(now) - int(first_time or now)).set(S.DES_ETAG, dst_etag)
        update.set(S.FAIL_COUNT, 0)
        for attr in (S.LAST_ERROR, S.UPLOAD_ID, S.UPLOAD_SRC_ETAG, S.UPLOAD_SRC_VERSION, S.LEASE_OWNER,
                     S.LEASE_EXPIRES):
            update.set(attr, None)
        update.set(S.UPLOAD_PART_SIZE, part_size)  # the layout behind desEtag (None: one PUT)
        if version_id:
            update.set(S.VERSION_ID, version_id)
        _add_to_set(update, item, S.JOB_STATUS, Outcome.DONE.value)
        return update

    def fail(self, key: str, owner: str, reason: str, outcome: Outcome, final: bool, *, unclaimed: bool = False) -> int:
        item = self._get_item(key)
        if item is None:
            return 0
        record = _item_to_record(item)
        failures = record.fail_count + (0 if outcome in (Outcome.TIMEOUT, Outcome.QUIT) else 1)
        now = time.time()
        update = _Update().set(S.STATE, (JobState.FAILED if final else JobState.PENDING).value)
        if unclaimed:
            update.set(S.TRY_TIMES, record.try_times + 1)
            _add_to_set(update, item, S.INSTANCE_ID, owner)
        update.set(S.FAIL_COUNT, failures).set(S.LAST_ERROR, reason[:2000]).set(S.END_TIME, int(now))
        update.set(S.END_TIME_F, time_text(now)).set(S.LEASE_OWNER, None).set(S.LEASE_EXPIRES, None)
        _add_to_set(update, item, S.JOB_STATUS, outcome.value)
        self._update_checked(key, update)
        return failures

    def _scan(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        try:
            pages = self._client.get_paginator("scan").paginate(TableName=self.table, ConsistentRead=True, **kwargs)
            for page in pages:
                yield from page.get("Items", [])
        except ClientError as exc:
            raise EndpointError(f"DynamoDB Scan on {self.table}: {describe(exc)}") from None

    def records(self, state: JobState | None = None) -> Iterator[LedgerRecord]:
        kwargs: dict[str, Any] = {}
        if state is not None:
            kwargs = {"FilterExpression": "#s = :s", "ExpressionAttributeNames": {"#s": S.STATE},
                      "ExpressionAttributeValues": {":s": {"S": state.value}}}
        return iter(sorted((_item_to_record(i) for i in self._scan(**kwargs)), key=lambda r: r.key))

    def destination_keys(self, dst_bucket: str) -> Iterator[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        try:
            for page in self._client.get_paginator("query").paginate(
                TableName=self.table,
                IndexName=S.DES_BUCKET_INDEX,
                KeyConditionExpression="#b = :b",
                ExpressionAttributeNames={"#b": S.DES_BUCKET},
                ExpressionAttributeValues={":b": {"S": dst_bucket}},
            ):
                for item in page.get("Items", []):
                    version = item.get(S.VERSION_ID, {}).get("S")
                    out.append((item[S.DES_KEY]["S"], None if version in (None, "null") else version))
        except ClientError as exc:
            raise EndpointError(f"DynamoDB Query on {self.table}/{S.DES_BUCKET_INDEX}: {describe(exc)}") from None
        return iter(sorted(out))

    def summary(self) -> LedgerSummary:
        counts = dict.fromkeys(JobState, 0)
        sizes = dict.fromkeys(JobState, 0)
        retries = 0
        for record in self.records():
            counts[record.state] += 1
            sizes[record.state] += record.size
            retries += max(record.try_times - 1, 0)
        return LedgerSummary(counts, sizes, retries)

    def close(self) -> None:
        pass


def create_table(client: Any, table: str, *, wait: bool = True) -> None:
    """Create the ledger table with the original layout (on-demand capacity). Used by tests and docs."""
    client.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": S.KEY, "AttributeType": "S"},
                              {"AttributeName": S.DES_BUCKET, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": S.KEY, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[{
            "IndexName": S.DES_BUCKET_INDEX,
            "KeySchema": [{"AttributeName": S.DES_BUCKET, "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": [S.DES_KEY, S.VERSION_ID]},
        }],
    )
    if wait:
        client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
