"""S3's multipart limits, in one place, and the part layout derived from them."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB
MAX_PART_SIZE = 5 * 1024 * MIB
MAX_PARTS = 10_000
MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MIB  # 5 TiB


@dataclass(frozen=True)
class Part:
    number: int  # 1-based
    offset: int
    size: int

    @property
    def byte_range(self) -> str:
        return f"bytes={self.offset}-{self.offset + self.size - 1}"


@dataclass(frozen=True)
class PartLayout:
    """How an object of ``size`` bytes is cut into parts of ``part_size`` (the last one may be smaller)."""

    size: int
    part_size: int

    @classmethod
    def for_size(cls, size: int, chunk_size: int) -> PartLayout:
        """The configured chunk size, grown (to a whole MiB) when the object would need > 10,000 parts."""
        if size < 0:
            raise ValueError("size cannot be negative")
        if size > MAX_OBJECT_SIZE:
            raise ValueError(f"{size} bytes is larger than S3's 5 TiB object limit")
        part_size = max(chunk_size, MIN_PART_SIZE)
        if -(-size // part_size) > MAX_PARTS:
            needed = -(-size // MAX_PARTS)
            part_size = -(-needed // MIB) * MIB
        return cls(size, min(part_size, MAX_PART_SIZE))

    @property
    def count(self) -> int:
        return max(1, -(-self.size // self.part_size))

    def part(self, number: int) -> Part:
        if not 1 <= number <= self.count:
            raise IndexError(f"part {number} outside 1..{self.count}")
        offset = (number - 1) * self.part_size
        return Part(number, offset, min(self.part_size, self.size - offset))

    def parts(self) -> list[Part]:
        return [self.part(n) for n in range(1, self.count + 1)]

    def fits(self, number: int, size: int) -> bool:
        """Whether an existing part (number, size) belongs to this layout."""
        return 1 <= number <= self.count and self.part(number).size == size
