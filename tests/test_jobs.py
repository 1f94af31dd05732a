"""The job queue: leases, retries, exactly-once claiming by competing workers, Redis wake-ups."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import update

from entrepot import jobs
from entrepot.core.config import Settings
from entrepot.db import Database
from entrepot.db.tables import Job
from entrepot.jobs.wakeup import KEY, make_wakeup
from entrepot.workers.loop import Worker

REDIS_URL = os.environ.get("ENTREPOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("Redis does not answer on 127.0.0.1:6379")
    client.delete(KEY)
    return client


def _worker(db: Database, settings: Settings, done: list[int], fail_first: set[int] | None = None) -> Worker:
    w = Worker(db, settings)

    def handle(job: Job) -> None:
        if fail_first is not None and job.id in fail_first:
            fail_first.discard(job.id)
            raise RuntimeError("transient")
        done.append(job.id)

    w.handlers["test.echo"] = handle
    return w


def test_failed_jobs_retry_until_their_limit(db: Database, settings: Settings) -> None:
    with db.write() as s:
        flaky = jobs.enqueue(s, "test.echo", max_attempts=3).id
        doomed = jobs.enqueue(s, "test.echo", max_attempts=1).id
    done: list[int] = []
    w = _worker(db, settings, done, fail_first={flaky, doomed})
    w.run_until_idle()
    with db.write() as s:  # make the retry due now instead of in 30 s
        s.execute(update(Job).where(Job.state == "queued").values(run_at=datetime.now(UTC)))
    w.run_until_idle()
    with db.read() as s:
        assert (s.get(Job, flaky).state, s.get(Job, flaky).attempts) == ("done", 2)
        assert s.get(Job, doomed).state == "failed" and "transient" in s.get(Job, doomed).error
    assert done == [flaky]


def test_expired_lease_returns_the_job(db: Database, settings: Settings) -> None:
    with db.write() as s:
        job_id = jobs.enqueue(s, "test.echo").id
    with db.write() as s:
        jobs.claim(s, "ghost-worker", ["test.echo"], lease_s=60)
        s.execute(update(Job).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    done: list[int] = []
    _worker(db, settings, done).run_until_idle()
    assert done == [job_id]


def test_competing_workers_run_each_job_once(db: Database, settings: Settings) -> None:
    with db.write() as s:
        ids = [jobs.enqueue(s, "test.echo").id for _ in range(60)]
    done: list[int] = []
    workers = [_worker(Database(settings.db_url), settings, done) for _ in range(3)]
    threads = [threading.Thread(target=w.run_until_idle) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert Counter(done) == Counter(ids)


def test_redis_wakes_an_idle_worker_after_commit_only(settings: Settings) -> None:
    client = _redis_or_skip()
    db = Database(settings.db_url, {"wakeup": make_wakeup(REDIS_URL)})
    try:
        with db.write() as s:
            jobs.enqueue(s, "test.echo")
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert client.llen(KEY) == 0  # nobody is woken for a job that does not exist
    woke = threading.Event()

    def idle() -> None:
        make_wakeup(REDIS_URL).wait(20)
        woke.set()

    t = threading.Thread(target=idle)
    t.start()
    time.sleep(0.3)
    started = time.monotonic()
    with db.write() as s:
        jobs.enqueue(s, "test.echo")
    assert woke.wait(5)
    assert time.monotonic() - started < 1.0
    t.join()
    db.dispose()


def test_claim_many_takes_due_jobs_in_order_up_to_the_limit(db: Database) -> None:
    with db.write() as s:
        ids = [jobs.enqueue(s, "test.echo", {"n": i}).id for i in range(5)]
        later = jobs.enqueue(s, "test.echo", delay_s=60).id
        jobs.enqueue(s, "other.kind")
    with db.write() as s:
        first = jobs.claim_many(s, "w1", ["test.echo"], 3, lease_s=60)
    with db.write() as s:
        rest = jobs.claim_many(s, "w2", ["test.echo"], 10, lease_s=60)
    assert [j.id for j in first] == ids[:3] and [j.id for j in rest] == ids[3:]
    assert [j.payload["n"] for j in first + rest] == list(range(5))
    with db.read() as s:
        stored = {j.id: j for j in s.query(Job).filter(Job.id.in_(ids + [later]))}
    assert all(stored[i].state == "running" and stored[i].attempts == 1 and stored[i].lease_until for i in ids)
    assert {stored[i].worker for i in ids[:3]} == {"w1"} and stored[later].state == "queued"
    assert all(j.attempts == 1 and j.state == "running" for j in first)  # the copies show the claim
    with db.write() as s:
        jobs.finish_done(s, ids[:3])
    with db.read() as s:
        assert {s.get(Job, i).state for i in ids[:3]} == {"done"}
