"""The ObjectStore: what the planner, the engine and verify ask of a place objects live, and its abilities.

The surface is S3's own calls with S3's argument names (``get_object(Bucket=, Key=, Range=, IfMatch=)``,
``put_object``, the multipart calls, ``copy_object``/``upload_part_copy``, tags, versions), plus
``list_objects_page`` for one parsed ListObjectsV2 page. S3 stores implement it with botocore, and with the lean
request path inside where it can (``endpoints.lean``); nothing above a store names a transport class or probes
for methods: what differs between stores is declared in :class:`Abilities`, as rclone's backends declare
their optional features.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Abilities:
    """What a store can do beyond the calls every store has."""

    streamed_put: bool  # put_object/upload_part accept a StreamedBody (sent as it is read, never buffered)
    ranged_listing: bool  # list_objects_page takes start_after and a delimiter: key ranges planned in parallel
    server_side_copy: bool  # copy_object/upload_part_copy from another bucket of the same service
    versions: bool  # list_object_versions, and VersionId on reads
    checksums: bool  # additional checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) on reads and writes
    # A folder on this machine: PutObject and CreateMultipartUpload take SourceLastModified (the file's mtime)
    # and CreateMultipartUpload the PartSize its parts are cut at (they are written in place); reads cost no
    # request, so verify proves content by hashing the file; a key that ends in "/" cannot be written.
    filesystem: bool = False


class ObjectStore(Protocol):
    """The calls the planner, the engine and verify make (S3's names and arguments)."""

    @property
    def abilities(self) -> Abilities: ...

    def list_objects_page(self, bucket: str, prefix: str, token: str | None = None, delimiter: str = "",
                          start_after: str = "") -> Any: ...

    def head_object(self, **args: Any) -> dict[str, Any]: ...

    def get_object(self, **args: Any) -> dict[str, Any]: ...

    def put_object(self, **args: Any) -> dict[str, Any]: ...

    def create_multipart_upload(self, **args: Any) -> dict[str, Any]: ...

    def upload_part(self, **args: Any) -> dict[str, Any]: ...

    def upload_part_copy(self, **args: Any) -> dict[str, Any]: ...

    def complete_multipart_upload(self, **args: Any) -> dict[str, Any]: ...

    def abort_multipart_upload(self, **args: Any) -> dict[str, Any]: ...

    def list_multipart_uploads(self, **args: Any) -> dict[str, Any]: ...

    def list_parts(self, **args: Any) -> dict[str, Any]: ...

    def copy_object(self, **args: Any) -> dict[str, Any]: ...

    def get_object_tagging(self, **args: Any) -> dict[str, Any]: ...

    def delete_object(self, **args: Any) -> dict[str, Any]: ...
