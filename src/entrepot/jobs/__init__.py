"""The job queue: a table in the main database by default (Redis for scale-out comes with ingest)."""

from entrepot.jobs.queue import (
                                 claim,
                                 claim_many,
                                 enqueue,
                                 finish,
                                 finish_done,
                                 release,
                                 renew,
                                 renew_many,
                                 requeue_expired,
)
from entrepot.jobs.wakeup import open_database

__all__ = ["claim", "claim_many", "enqueue", "finish", "finish_done", "open_database", "release", "renew",
           "renew_many", "requeue_expired"]
