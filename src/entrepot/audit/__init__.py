"""The tamper-evident audit trail: append-only, hash-chained records and their verifier."""

from entrepot.audit.chain import (
    GENESIS,
    ChainReport,
    Entry,
    append,
    append_chained,
    append_many,
    record_hash,
    verify_all,
    verify_chain,
)

__all__ = ["GENESIS", "ChainReport", "Entry", "append", "append_chained", "append_many", "record_hash",
           "verify_all", "verify_chain"]
