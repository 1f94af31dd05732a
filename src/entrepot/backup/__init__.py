"""Backups of a running service (database snapshot, blobs, manifest of hashes) and restores from them."""

from entrepot.backup.manifest import BackupError, Manifest
from entrepot.backup.run import Summary, create_backup, restore_backup

__all__ = ["BackupError", "Manifest", "Summary", "create_backup", "restore_backup"]
