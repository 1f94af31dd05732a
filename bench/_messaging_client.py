"""One client process of bench/messaging.py: many WebSocket clients on one asyncio loop.

Not run by hand. `bench/messaging.py` starts it as

    python bench/_messaging_client.py PLAN.json RESULT.json

PLAN holds this process's users (id, session token, `since`, conversations) and the load settings.
Protocol on stdin/stdout (one line each):
    child  -> parent: "READY <connected> <failed> <connect_seconds>"
    parent -> child:  "GO <t0_unix_ns>"           (start sending at t0, for `seconds`)
    child  -> parent: "PROG <sent> <acked> <refused> <recv_other> <recv_self> <expected>" every ~0.5 s
    parent -> child:  "STOP"                       (drain over: close and write RESULT)
    child  -> parent: "DONE"

Each message body embeds its send time (time.time_ns(); one machine, one clock), so every
recipient measures send-to-deliver latency itself. The client mimics the chat page: it connects
with `since=<last seq>`, acknowledges events, answers pings, and after a lost connection reconnects
(backoff 0.5 s doubling to 10 s) with `since=<last seq received>` and resends its unanswered sends
under the same client ids (the page's outbox); it keeps its own token bucket that
mirrors the server's per-connection limit (a burst of 20 frames, then 10/s) so the load generator
never trips it (acks are coalesced when the bucket is empty, sends go to a client with tokens).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

BURST, RATE = 20.0, 9.5  # a little under the server's 20 / 10 per second


class Client:
    def __init__(self, proc: Proc, user: dict[str, Any]) -> None:
        self.proc = proc
        self.user_id: int = user["id"]
        self.token: str = user["token"]
        self.since: int = user["since"]
        self.convs: list[int] = user["convs"]
        self.ws: ClientConnection | None = None
        self.tokens, self.refilled = BURST, time.monotonic()
        self.seen: set[int] = set()  # message ids received (duplicate check)
        self.ack_pending = 0  # highest seq not yet acknowledged
        self.last_seq = self.since
        self.closed_early = False
        self.reconnecting = False
        self.reader: asyncio.Task[None] | None = None
        self.pending: dict[str, dict[str, Any]] = {}  # the page's outbox: sends not yet answered

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.refilled) * RATE)
        self.refilled = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    async def connect(self, url: str, headers_origin: str | None, compression: str | None) -> None:
        headers = {"Cookie": f"entrepot_session={self.token}"}
        self.url, self.origin, self.compression = url, headers_origin, compression
        self.ws = await connect(f"{url}?since={self.last_seq}", additional_headers=headers, origin=headers_origin,
                                ping_interval=None, compression=compression, open_timeout=120,
                                max_size=2**22, max_queue=None)
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        p = self.proc
        assert self.ws is not None
        try:
            async for raw in self.ws:
                now = time.time_ns()
                f = json.loads(raw)
                kind = f.get("type")
                if kind == "event":
                    self.last_seq = max(self.last_seq, int(f["seq"]))
                    self.ack_pending = self.last_seq
                    if f.get("event") == "message":
                        pl = f["payload"]
                        mid = int(pl["id"])
                        if mid in self.seen:
                            p.duplicates.append([self.user_id, mid])
                        else:
                            self.seen.add(mid)
                        body = pl.get("body") or ""
                        t_sent = int(body.rsplit("t=", 1)[1]) if "t=" in body else now
                        if pl.get("sender_id") == self.user_id:
                            p.recv_self += 1
                            p.echo_ms.append((now - t_sent) / 1e6)
                        else:
                            p.recv_other += 1
                            p.deliveries.append([self.user_id, pl.get("client_id"), mid, (now - t_sent) / 1e6, now])
                    else:
                        p.other_events += 1
                    self.try_ack()
                elif kind == "sent":
                    cid = f.get("client_id")
                    rec = p.sends.get(cid)
                    if rec is not None:
                        if rec[4] != "sent":
                            p.acked += 1
                        rec[4], rec[5], rec[6] = "sent", f.get("message_id"), (now - rec[3]) / 1e6
                    self.pending.pop(cid, None)
                elif kind == "ping":
                    await self.send_frame({"type": "pong"}, force=True)
                elif kind == "pong":
                    pass
                elif kind == "error":
                    cid = f.get("client_id")
                    p.error_frames.append(f.get("message", "?"))
                    rec = p.sends.get(cid) if cid else None
                    if rec is not None and rec[4] == "pending":
                        rec[4] = "error"
                        p.refused += 1
                    if cid:
                        self.pending.pop(cid, None)
                else:
                    p.error_frames.append(f"unknown frame {kind}")
        except ConnectionClosed as exc:
            if not p.stopping:
                p.disconnects.append(f"user {self.user_id}: {exc}")
                p.spawn(self.reconnect())
        except Exception as exc:  # noqa: BLE001 - a bench records, it does not crash
            if not p.stopping:
                p.disconnects.append(f"user {self.user_id}: {type(exc).__name__}: {exc}")
                p.spawn(self.reconnect())

    async def reconnect(self) -> None:
        """Like the page: back off (0.5 s doubling to 10 s), resume after the last seq, resend the outbox."""
        self.closed_early = True
        backoff = 0.5
        while not self.proc.stopping:
            await asyncio.sleep(backoff)
            try:
                await self.connect(self.url, self.origin, self.compression)
            except Exception:  # noqa: BLE001
                backoff = min(backoff * 2, 10)
                continue
            self.proc.reconnects += 1
            self.closed_early = False
            for frame in list(self.pending.values()):
                if self.take():
                    await self.send_frame(frame)
            return

    def try_ack(self) -> None:
        if self.ack_pending and self.take():
            seq, self.ack_pending = self.ack_pending, 0
            self.proc.spawn(self.send_frame({"type": "ack", "seq": seq}))

    async def send_frame(self, frame: dict[str, Any], force: bool = False) -> None:
        if self.ws is None:
            return
        if force:
            self.take()
        try:
            await self.ws.send(json.dumps(frame))
        except ConnectionClosed:
            pass


class Proc:
    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.index: int = plan["index"]
        self.clients = [Client(self, u) for u in plan["users"]]
        self.conv_size: dict[int, int] = {int(k): v for k, v in plan["conv_size"].items()}
        self.rng = random.Random(plan["seed"])
        # client_id -> [client_id, conv_id, sender_id, t_send_ns, status, message_id, ack_ms]
        self.sends: dict[str, list[Any]] = {}
        self.deliveries: list[list[Any]] = []
        self.echo_ms: list[float] = []
        self.duplicates: list[list[int]] = []
        self.error_frames: list[str] = []
        self.disconnects: list[str] = []
        self.connect_failures: list[str] = []
        self.send_failures = 0
        self.reconnects = 0
        self.recv_other = self.recv_self = self.other_events = self.acked = self.refused = 0
        self.expected = 0
        self.skipped_no_tokens = 0
        self.stopping = False
        self.tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Any) -> None:
        t = asyncio.create_task(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def connect_all(self) -> tuple[int, int, float]:
        sem = asyncio.Semaphore(self.plan["connect_concurrency"])
        url, origin = self.plan["url"], self.plan.get("origin")
        compression = None if self.plan.get("no_compression") else "deflate"

        async def one(c: Client) -> None:
            async with sem:
                for attempt in range(3):
                    try:
                        await c.connect(url, origin, compression)
                        return
                    except Exception as exc:  # noqa: BLE001
                        if attempt == 2:
                            self.connect_failures.append(f"user {c.user_id}: {type(exc).__name__}: {exc}")
                        else:
                            await asyncio.sleep(0.5 * (attempt + 1))

        t = time.monotonic()
        await asyncio.gather(*(one(c) for c in self.clients))
        connected = sum(1 for c in self.clients if c.ws is not None)
        return connected, len(self.clients) - connected, time.monotonic() - t

    def send_one(self, seq: int) -> None:
        live = self.clients
        if not live:
            return
        for _ in range(50):
            c = self.rng.choice(live)
            if c.ws is not None and not c.closed_early and c.convs and c.take():
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
        frame = {"type": "send", "client_id": cid, "conversation_id": conv, "body": body}
        c.pending[cid] = frame
        self.spawn(self._send(c, frame, cid))

    async def _send(self, c: Client, frame: dict[str, Any], cid: str) -> None:
        assert c.ws is not None
        try:
            await c.ws.send(json.dumps(frame))
        except ConnectionClosed:
            self.send_failures += 1  # stays in the outbox: resent after the reconnect

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
        # flush coalesced acks from time to time during the drain too
        self.spawn(self.ack_loop())

    async def ack_loop(self) -> None:
        while not self.stopping:
            for c in self.clients:
                if c.ack_pending:
                    c.try_ack()
            await asyncio.sleep(0.5)

    def progress(self) -> str:
        return f"PROG {len(self.sends)} {self.acked} {self.refused} {self.recv_other} {self.recv_self} {self.expected}"

    async def close_all(self) -> None:
        self.stopping = True

        async def close(c: Client) -> None:
            if c.ws is not None:
                try:
                    await asyncio.wait_for(c.ws.close(), 5)
                except Exception:  # noqa: BLE001
                    pass
            if c.reader is not None:
                c.reader.cancel()

        sem = asyncio.Semaphore(200)

        async def bounded(c: Client) -> None:
            async with sem:
                await close(c)

        await asyncio.gather(*(bounded(c) for c in self.clients))


async def amain(plan_path: str, result_path: str) -> None:
    with open(plan_path, encoding="utf-8") as f:
        plan = json.load(f)
    proc = Proc(plan)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    connected, failed, secs = await proc.connect_all()
    say(f"READY {connected} {failed} {secs:.2f}")
    line = (await reader.readline()).decode().split()
    if not line or line[0] != "GO":
        return
    t0 = int(line[1])
    load = asyncio.create_task(proc.load(t0))

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
        "reconnects": proc.reconnects,
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
