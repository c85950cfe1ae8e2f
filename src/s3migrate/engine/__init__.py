"""The transfer engine: one object at a time, single request or resumable multipart, bounded memory."""

from s3migrate.engine.budget import ByteBudget
from s3migrate.engine.context import CopyContext, CopyResult
from s3migrate.engine.copier import ObjectCopier
from s3migrate.engine.options import TransferOptions

__all__ = ["ByteBudget", "CopyContext", "CopyResult", "ObjectCopier", "TransferOptions"]
