"""``s3migrate verify``: prove that the destination holds the source, object by object.

Without reading data, an object is *proven equal* when:
- both ETags are plain MD5s (single-part uploads) and equal;
- both are the same multipart ETag (same part layout and the same part digests);
- the ledger recorded that this destination ETag was produced from the bytes of this source ETag
  (a copy made by s3migrate, whose source has not changed since);
- both sides carry the same full-object additional checksum (CRC64NVME, CRC32, CRC32C, SHA1, SHA256).
Two plain-looking ETags that differ prove different content only when a HEAD shows that neither object is
encrypted with SSE-KMS, DSSE-KMS or SSE-C (whose ETags are not MD5s); the same holds for the part-layout rule.
Anything else with equal sizes is *unproven* (for example the same content uploaded with another part size),
and ``--deep`` settles it by reading both sides and hashing them. It never calls two different objects equal:
every rule above either compares digests of the content or relies on a digest recorded from it.
"""

from __future__ import annotations

import enum
import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from s3migrate.endpoints.failures import describe
from s3migrate.engine.digest import etag_digest, etag_is_md5, multipart_etag, strip_etag
from s3migrate.jobs.layout import PartLayout
from s3migrate.ledger.base import JobState, Ledger
from s3migrate.planner.filters import KeyFilter
from s3migrate.planner.history import compare_history, history_pairs
from s3migrate.planner.join import outer_join
from s3migrate.planner.listing import ListedObject, list_objects
from s3migrate.planner.mapping import KeyMapping

_CHECKSUMS = ("ChecksumCRC64NVME", "ChecksumCRC32", "ChecksumCRC32C", "ChecksumSHA1", "ChecksumSHA256")
_READ_CHUNK = 1024 * 1024
MAX_LAYOUT_PROBES = 64  # HEAD requests per side spent to learn a multipart layout


class Verdict(enum.StrEnum):
    EQUAL = "equal"
    MISSING = "missing"
    DIFFERENT = "different"
    EXTRA = "extra"
    UNPROVEN = "unproven"


@dataclass
class Item:
    key: str  # relative key
    verdict: Verdict
    reason: str
    src: ListedObject | None = None
    dst: ListedObject | None = None
    expected: tuple[str | None, int | None] | None = None  # a layout to check before reading data
    md5_mismatch: bool = False  # both ETags look like MD5s and differ: different, unless either is encrypted
    heads: tuple[dict[str, Any] | None, dict[str, Any] | None] | None = field(default=None, repr=False)


@dataclass
class VerifyReport:
    items: list[Item] = field(default_factory=list)

    def count(self, verdict: Verdict) -> int:
        return sum(1 for item in self.items if item.verdict is verdict)

    @property
    def ok(self) -> bool:
        return all(item.verdict is Verdict.EQUAL for item in self.items)

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": {verdict.value: self.count(verdict) for verdict in Verdict},
            "problems": [
                {"key": i.key, "verdict": i.verdict.value, "reason": i.reason,
                 "source_size": i.src.size if i.src else None, "destination_size": i.dst.size if i.dst else None}
                for i in self.items if i.verdict is not Verdict.EQUAL
            ],
        }


def part_sizes(client: Any, bucket: str, key: str, count: int) -> list[int] | None:
    """Each part's size of a multipart object (HEAD ?partNumber=n), or None when it cannot be known cheaply."""
    if count > MAX_LAYOUT_PROBES:
        return None
    sizes = []
    try:
        for number in range(1, count + 1):
            sizes.append(int(client.head_object(Bucket=bucket, Key=key, PartNumber=number)["ContentLength"]))
    except Exception:
        return None
    return sizes


def parts_of(etag: str | None) -> int | None:
    text = strip_etag(etag)
    head, _, count = text.rpartition("-")
    return int(count) if head and count.isdigit() else None


