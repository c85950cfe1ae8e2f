"""Planning in parallel over key ranges, for flat and deep keyspaces alike.

One listing is a chain of dependent requests (each page names the next), so a bucket of millions of keys
lists at one page per round trip however many threads there are. Here the relative keyspace is cut into
ranges (``StartAfter`` bounds) and each range is listed on both sides and merge-joined on its own, ``width``
ranges at a time.

The cuts need no knowledge of the keys. A thread with nothing to do cuts the part of a running range that it
has not listed yet: from the furthest key listed, at +4, +8, +16 ... pages' worth of keys (the span of the
pages listed so far, in the characters seen at each position of the keys), the last new range taking the
rest. A cut range that turns out empty costs one request per side and lets its parent be cut again at once;
a range with only a few pages left is not cut. So ranges settle where the keys are, whatever their shape.
Each merge streams: memory is bounded by ``width`` pages per side, not by the number of keys. Pairs come out
in no particular order.

Cuts are only correct for a service that lists in key order. The first page of each side is checked
before any cut (``parallel_pairs`` returns None when one is out of order), and every later page is checked
too (``UnsortedListingError``, naming ``--list-width 1``).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from s3migrate.endpoints.failures import translate_endpoint_error
from s3migrate.errors import EndpointError
from s3migrate.planner.join import Pair
from s3migrate.planner.listing import ListedObject, Row, UnsortedListingError, offer

log = logging.getLogger(__name__)

_ASCII = 0x80
_BATCH = 500  # pairs handed to the consumer at once
_GALLOP = 4  # pages in the nearest cut range: the page that runs over a range's end is mostly wasted
_PROVEN = 2  # pages a range lists (both sides together) before it is cut: tiny ranges are not worth a request


def cut_points(
    start: str, top: str, parts: int, first: str | None = None, pages: int = 1, alphabet: Alphabet | None = None
) -> list[str]:
    """Up to ``parts`` increasing strings strictly between ``start`` and ``top``.

    Strings are read as mixed-radix numbers: the digit at each position is a character ranked among those
    seen at that position in listed keys (``alphabet``), so decimal keys are cut in decimal, not in the gaps
    between digits. Given ``first``, the lowest key listed, and the ``pages`` listed since it, the points
    gallop from ``start`` by a page's span, doubling (+4, +8, +16 ... pages): the nearest ranges hold a few
    pages, the last one the rest, however far ``top`` is. Otherwise they split the gap evenly. Each point
    is checked against the real order, so a wrong guess only costs a cut, never misplaces one."""
    if start >= top:
        return []
    known = [text for text in (first, start, top) if text is not None]
    m = min(_common(text, top) for text in known)
    depth = min(32, max(len(text) for text in known) - m + 2)
    seen = alphabet.at(m, depth) if alphabet is not None else [_PRINTABLE] * depth
    digits = _Digits([seen[i].union(text[m + i : m + i + 1] for text in known) for i in range(depth)])
    low, high = digits.number(start[m:]), digits.number(top[m:])
    span = (low - digits.number(first[m:])) // max(1, pages) if first is not None else 0
    if span > 0 and high - low < 2 * _GALLOP * span:
        return []  # a few pages left: listing them costs less than a cut
    if span > 0:
        values = [low + span * _GALLOP * 2**i for i in range(parts)]
    else:
        values = [low + (high - low) * (i + 1) // (parts + 1) for i in range(parts)]
    points: list[str] = []
    for value in values:
        if value >= high:
            break
        point = top[:m] + digits.text(value)
        if (points[-1] if points else start) < point < top and _valid(point):
            points.append(point)
    return points


_PRINTABLE = frozenset(chr(c) for c in range(0x20, 0x7F))


class _Digits:
    """Mixed-radix numbers, one character set per position; digit 0 is "no character" (shorter first)."""

    def __init__(self, positions: list[set[str] | frozenset[str]]) -> None:
        self.chars = [sorted(chars) for chars in positions]
        self.rank = [{c: i + 1 for i, c in enumerate(chars)} for chars in self.chars]

    def number(self, text: str) -> int:
        value = 0
        for i, (chars, rank) in enumerate(zip(self.chars, self.rank, strict=True)):
            value = value * (len(chars) + 1) + (rank.get(text[i], 0) if i < len(text) else 0)
        return value

    def text(self, value: int) -> str:
        digits = []
        for chars in reversed(self.chars):
            value, digit = divmod(value, len(chars) + 1)
            digits.append(digit)
        digits.reverse()
        while digits and digits[-1] == 0:
            digits.pop()
        return "".join(chars[max(digit, 1) - 1] for chars, digit in zip(self.chars, digits, strict=False))


def _valid(text: str) -> bool:
    return not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def _common(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def ceiling(floor: str, start: str) -> str:
    """An upper bound to halve towards in an unbounded range: just past ASCII for ASCII keys, else twice
    the code point of the first character after ``floor`` (keys past it stay in the last range anyway)."""
    head = start[len(floor) : len(floor) + 1]
    if not head or ord(head) < _ASCII:
        return floor + chr(_ASCII - 1)
    return floor + _char(min(0x10FFFF, 2 * ord(head)))


def _char(code: int) -> str:
    if code < 0x20:
        return " "
    if 0xD800 <= code <= 0xDFFF:  # surrogates are not characters
        return chr(0xE000)
    return chr(code)


class Alphabet:
    """The characters seen at each position of listed keys (a sample of each page), shared by the ranges
    of one plan. Updates replace whole tuples, so readers never see a set change under them."""

    SAMPLE = 16  # keys of each page looked at (and the last)

    def __init__(self) -> None:
        self.positions: tuple[frozenset[str], ...] = ()

    def add(self, keys: list[str]) -> None:
        positions = [set(chars) for chars in self.positions]
        for key in keys:
            positions.extend(set() for _ in range(len(key) - len(positions)))
            for i, c in enumerate(key):
                positions[i].add(c)
        self.positions = tuple(frozenset(chars) for chars in positions)

    def at(self, start: int, depth: int) -> list[frozenset[str]]:
        """Characters for ``depth`` positions from ``start``. A position takes every character seen at it
        or after it: the last positions of a key vary fastest and show what the slow ones will hold
        later (in decimal ids, all ten digits), which a sample of the first keys cannot."""
        suffixes: list[frozenset[str]] = []
        seen: frozenset[str] = frozenset()
        for chars in reversed(self.positions):
            seen = seen | chars
            suffixes.append(seen)
        suffixes.reverse()
        window = suffixes[start : start + depth]
        window += [seen] * (depth - len(window))
        return [chars if len(chars) > 1 else chars | seen for chars in window]


@dataclass(eq=False)
class KeyRange:
    """Relative keys after ``low`` (None: from the start) up to and including ``high`` (None: to the end).

    ``high`` is lowered by ``split``; a side that lists past it drops the rest."""

    low: str | None
    high: str | None
    reached: str | None = None  # the furthest key either side has listed
    first: str | None = None  # the lowest key either side has listed
    pages: list[int] = field(default_factory=lambda: [0, 0])  # per side
    since_split: int = 0  # pages listed since this range was made or last split
    more: list[bool] = field(default_factory=lambda: [False, False])  # per side: known keys beyond ``reached``
    parent: KeyRange | None = None  # the range this one was cut from
    alphabet: Alphabet = field(default_factory=Alphabet)
    on_page: Callable[[], None] = lambda: None  # tells idle threads a cut may now be possible
    lock: threading.Lock = field(default_factory=threading.Lock)

    def advance(self, side: int, keys: list[str], more: bool) -> str | None:
        """Record one listed page (a sample of its relative keys, the first and the last included);
        returns the upper bound to apply to it (a split may have lowered it)."""
        with self.lock:
            self.pages[side] += 1
            self.since_split += 1
            if keys:
                self.alphabet.add(keys)
                if self.first is None or keys[0] < self.first:
                    self.first = keys[0]
                if self.reached is None or keys[-1] > self.reached:
                    self.reached = keys[-1]
            self.more[side] = more and (self.high is None or (bool(keys) and keys[-1] < self.high))
            high = self.high
        self.on_page()
        return high

    def split(self, floor: str, parts: int) -> list[KeyRange]:
        """Give what is not listed yet, above the next page or so, to up to ``parts`` new ranges."""
        with self.lock:
            if not any(self.more) or self.since_split < _PROVEN:
                return []
            start = self.reached if self.reached is not None else (self.low if self.low is not None else floor)
            top = self.high if self.high is not None else ceiling(floor, start)
            points = cut_points(start, top, parts, self.first, max(self.pages), self.alphabet)
            if not points:
                return []
            uppers = [
                KeyRange(a, b, parent=self, alphabet=self.alphabet, on_page=self.on_page)
                for a, b in zip(points, [*points[1:], self.high], strict=True)
            ]
            self.high, self.since_split = points[0], 0
            return uppers

    def finished(self) -> None:
        """An empty cut tells its parent the keys lie lower: it may be cut again at once."""
        if self.reached is None and self.parent is not None:
            with self.parent.lock:
                self.parent.since_split = _PROVEN
        self.parent = None


@dataclass(frozen=True)
class Side:
    """One side of a mapping as the range listings see it."""

    client: Any
    bucket: str
    list_prefix: str
    cut: int
    where: str
    index: int  # 0 source, 1 destination (KeyRange.more)

    def page(self, token: str | None, start_after: str | None) -> tuple[list[Row], str | None]:
        """One page: rows with full keys, and the token for the next."""
        head = self.list_prefix[: self.cut]
        try:
            page = self.client.list_objects_page(
                self.bucket, self.list_prefix, token, start_after=head + start_after if start_after is not None else ""
            )
        except EndpointError:
            raise
        except Exception as exc:
            raise translate_endpoint_error(exc, self.where) from None
        return page.objects, page.next_token

    def objects(self, rows: list[Row]) -> list[ListedObject]:
        cut = self.cut
        return [ListedObject(key[cut:], size, etag, storage_class=sc, last_modified=modified)
                for key, size, etag, sc, modified in rows]

    def listing(self, key_range: KeyRange) -> Iterator[ListedObject]:
        """Every key of this side in ``key_range``, checked to be in order. Rows past the range's upper
        bound (the last page of a range runs over it) are dropped before they are made into objects."""
        cut = self.cut
        previous = key_range.low
        token: str | None = None
        while True:
            rows, token = self.page(token, None if token else key_range.low)
            sample = [row[0][cut:] for row in rows[:: max(1, len(rows) // Alphabet.SAMPLE)]]
            high = key_range.advance(self.index, [*sample, rows[-1][0][cut:]] if rows else [], bool(token))
            for key, size, etag, storage_class, modified in rows:
                relative = key[cut:]
                if previous is not None and relative <= previous:
                    raise UnsortedListingError(
                        f"{self.where}: listing is not in key order ({previous!r} then {relative!r}); "
                        "--list-width 1 plans without key ranges"
                    )
                if high is not None and relative > high:
                    return
                previous = relative
                yield ListedObject(relative, size, etag, storage_class=storage_class, last_modified=modified)
            if token is None:
                return


def merge(src: Iterable[ListedObject], dst: Iterable[ListedObject]) -> Iterator[Pair]:
    """Pair two sorted listings on the key; destination-only keys are dropped."""
    dst_iter = iter(dst)
    other = next(dst_iter, None)
    for obj in src:
        while other is not None and other.key < obj.key:
            other = next(dst_iter, None)
        yield obj, (other if other is not None and other.key == obj.key else None)


def _in_order(rows: list[ListedObject]) -> bool:
    return all(a.key < b.key for a, b in itertools.pairwise(rows))


def parallel_pairs(src: Side, dst: Side, width: int, relative_prefix: str) -> Iterator[Pair] | None:
    """Every source object paired with its destination counterpart, planned over key ranges ``width`` at a
    time. None (nothing listed beyond one page per side) when a first page is out of key order.

    The first page of each side is listed here: what both cover is paired at once, and when neither side
    has more, that is all (no thread is started)."""
    src_page, src_token = src.page(None, None)
    dst_page, dst_token = dst.page(None, None)
    src_rows, dst_rows = src.objects(src_page), dst.objects(dst_page)
    if not (_in_order(src_rows) and _in_order(dst_rows)):
        return None
    ends = [rows[-1].key for rows, token in ((src_rows, src_token), (dst_rows, dst_token)) if token and rows]
    bound = min(ends) if ends else None
    if bound is None:
        return merge(src_rows, dst_rows)
    head = merge((r for r in src_rows if r.key <= bound), (r for r in dst_rows if r.key <= bound))
    firsts = [rows[0].key for rows in (src_rows, dst_rows) if rows]
    rest = KeyRange(bound, None, first=min(firsts), pages=[1, 1], since_split=_PROVEN, more=[True, True])
    rest.alphabet.add([row.key for row in (src_rows + dst_rows)[:: Alphabet.SAMPLE]])
    return _chain(head, _RangePool(src, dst, width, relative_prefix).pairs(rest))


def _chain(first: Iterator[Pair], then: Iterator[Pair]) -> Iterator[Pair]:
    yield from first
    yield from then


_DONE = object()


class _RangePool:
    """``width`` threads, each merge-joining one key range at a time and cutting new ranges when idle."""

    def __init__(self, src: Side, dst: Side, width: int, relative_prefix: str) -> None:
        self.src, self.dst, self.width = src, dst, max(1, width)
        self.floor = relative_prefix
        self.pending: deque[KeyRange] = deque()
        self.active: list[KeyRange] = []
        self.ranges = 0
        self.idle = 0  # threads waiting for a range
        self.fresh = True  # pages were listed since the last attempt to cut (cuts are only tried then)
        self.changed = threading.Condition()
        self.out: queue.Queue[Any] = queue.Queue(maxsize=self.width * 4)
        self.stop = threading.Event()

    def pairs(self, first: KeyRange) -> Iterator[Pair]:
        first.on_page = self._page_listed
        self.pending.append(first)
        threads = [
            threading.Thread(target=self._work, name=f"s3migrate-range-{i}", daemon=True) for i in range(self.width)
        ]
        for thread in threads:
            thread.start()
        running = len(threads)
        try:
            while running:
                item = self.out.get()
                if item is _DONE:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield from item
            log.debug("planned over %d key ranges", self.ranges)
        finally:
            self.stop.set()
            with self.changed:
                self.changed.notify_all()

    def _work(self) -> None:
        try:
            while (key_range := self._next()) is not None:
                try:
                    self._join(key_range)
                finally:
                    key_range.finished()
                    with self.changed:
                        self.fresh = True  # an empty cut makes its parent cuttable again
                        self.active.remove(key_range)
                        self.changed.notify_all()
        except BaseException as exc:  # handed to the consumer, then the other threads stop
            offer(self.out, exc, self.stop)
            self.stop.set()
        offer(self.out, _DONE, self.stop)

    def _next(self) -> KeyRange | None:
        """The next range to join: a pending one, else one cut from the densest running range (and more
        for the threads waiting); None when all are done. Waits while running ranges have nothing to give
        yet (they may after their next page)."""
        with self.changed:
            while not self.stop.is_set():
                if not self.pending and self.fresh:
                    self.fresh = False
                    self.pending.extend(self._cut())
                    self.changed.notify_all()
                if self.pending:
                    taken = self.pending.popleft()
                    self.active.append(taken)
                    self.ranges += 1
                    return taken
                if not self.active:
                    return None
                self.idle += 1
                self.changed.wait(0.5)
                self.idle -= 1
        return None

    def _page_listed(self) -> None:
        with self.changed:
            self.fresh = True
            if self.idle:
                self.changed.notify()

    def _cut(self) -> list[KeyRange]:
        for running in sorted(self.active, key=lambda r: -sum(r.pages)):
            uppers = running.split(self.floor, self.idle + 1)
            if uppers:
                return uppers
        return []

    def _join(self, key_range: KeyRange) -> None:
        batch: list[Pair] = []
        for pair in merge(self.src.listing(key_range), self.dst.listing(key_range)):
            batch.append(pair)
            if len(batch) >= _BATCH:
                if not offer(self.out, batch, self.stop):
                    return
                batch = []
        if batch:
            offer(self.out, batch, self.stop)
