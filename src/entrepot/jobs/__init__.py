"""The job queue: a table in the main database by default (Redis for scale-out comes with ingest)."""

from entrepot.jobs.queue import claim, enqueue, finish, renew, requeue_expired
from entrepot.jobs.wakeup import open_database

__all__ = ["claim", "enqueue", "finish", "open_database", "renew", "requeue_expired"]
