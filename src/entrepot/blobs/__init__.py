"""Content-addressed blob store: files named by their sha256, written atomically, never altered."""

from entrepot.blobs.store import BlobStore, BlobWriter

__all__ = ["BlobStore", "BlobWriter"]
