"""Additional S3 checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) computed over bytes we hold.

Used to carry a source's checksum algorithm to a multipart upload at the destination, so the destination
verifies every part end to end. CRC32C and CRC64NVME need awscrt (as in botocore); without it those
algorithms are simply not carried.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from botocore import httpchecksum


def _compute(cls: type) -> Callable[[bytes], str]:
    def compute(data: bytes) -> str:
        checksum = cls()
        checksum.update(data)
        return str(checksum.b64digest())

    return compute


def checksum_function(algorithm: str) -> Callable[[bytes], str] | None:
    """base64 checksum of bytes for an S3 algorithm name, or None when it cannot be computed here."""
    name = algorithm.upper()
    plain: dict[str, type] = {
        "CRC32": httpchecksum.Crc32Checksum,
        "SHA1": httpchecksum.Sha1Checksum,
        "SHA256": httpchecksum.Sha256Checksum,
    }
    if name in plain:
        return _compute(plain[name])
    if importlib.util.find_spec("awscrt") is None:
        return None
    crt: dict[str, type] = {
        "CRC32C": httpchecksum.CrtCrc32cChecksum,
        "CRC64NVME": httpchecksum.CrtCrc64NvmeChecksum,
    }
    return _compute(crt[name]) if name in crt else None