def layout_sizes(size: int, part_size: int) -> list[int]:
    return [p.size for p in PartLayout(size, part_size).parts()]


def fingerprint_verdict(src: ListedObject, dst: ListedObject, ledger: Ledger | None, ledger_key: str,
                        destination: tuple[str, str] | None = None) -> Item:
    """``destination``: (bucket, key) of ``dst``; a ledger record speaks for it only when it names it."""
    if src.size != dst.size:
        return Item(src.key, Verdict.DIFFERENT, f"size {src.size} at source, {dst.size} at destination", src, dst)
    s_md5, d_md5 = etag_digest(src.etag), etag_digest(dst.etag)
    if s_md5 is not None and s_md5 == d_md5:
        return Item(src.key, Verdict.EQUAL, "same MD5", src, dst)
    s_tag, d_tag = strip_etag(src.etag), strip_etag(dst.etag)
    if s_tag and s_tag == d_tag:
        return Item(src.key, Verdict.EQUAL, "same multipart ETag", src, dst)
    if ledger is not None:
        record = ledger.get(ledger_key)
        if (
            record is not None
            and record.state is JobState.DONE
            and (destination is None or (record.dst_bucket, record.dst_key) == destination)
            and record.src_etag and strip_etag(record.src_etag) == s_tag
            and record.dst_etag
        ):
            if strip_etag(record.dst_etag) == d_tag:
                return Item(src.key, Verdict.EQUAL, "ledger: copied from this source content", src, dst)
            # The ledger knows the ETag this source's bytes give under its layout: another ETag under the
            # same layout is other content.
            item = Item(src.key, Verdict.UNPROVEN, "changed since it was copied", src, dst)
            item.expected = (record.dst_etag, record.upload_part_size)
            return item
    if s_md5 is not None and d_md5 is not None:
        # A listing does not say whether an object is encrypted; under SSE-KMS, DSSE or SSE-C the ETag is not
        # an MD5, so a HEAD of each side decides (see Verifier._settle).
        return Item(src.key, Verdict.UNPROVEN, "ETags differ", src, dst, md5_mismatch=True)
    item = Item(src.key, Verdict.UNPROVEN, "ETags cannot be compared (different part layouts)", src, dst)
    if parts_of(src.etag) and parts_of(src.etag) == parts_of(dst.etag):
        item.expected = (None, None)  # both multipart with as many parts: compare the layouts
    return item


