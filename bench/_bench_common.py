"""The parent side of bench/messaging.py's client processes, for entrepot and for its --peer alike.

Starting a client process and speaking its protocol (bench/_client_common.py), waiting for every
client to connect, pacing the load and the drain, and adding up what the processes measured: the
entrepot run (bench/messaging.py) and the Synapse run (bench/_synapse.py) count with the same code.
It imports neither, so both can import it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def stop_group(proc: subprocess.Popen[bytes], sig: signal.Signals, grace: float) -> None:
    """Signal a server's process group (started with start_new_session) and SIGKILL it after `grace` seconds."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100 * (len(s) - 1)))))
    return round(s[k], 2)


class ClientProc:
    """One client process, spoken to over its stdin/stdout; `label` names it in the log."""

    def __init__(self, cmd: list[str], index: int, result_path: Path, label: str,
                 env: dict[str, str] | None = None) -> None:
        self.index, self.result_path, self.label = index, result_path, label
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                                     env=env, start_new_session=True)
        self.ready: tuple[int, int, float] | None = None
        self.prog = [0, 0, 0, 0, 0, 0]
        self.prog_at = 0.0
        self.done = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "READY":
                self.ready = (int(parts[1]), int(parts[2]), float(parts[3]))
            elif parts[0] == "PROG":
                self.prog = [int(x) for x in parts[1:7]]
                self.prog_at = time.time()
            elif parts[0] == "DONE":
                self.done.set()
            else:
                log(f"{self.label} {self.index}: {line.rstrip()}")
        self.done.set()

    def tell(self, line: str) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)


def totals(workers: list[ClientProc]) -> list[int]:
    """The latest PROG counts summed: sent, acked, refused, received by others, echoed, expected."""
    return [sum(w.prog[i] for w in workers) for i in range(6)]


def wait_ready(workers: list[ClientProc], server: subprocess.Popen[bytes], timeout: float, late: str,
               server_name: str) -> tuple[int, int]:
    """Until every process said READY; returns (clients connected, clients that failed to)."""
    deadline = time.monotonic() + timeout
    while any(w.ready is None for w in workers):
        if time.monotonic() > deadline or any(w.proc.poll() is not None and w.ready is None for w in workers):
            raise RuntimeError(late)
        if server.poll() is not None:
            raise RuntimeError(f"{server_name} exited with status {server.returncode}")
        time.sleep(0.2)
    return sum(w.ready[0] for w in workers if w.ready), sum(w.ready[1] for w in workers if w.ready)


def run_load(workers: list[ClientProc], server: subprocess.Popen[bytes], t0: float, seconds: float,
             server_name: str, line: str) -> float:
    """GO at t0, then a progress log line a second until the load ends; returns its end (unix time).

    `line` is formatted with t, sent, acked, delivered, expected and rss.
    """
    for w in workers:
        w.tell(f"GO {int(t0 * 1e9)}")
    t_end = t0 + seconds
    while time.time() < t_end:
        time.sleep(1)
        if server.poll() is not None:
            raise RuntimeError(f"{server_name} exited with status {server.returncode}")
        tot = totals(workers)
        log(line.format(t=time.time() - t0, sent=tot[0], acked=tot[1], delivered=tot[3], expected=tot[5],
                        rss=rss_mb(server.pid)))
    return t_end


def drain(workers: list[ClientProc], t_end: float, limit: float) -> float:
    """Until every send is answered and every expected delivery arrived, or `limit` runs out; its seconds."""
    drain_deadline = time.time() + limit
    while time.time() < drain_deadline:
        time.sleep(0.5)
        if any(w.prog_at < t_end + 0.6 for w in workers):
            continue
        tot = totals(workers)
        if tot[1] + tot[2] >= tot[0] and tot[3] >= tot[5]:
            break
    return time.time() - t_end


def stop_clients(workers: list[ClientProc]) -> None:
    """STOP every process and give each a minute to write its RESULT."""
    for w in workers:
        w.tell("STOP")
    for w in workers:
        if not w.done.wait(60):
            log(f"{w.label} {w.index} did not finish; killing it")


def print_rows(title: str, rows: list[tuple[str, str]]) -> None:
    """A run's table: a blank line, the title, then one aligned `label  value` row each."""
    w = max(len(k) for k, _ in rows)
    print(f"\n{title}")
    for k, v in rows:
        print(f"  {k:<{w}}  {v}")


def client_errors(results: list[dict[str, Any]]) -> tuple[list[str], list[str], list[str], int]:
    """(error frames, unexpected disconnects, failed connects, failed sends) over all processes."""
    return ([e for r in results for e in r["error_frames"]], [e for r in results for e in r["disconnects"]],
            [e for r in results for e in r["connect_failures"]], sum(r["send_failures"] for r in results))


def tally(results: list[dict[str, Any]], conversations: dict[int, list[int]], t0: float) -> dict[str, Any]:
    """Lost, duplicated, latency and throughput from the RESULTs, counted alike for every system.

    A delivery is expected for every member but the sender of each send the server did not refuse;
    throughput is the distinct deliveries over the time from t0 to the last one.
    """
    sends = [s for r in results for s in r["sends"]]
    deliveries = [d for r in results for d in r["deliveries"]]
    status_count: dict[str, int] = {}
    for s in sends:
        status_count[s[4]] = status_count.get(s[4], 0) + 1
    expected: set[tuple[int, str]] = set()
    for cid, conv, sender, _t, status, _mid, _ack in sends:
        if status in ("sent", "pending"):
            expected.update((uid, cid) for uid in conversations[conv] if uid != sender)
    got: dict[tuple[int, str], int] = {}
    for uid, cid, _mid, _lat, _at in deliveries:
        got[(uid, cid)] = got.get((uid, cid), 0) + 1
    missing = expected - got.keys()
    committed = {s[0] for s in sends if s[4] == "sent"}
    lost_committed = sum(1 for _u, cid in missing if cid in committed)
    lat = [d[3] for d in deliveries]
    ack_lat = [s[6] for s in sends if s[6] is not None]
    last_at = max((d[4] for d in deliveries), default=t0 * 1e9) / 1e9
    return {
        "delivered_per_s": round(len(got) / max(last_at - t0, 1e-9), 1),
        "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "p99_ms": pct(lat, 99),
        "lost": len(missing), "duplicated": len({(u, m) for r in results for u, m in r["duplicates"]}),
        "lost_committed": lost_committed, "lost_unacknowledged": len(missing) - lost_committed,
        "sent": len(sends), "skipped_rate_limit": sum(r["skipped_no_tokens"] for r in results),
        "send_status": status_count, "expected_deliveries": len(expected), "delivered": len(got),
        "unexpected_deliveries": len(got.keys() - expected), "max_ms": round(max(lat), 1) if lat else None,
        "ack_p50_ms": pct(ack_lat, 50), "ack_p99_ms": pct(ack_lat, 99),
        "echo_p99_ms": pct([x for r in results for x in r["echo_ms"]], 99),
    }
