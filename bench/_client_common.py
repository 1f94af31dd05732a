"""What the client processes of bench/messaging.py share, whichever server they load.

bench/_messaging_client.py (entrepot, WebSocket) and bench/_synapse_client.py (Matrix, HTTP) subclass
`LoadProc` and `BucketClient`, so both offer the very same load: the same seeds pick the same senders,
through the same per-client token bucket, into the same conversations, at the same moments. Each
process is started as `python bench/<client>.py PLAN.json RESULT.json` and speaks, one line each:
    child  -> parent: "READY <connected> <failed> <connect_seconds>"
    parent -> child:  "GO <t0_unix_ns>"           (start sending at t0, for `seconds`)
    child  -> parent: "PROG <sent> <acked> <refused> <recv_other> <recv_self> <expected>" every ~0.5 s
    parent -> child:  "STOP"                       (drain over: close and write RESULT)
    child  -> parent: "DONE"
Both run under their own interpreter (the Synapse clients under the Synapse virtualenv's), so this
module imports only the standard library.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

BURST, RATE = 20.0, 9.5  # a little under entrepot's per-connection 20 / 10 per second


class BucketClient:
    """One simulated user: its conversations and a mirror of the server's per-connection rate limit."""

    def __init__(self, user: dict[str, Any]) -> None:
        self.user_id: int = user["id"]
        self.convs: list[int] = user["convs"]
        self.tokens, self.refilled = BURST, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.refilled) * RATE)
        self.refilled = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class LoadProc:
    """The counters, the paced open-loop load and the RESULT document of one client process.

    A subclass makes `self.clients`, connects them (`connect_all`), says which may send (`can_send`),
    hands a scheduled message to the server (`dispatch`) and closes (`close_all`).
    """

    clients: list[Any]

    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.index: int = plan["index"]
        self.conv_size: dict[int, int] = {int(k): v for k, v in plan["conv_size"].items()}
        self.rng = random.Random(plan["seed"])
        # client_id -> [client_id, conv_id, sender_id, t_send_ns, status, message/event id, ack_ms]
        self.sends: dict[str, list[Any]] = {}
        self.deliveries: list[list[Any]] = []
        self.echo_ms: list[float] = []
        self.duplicates: list[list[Any]] = []
        self.error_frames: list[str] = []
        self.disconnects: list[str] = []
        self.connect_failures: list[str] = []
        self.send_failures = 0
        self.recv_other = self.recv_self = self.other_events = self.acked = self.refused = 0
        self.expected = 0
        self.skipped_no_tokens = 0
        self.stopping = False
        self.tasks: set[asyncio.Task[Any]] = set()

    async def connect_all(self) -> tuple[int, int, float]:
        raise NotImplementedError

    def can_send(self, c: Any) -> bool:
        raise NotImplementedError

    def dispatch(self, c: Any, conv: int, cid: str, body: str) -> None:
        raise NotImplementedError

    async def close_all(self) -> None:
        raise NotImplementedError

    async def abort(self) -> None:
        """The parent went away before GO."""

    def extra_result(self) -> dict[str, Any]:
        """RESULT keys only this kind of client has (they go after "send_failures")."""
        return {}

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        t = asyncio.create_task(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    def send_one(self, seq: int) -> None:
        live = self.clients
        if not live:
            return
        for _ in range(50):
            c = self.rng.choice(live)
            if self.can_send(c) and c.convs and c.take():
                break
        else:
            self.skipped_no_tokens += 1
            return
        conv = self.rng.choice(c.convs)
        cid = f"b{self.index}-{seq}"
        t = time.time_ns()
        body = f"bench {cid} from {c.user_id} t={t}"  # recipients read the send time back from the body
        self.sends[cid] = [cid, conv, c.user_id, t, "pending", None, None]
        self.expected += self.conv_size[conv] - 1
        self.dispatch(c, conv, cid, body)

    async def load(self, t0_ns: int) -> None:
        rate = self.plan["rate"]
        seconds = self.plan["seconds"]
        t0 = t0_ns / 1e9
        while time.time() < t0:
            await asyncio.sleep(min(0.01, t0 - time.time()))
        n = 0
        while True:
            now = time.time()
            if now >= t0 + seconds:
                break
            due = int((now - t0) * rate)
            while n < due:
                n += 1
                self.send_one(n)
            await asyncio.sleep(0.002)

    def progress(self) -> str:
        return f"PROG {len(self.sends)} {self.acked} {self.refused} {self.recv_other} {self.recv_self} {self.expected}"

    def result(self, connected: int) -> dict[str, Any]:
        return {
            "index": self.index,
            "sends": list(self.sends.values()),
            "deliveries": self.deliveries,
            "echo_ms": self.echo_ms,
            "duplicates": self.duplicates,
            "error_frames": self.error_frames,
            "disconnects": self.disconnects,
            "connect_failures": self.connect_failures,
            "send_failures": self.send_failures,
            **self.extra_result(),
            "skipped_no_tokens": self.skipped_no_tokens,
            "other_events": self.other_events,
            "connected": connected,
        }


async def _serve(make_proc: Callable[[dict[str, Any]], LoadProc], plan_path: str, result_path: str) -> None:
    with open(plan_path, encoding="utf-8") as f:
        plan = json.load(f)
    proc = make_proc(plan)  # on the loop: a client may open its HTTP session here
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    connected, failed, secs = await proc.connect_all()
    say(f"READY {connected} {failed} {secs:.2f}")
    go = (await reader.readline()).decode().split()
    if not go or go[0] != "GO":
        await proc.abort()
        return
    load = asyncio.create_task(proc.load(int(go[1])))

    async def report() -> None:
        while True:
            await asyncio.sleep(0.5)
            say(proc.progress())

    reporter = asyncio.create_task(report())
    while True:
        line = (await reader.readline()).decode().strip()
        if line == "STOP" or line == "":
            break
    reporter.cancel()
    load.cancel()
    say(proc.progress())
    await proc.close_all()
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(proc.result(connected), f)
    say("DONE")


def main(make_proc: Callable[[dict[str, Any]], LoadProc]) -> None:
    """Run one client process (argv: PLAN.json RESULT.json) on uvloop when it is installed."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(make_proc, sys.argv[1], sys.argv[2]))
