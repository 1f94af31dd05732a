"""One client process of `bench/messaging.py --peer synapse`: many Matrix clients on one asyncio loop.

Not run by hand. `bench/_synapse.py` starts it with the Synapse virtualenv's Python (which also
holds aiohttp and uvloop) as

    python bench/_synapse_client.py PLAN.json RESULT.json

and speaks the same stdin/stdout protocol as bench/_messaging_client.py (bench/_client_common.py).

A client behaves like a Matrix app: "connecting" is its initial /sync (which gives the first
`since` token); then it long-polls /sync (timeout 30 s, with the next `since`) for as long as the
run lasts, and sends with PUT /rooms/{room}/send/m.room.message/{txnId}: one send in flight per
client, in the order scheduled (matrix-js-sdk's default scheduler queues m.room.message events so),
retried on a failed connection, 429 or 5xx under the same txnId (Synapse deduplicates by it).
The load is picked by the same code as bench/_messaging_client.py's (same seeds, same per-client token
bucket, same conversation choice), and each body carries its send time (time.time_ns()).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import aiohttp
from _client_common import BucketClient, LoadProc, main

SYNC_TIMEOUT_MS = 30000


class Client(BucketClient):
    def __init__(self, proc: Proc, user: dict[str, Any]) -> None:
        super().__init__(user)
        self.proc = proc
        self.mxid: str = user["mxid"]
        self.headers = {"Authorization": f"Bearer {user['token']}"}
        self.filter: str = user["filter"]  # the id of the filter uploaded at set-up
        self.since: str | None = None
        self.seen: set[str] = set()  # event ids received (duplicate check)
        # one send in flight per client, in order, as matrix-js-sdk's scheduler queues m.room.message
        self.outbox = asyncio.Lock()

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


class Proc(LoadProc):
    """Made on the running loop (bench/_client_common.py's main), which its HTTP session needs."""

    def __init__(self, plan: dict[str, Any]) -> None:
        super().__init__(plan)
        self.base: str = plan["base_url"]
        self.room_of: dict[int, str] = {int(k): v for k, v in plan["room_of"].items()}
        self.clients = [Client(self, u) for u in plan["users"]]
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=30))
        self.retry_reasons: list[str] = []  # the first few causes of a retried send
        self.sync_gaps = 0
        self.connected: list[Client] = []

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

    def can_send(self, c: Client) -> bool:
        return c.since is not None

    def dispatch(self, c: Client, conv: int, cid: str, body: str) -> None:
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

    async def close_all(self) -> None:
        self.stopping = True
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.http.close()

    async def abort(self) -> None:
        await self.close_all()

    def extra_result(self) -> dict[str, Any]:
        return {"retry_reasons": self.retry_reasons, "reconnects": 0, "sync_gaps": self.sync_gaps}


if __name__ == "__main__":
    main(Proc)
