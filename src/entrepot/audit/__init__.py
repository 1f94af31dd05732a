"""The tamper-evident audit trail: append-only, hash-chained records and their verifier."""

from entrepot.audit.chain import GENESIS, ChainReport, append, record_hash, verify_all, verify_chain

__all__ = ["GENESIS", "ChainReport", "append", "record_hash", "verify_all", "verify_chain"]
