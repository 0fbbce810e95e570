"""The content store: immutable blobs addressed by digest, and resumable ingests."""

from berth.content.ingest import Ingest
from berth.content.store import BlobInfo, ContentStore

__all__ = ["BlobInfo", "ContentStore", "Ingest"]
