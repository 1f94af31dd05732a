"""Real `entrepot` processes for the multi-instance tests: start one, wait for its health route, stop them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis


def require_redis(url: str) -> None:
    """Skip when Redis does not answer, except in CI, where a missing Redis is a failure."""
    try:
        redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("Redis does not answer on 127.0.0.1:6379")


def start_entrepot(args: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen[bytes]:
    """`python -m entrepot ARGS` in its own session (so stop_all can signal its group); output to `log` or dropped."""
    out = log.open("wb") if log is not None else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", "entrepot", *args], env=env, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_healthy(port: int, log: Path | None = None, timeout: float = 60) -> None:
    """Until /api/v1/health answers 200; fails the test (with the log's tail) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text()[-2000:] if log else f"port {port}: no health answer"
        time.sleep(0.2)


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process group, then SIGKILL those still running after 20 s."""
    for p in procs:
        os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)
