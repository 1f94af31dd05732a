"""One client process of bench/messaging.py: many WebSocket clients on one asyncio loop.

Not run by hand. `bench/messaging.py` starts it as

    python bench/_messaging_client.py PLAN.json RESULT.json

PLAN holds this process's users (id, session token, `since`, conversations) and the load settings;
the stdin/stdout protocol, the load and RESULT are bench/_client_common.py's.

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
import time
from typing import Any

from _client_common import BucketClient, LoadProc, main
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


class Client(BucketClient):
    def __init__(self, proc: Proc, user: dict[str, Any]) -> None:
        super().__init__(user)
        self.proc = proc
        self.token: str = user["token"]
        self.since: int = user["since"]
        self.ws: ClientConnection | None = None
        self.seen: set[int] = set()  # message ids received (duplicate check)
        self.ack_pending = 0  # highest seq not yet acknowledged
        self.last_seq = self.since
        self.closed_early = False
        self.reconnecting = False
        self.reader: asyncio.Task[None] | None = None
        self.pending: dict[str, dict[str, Any]] = {}  # the page's outbox: sends not yet answered

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


class Proc(LoadProc):
    def __init__(self, plan: dict[str, Any]) -> None:
        super().__init__(plan)
        self.clients = [Client(self, u) for u in plan["users"]]
        self.reconnects = 0

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

    def can_send(self, c: Client) -> bool:
        return c.ws is not None and not c.closed_early

    def dispatch(self, c: Client, conv: int, cid: str, body: str) -> None:
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
        await super().load(t0_ns)
        # flush coalesced acks from time to time during the drain too
        self.spawn(self.ack_loop())

    async def ack_loop(self) -> None:
        while not self.stopping:
            for c in self.clients:
                if c.ack_pending:
                    c.try_ack()
            await asyncio.sleep(0.5)

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

    def extra_result(self) -> dict[str, Any]:
        return {"reconnects": self.reconnects}


if __name__ == "__main__":
    main(Proc)