def _head(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """One HEAD (with the additional checksums) serves every question verify asks of an object; None if it fails."""
    try:
        head: dict[str, Any] = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except Exception:
        return None
    return head


def _checksums(head: dict[str, Any] | None) -> dict[str, str]:
    if head is None or head.get("ChecksumType") not in (None, "FULL_OBJECT"):
        return {}
    return {name: str(head[name]) for name in _CHECKSUMS if head.get(name)}


def _sha256(client: Any, bucket: str, key: str) -> str:
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(_READ_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _file_part_md5s(store: Any, folder: str, key: str, sizes: list[int]) -> list[bytes]:
    """The MD5 of each consecutive range of a file (one range: the whole file)."""
    body = store.get_object(Bucket=folder, Key=key)["Body"]
    digests = []
    try:
        for size in sizes:
            digest = hashlib.md5(usedforsecurity=False)
            left = size
            while left:
                chunk = body.read(min(_READ_CHUNK, left))
                if not chunk:
                    raise EOFError(f"{key} is shorter than its listing")
                digest.update(chunk)
                left -= len(chunk)
            digests.append(digest.digest())
    finally:
        body.close()
    return digests


@dataclass
class Verifier:
    src_client: Any
    dst_client: Any
    mapping: KeyMapping
    ledger: Ledger | None = None
    deep: bool = False
    workers: int = 8
    key_filter: KeyFilter | None = None  # keys left out by the filters are not verified, on either side
    one_way: bool = False  # objects only at the destination are not reported (nor fail the verification)
    all_versions: bool = False  # compare each key's whole history (planner/history.py), not the latest versions

    def _histories(self) -> VerifyReport:
        """Each key's history at the destination must be the source's: the same versions, in the same order."""
        items: list[Item] = []
        for src, dst in history_pairs(self.src_client, self.dst_client, self.mapping):
            listed = (src or dst)
            assert listed is not None
            shown = listed.as_listed()
            if self.key_filter and self.key_filter.excludes(shown) is not None:
                continue
            if src is None:
                if not self.one_way:
                    items.append(Item(shown.key, Verdict.EXTRA, "only at the destination", None, shown))
                continue
            if dst is None:
                items.append(Item(shown.key, Verdict.MISSING, "not at the destination", shown, None))
                continue
            compared = compare_history(self.dst_client, self.mapping, src, dst)
            if compared.diverged:
                items.append(Item(shown.key, Verdict.DIFFERENT, compared.diverged, shown, dst.as_listed()))
            elif compared.to_copy:
                items.append(Item(shown.key, Verdict.MISSING, f"{len(compared.to_copy)} of {len(src.versions)} "
                                  "versions not at the destination", shown, dst.as_listed()))
            else:
                items.append(Item(shown.key, Verdict.EQUAL, f"the same {len(src.versions)} versions", shown,
                                  dst.as_listed()))
        return VerifyReport(items)

    def run(self) -> VerifyReport:
        if self.all_versions:
            return self._histories()
        m = self.mapping
        items: list[Item] = []
        pending: list[Item] = []
        pairs = outer_join(
            list_objects(self.src_client, m.src_bucket, m.src_list_prefix, m.src_cut, f"source s3://{m.src_bucket}"),
            list_objects(self.dst_client, m.dst_bucket, m.dst_list_prefix, m.dst_cut,
                         f"destination s3://{m.dst_bucket}"),
        )
        for src, dst in pairs:
            listed = src if src is not None else dst
            if self.key_filter and listed is not None and self.key_filter.excludes(listed) is not None:
                continue
            if dst is None:
                assert src is not None
                items.append(Item(src.key, Verdict.MISSING, "not at the destination", src, None))
            elif src is None:
                if not self.one_way:
                    items.append(Item(dst.key, Verdict.EXTRA, "only at the destination", None, dst))
            else:
                item = fingerprint_verdict(src, dst, self.ledger, f"{m.src_bucket}/{m.src_key(src.key)}",
                                           (m.dst_bucket, m.dst_key(src.key)))
                items.append(item)
                if item.verdict is Verdict.UNPROVEN or (self.deep and item.verdict is Verdict.EQUAL):
                    pending.append(item)
        with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
            list(pool.map(self._settle, pending))
        return VerifyReport(items)

    def _layout_proves_difference(self, item: Item) -> bool:
        """Same part layout, different ETag: different content (same bytes in the same parts give one ETag)."""
        m = self.mapping
        assert item.src is not None and item.dst is not None and item.expected is not None
        count = parts_of(item.dst.etag)
        if count is None or not self._both_md5_etags(item):
            return False
        dst_sizes = part_sizes(self.dst_client, m.dst_bucket, m.dst_key(item.key), count)
        recorded_etag, recorded_part = item.expected
        if recorded_etag is not None:
            expected = layout_sizes(item.src.size, recorded_part) if recorded_part else None
            if parts_of(recorded_etag) != count or expected is None or dst_sizes != expected:
                return False
        else:
            src_sizes = part_sizes(self.src_client, m.src_bucket, m.src_key(item.key), count)
            if src_sizes is None or src_sizes != dst_sizes:
                return False
        item.verdict, item.reason = Verdict.DIFFERENT, "ETag differs under the same part layout"
        return True

    def _prove_with_file(self, item: Item) -> bool:
        """A local file against an object: hash the file (reading it costs no request) into the form of the
        object's ETag - its MD5, or for a multipart ETag the MD5 of the part MD5s under the object's own part
        sizes - where S3 makes that ETag (not under SSE-KMS, DSSE or SSE-C). False when that cannot be known."""
        m = self.mapping
        sides = [(self.src_client, m.src_bucket, m.src_key(item.key), item.src),
                 (self.dst_client, m.dst_bucket, m.dst_key(item.key), item.dst)]
        local = [side for side in sides if side[0].abilities.filesystem]
        remote = [side for side in sides if not side[0].abilities.filesystem]
        if len(local) != 1 or len(remote) != 1:
            return False
        (file_store, folder, path_key, _), (store, bucket, key, listed) = local[0], remote[0]
        head = self._heads(item)[0 if remote[0] is sides[0] else 1]
        if listed is None or head is None or not etag_is_md5(head):
            return False
        count = parts_of(listed.etag)
        if count is None and etag_digest(listed.etag) is None:
            return False
        sizes = [listed.size] if count is None else part_sizes(store, bucket, key, count)
        if not sizes or sum(sizes) != listed.size:
            return False
        try:
            digests = _file_part_md5s(file_store, folder, path_key, sizes)
        except Exception as exc:
            item.reason = f"could not read the file: {describe(exc)}"
            return False
        expected = digests[0].hex() if count is None else multipart_etag(digests)
        equal = expected == strip_etag(listed.etag)
        item.verdict = Verdict.EQUAL if equal else Verdict.DIFFERENT
        item.reason = f"MD5 of the file {'matches' if equal else 'differs from'} the ETag"
        return True

    def _heads(self, item: Item) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Both sides' HEADs, taken once per item."""
        if item.heads is None:
            m = self.mapping
            item.heads = (_head(self.src_client, m.src_bucket, m.src_key(item.key)),
                          _head(self.dst_client, m.dst_bucket, m.dst_key(item.key)))
        return item.heads

    def _both_md5_etags(self, item: Item) -> bool:
        """Whether neither side is encrypted in a way that makes its ETag something other than MD5s."""
        return all(head is not None and etag_is_md5(head) for head in self._heads(item))

    def _settle(self, item: Item) -> None:
        """Additional checksums first (no data read), then, with --deep, hash both sides."""
        m = self.mapping
        src_key, dst_key = m.src_key(item.key), m.dst_key(item.key)
        if item.md5_mismatch:
            if self._both_md5_etags(item):
                item.verdict, item.reason = Verdict.DIFFERENT, "MD5 differs"
                return
            item.reason = "encrypted (SSE-KMS, DSSE-KMS or SSE-C): its ETag is not an MD5"
        if item.verdict is Verdict.UNPROVEN and item.expected is not None and self._layout_proves_difference(item):
            return
        if item.verdict is Verdict.UNPROVEN:
            s, d = (_checksums(head) for head in self._heads(item))
            common = [name for name in _CHECKSUMS if name in s and name in d]
            if common:
                name = common[0]
                equal = s[name] == d[name]
                item.verdict = Verdict.EQUAL if equal else Verdict.DIFFERENT
                item.reason = f"{name[len('Checksum'):]} {'matches' if equal else 'differs'}"
                if not self.deep:
                    return
        if item.verdict is Verdict.UNPROVEN and self._prove_with_file(item):
            return
        if not self.deep:
            return
        try:
            src_hash = _sha256(self.src_client, m.src_bucket, src_key)
            dst_hash = _sha256(self.dst_client, m.dst_bucket, dst_key)
        except Exception as exc:
            item.verdict, item.reason = Verdict.UNPROVEN, f"could not read: {describe(exc)}"
            return
        if src_hash == dst_hash:
            item.verdict, item.reason = Verdict.EQUAL, "same SHA-256 (read both sides)"
        else:
            item.verdict, item.reason = Verdict.DIFFERENT, "content differs (read both sides)"
