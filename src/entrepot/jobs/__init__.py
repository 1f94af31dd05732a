"""The job queue: a table in the main database by default (Redis for scale-out comes with ingest)."""

from entrepot.jobs.queue import claim, enqueue, finish, renew, requeue_expired

__all__ = ["claim", "enqueue", "finish", "renew", "requeue_expired"]
