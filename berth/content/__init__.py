"""The content store: immutable blobs addressed by digest, and resumable ingests
(`berth.content.ingest`, imported by the pull path only: it needs hashlib)."""

from berth.content.store import BlobInfo, ContentStore

__all__ = ["BlobInfo", "ContentStore"]
