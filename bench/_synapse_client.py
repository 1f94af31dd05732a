"""One client process of `bench/messaging.py --peer synapse`: many Matrix clients on one asyncio loop.

Not run by hand. `bench/_synapse.py` starts it with the Synapse virtualenv's Python (which also
holds aiohttp and uvloop) as

    python bench/_synapse_client.py PLAN.json RESULT.json

and speaks the same stdin/stdout protocol as bench/_messaging_client.py:
    child  -> parent: "READY <connected> <failed> <connect_seconds>"
    parent -> child:  "GO <t0_unix_ns>"           (start sending at t0, for `seconds`)
    child  -> parent: "PROG <sent> <acked> <refused> <recv_other> <recv_self> <expected>" every ~0.5 s
    parent -> child:  "STOP"                       (drain over: stop and write RESULT)
    child  -> parent: "DONE"

A client behaves like a Matrix app: "connecting" is its initial /sync (which gives the first
`since` token); then it long-polls /sync (timeout 30 s, with the next `since`) for as long as the
run lasts, and sends with PUT /rooms/{room}/send/m.room.message/{txnId}: one send in flight per
client, in the order scheduled (matrix-js-sdk's default scheduler queues m.room.message events so),
retried on a failed connection, 429 or 5xx under the same txnId (Synapse deduplicates by it).
The load is picked exactly as in bench/_messaging_client.py (same seeds, same per-client token
bucket, same conversation choice), and each body carries its send time (time.time_ns()).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from typing import Any
from urllib.parse import quote

import aiohttp

BURST, RATE = 20.0, 9.5  # the same bucket as the entrepot clients, so the same sends are picked
SYNC_TIMEOUT_MS = 30000


class Client:
    def __init__(self, proc: Proc, user: dict[str, Any]) -> None:
        self.proc = proc
        self.user_id: int = user["id"]
        self.mxid: str = user["mxid"]
        self.headers = {"Authorization": f"Bearer {user['token']}"}
        self.filter: str = user["filter"]  # the id of the filter uploaded at set-up
        self.convs: list[int] = user["convs"]
        self.since: str | None = None
        self.tokens, self.refilled = BURST, time.monotonic()
        self.seen: set[str] = set()  # event ids received (duplicate check)
        # one send in flight per client, in order, as matrix-js-sdk's scheduler queues m.room.message
        self.outbox = asyncio.Lock()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.refilled) * RATE)
        self.refilled = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    async def sync(self, timeout_ms: int) -> dict[str, Any]:
        p = self.proc
        params = {"filter": self.filter, "timeout": str(timeout_ms)}
        if self.since:
            params["since"] = self.since
        url = f"{p.base}/_matrix/client/v3/sync"
        async with p.http.get(url, params=params, headers=self.headers) as resp:
            if resp.status != 200:
                raise RuntimeError(f"sync HTTP {resp.status}: {(await resp.text())[:120]}")
            data: dict[str, Any] = await resp.json()
        self.since = data["next_batch"]
        return data

    async def sync_loop(self) -> None:
        """Long-poll /sync until stopped; a failed poll is retried with the same `since` after a back-off."""
        p = self.proc
        backoff = 0.5
        while not p.stopping:
            try:
                data = await self.sync(SYNC_TIMEOUT_MS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bench records, it does not crash
                if p.stopping:
                    return
                p.disconnects.append(f"user {self.user_id}: sync {type(exc).__name__}: {exc}"[:200])
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10)
                continue
            backoff = 0.5
            self.handle(data)

    def handle(self, data: dict[str, Any]) -> None:
        p = self.proc
        now = time.time_ns()
        for room in ((data.get("rooms") or {}).get("join") or {}).values():
            timeline = room.get("timeline") or {}
            if timeline.get("limited"):
                p.sync_gaps += 1  # events skipped by the server: they show up as lost
            for ev in timeline.get("events") or []:
                if ev.get("type") != "m.room.message":
                    p.other_events += 1
                    continue
                eid = ev.get("event_id", "")
                if eid in self.seen:
                    p.duplicates.append([self.user_id, eid])
                    continue
                self.seen.add(eid)
                body = (ev.get("content") or {}).get("body") or ""
                t_sent = int(body.rsplit("t=", 1)[1]) if "t=" in body else now
                cid = body.split()[1] if body.startswith("bench ") else None
                if ev.get("sender") == self.mxid:
                    p.recv_self += 1
                    p.echo_ms.append((now - t_sent) / 1e6)
                else:
                    p.recv_other += 1
                    p.deliveries.append([self.user_id, cid, eid, (now - t_sent) / 1e6, now])


class Proc:
    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.index: int = plan["index"]
        self.base: str = plan["base_url"]
        self.room_of: dict[int, str] = {int(k): v for k, v in plan["room_of"].items()}
        self.conv_size: dict[int, int] = {int(k): v for k, v in plan["conv_size"].items()}
        self.clients = [Client(self, u) for u in plan["users"]]
        self.rng = random.Random(plan["seed"])
        self.http: aiohttp.ClientSession = None  # type: ignore[assignment]  # made on the loop
        # client_id -> [client_id, conv_id, sender_id, t_send_ns, status, event_id, ack_ms]
        self.sends: dict[str, list[Any]] = {}
        self.deliveries: list[list[Any]] = []
        self.echo_ms: list[float] = []
        self.duplicates: list[list[Any]] = []
        self.error_frames: list[str] = []
        self.disconnects: list[str] = []
        self.connect_failures: list[str] = []
        self.send_failures = 0
        self.retry_reasons: list[str] = []  # the first few causes of a retried send
        self.sync_gaps = 0
        self.recv_other = self.recv_self = self.other_events = self.acked = self.refused = 0
        self.expected = 0
        self.skipped_no_tokens = 0
        self.stopping = False
        self.connected: list[Client] = []
        self.tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Any) -> None:
        t = asyncio.create_task(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def connect_all(self) -> tuple[int, int, float]:
        """Initial /sync of every client (the Matrix "connect"), then start its long-poll loop."""
        sem = asyncio.Semaphore(self.plan["connect_concurrency"])

        async def one(c: Client) -> None:
            async with sem:
                for attempt in range(3):
                    try:
                        await c.sync(0)
                        self.connected.append(c)
                        return
                    except Exception as exc:  # noqa: BLE001
                        if attempt == 2:
                            why = f"user {c.user_id}: {type(exc).__name__}: {exc}"
                            self.connect_failures.append(why[:200])
                        else:
                            await asyncio.sleep(0.5 * (attempt + 1))

        t = time.monotonic()
        await asyncio.gather(*(one(c) for c in self.clients))
        for c in self.connected:
            self.spawn(c.sync_loop())
        return len(self.connected), len(self.clients) - len(self.connected), time.monotonic() - t

    def send_one(self, seq: int) -> None:
        live = self.clients
        if not live:
            return
        for _ in range(50):
            c = self.rng.choice(live)
            if c.since is not None and c.convs and c.take():
                break
        else:
            self.skipped_no_tokens += 1
            return
        conv = self.rng.choice(c.convs)
        cid = f"b{self.index}-{seq}"
        t = time.time_ns()
        body = f"bench {cid} from {c.user_id} t={t}"
        self.sends[cid] = [cid, conv, c.user_id, t, "pending", None, None]
        self.expected += self.conv_size[conv] - 1
        self.spawn(self._send(c, conv, cid, body))

    async def _send(self, c: Client, conv: int, cid: str, body: str) -> None:
        """Wait for the client's earlier sends (latency counts the wait: the body's time is the schedule's)."""
        async with c.outbox:
            await self._put(c, conv, cid, body)

    async def _put(self, c: Client, conv: int, cid: str, body: str) -> None:
        room = quote(self.room_of[conv], safe="")
        url = f"{self.base}/_matrix/client/v3/rooms/{room}/send/m.room.message/{cid}"
        content = {"msgtype": "m.text", "body": body}
        rec = self.sends[cid]
        backoff = 0.5
        while not self.stopping:
            try:
                async with self.http.put(url, json=content, headers=c.headers) as resp:
                    status = resp.status
                    data = await resp.json(content_type=None) or {}
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - connection trouble: retry under the same txnId
                status, data = 0, {"errcode": f"{type(exc).__name__}: {exc}"[:120]}
            if status == 200:
                rec[4], rec[5], rec[6] = "sent", data.get("event_id"), (time.time_ns() - rec[3]) / 1e6
                self.acked += 1
                return
            if 400 <= status < 500 and status != 429:
                rec[4] = "error"
                self.refused += 1
                self.error_frames.append(f"send HTTP {status}: {(data or {}).get('errcode', '?')}")
                return
            self.send_failures += 1
            if len(self.retry_reasons) < 20:
                why = (data or {}).get("errcode", "?")
                self.retry_reasons.append(f"send retried after HTTP {status}: {why}")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10)

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
        counts = [len(self.sends), self.acked, self.refused, self.recv_other, self.recv_self, self.expected]
        return "PROG " + " ".join(map(str, counts))

    async def close_all(self) -> None:
        self.stopping = True
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.http.close()


async def amain(plan_path: str, result_path: str) -> None:
    with open(plan_path, encoding="utf-8") as f:
        plan = json.load(f)
    proc = Proc(plan)
    proc.http = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=30))
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
        await proc.close_all()
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
    result = {
        "index": proc.index,
        "sends": list(proc.sends.values()),
        "deliveries": proc.deliveries,
        "echo_ms": proc.echo_ms,
        "duplicates": proc.duplicates,
        "error_frames": proc.error_frames,
        "disconnects": proc.disconnects,
        "connect_failures": proc.connect_failures,
        "send_failures": proc.send_failures,
        "retry_reasons": proc.retry_reasons,
        "reconnects": 0,
        "sync_gaps": proc.sync_gaps,
        "skipped_no_tokens": proc.skipped_no_tokens,
        "other_events": proc.other_events,
        "connected": connected,
    }
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f)
    say("DONE")


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(amain(sys.argv[1], sys.argv[2]))
