"""Messenger benchmark: many WebSocket clients sending into realistic conversations.

    .venv/bin/python bench/messaging.py --clients 200 --rate 100 --seconds 20
    .venv/bin/python bench/messaging.py --clients 5000 --rate 1000 --seconds 20 [--backend postgresql] [--redis]

Starts `entrepot serve` on a free loopback port in a temporary data folder (SQLite there, or a
throw-away PostgreSQL database on 127.0.0.1:5432 with --backend postgresql; --redis enables the
Redis bus at redis://127.0.0.1:6379/0). Before the server starts, the bench creates one enterprise,
N active traders (one argon2 hash shared by all rows, bulk-inserted), one web session per user
(inserted directly with mfa_passed, so no sign-in / TOTP) and the conversations, through
`entrepot.actions.messaging.start_conversation`: every user takes part in about
`--directs-per-user` direct (2-member) conversations, plus N/10 groups of 5-10 members.

N clients (one WebSocket per user, like one open chat tab) are spread over `--client-procs`
processes (bench/_messaging_client.py, asyncio + uvloop). Together they send `--rate` messages a
second for `--seconds` (open loop, evenly paced): a random connected user sends into one of its
conversations, picked uniformly. The server limits each connection to a burst of 20 frames then
10/s; clients keep a mirror of that bucket, so at rates above ~9.5 x N no more load is offered
(reported as "skipped").

Measured: delivered messages/s (message events received by members other than the sender, divided
by the time from the first send to the last delivery), send-to-deliver latency p50/p95/p99 (the
body carries time.time_ns() at send), lost (deliveries expected from every send the server did not
refuse, not received by the end of the load plus a drain of up to `--drain` seconds), duplicated
(a message id received twice by one user), server RSS (VmRSS, idle after connecting and peak),
CPU of the server / clients / whole machine, errors (error frames, refused sends, failed connects,
unexpected disconnects, tracebacks in the server log). Prints a table and one final JSON line:
{"bench": "messaging", "clients": N, "rate": R, "systems": {"entrepot": {"delivered_per_s", "p50_ms",
 "p95_ms", "p99_ms", "lost", "duplicated", "server_rss_mb", "errors", ...}}}

`--peer synapse` then runs the same users, conversations and load against Matrix Synapse (its own
virtualenv under bench/work/, SQLite, loopback, rate limits off; bench/_synapse.py and
bench/_synapse_client.py) and adds "synapse" to "systems" with the same keys.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import _bench_common as common
from _bench_common import ClientProc, log, rss_mb

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO / "src"))

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "bench password 123"
TARGET_CLIENTS, TARGET_RATE, TARGET_P99_MS = 5000, 1000, 50.0


# ---------------------------------------------------------------- set-up (in this process)

def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ENTREPOT_")}


def create_pg_database(name: str) -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_pg_database(name: str) -> None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception as exc:  # noqa: BLE001
        log(f"could not drop PostgreSQL database {name}: {exc}")


def populate(data_dir: Path, database_url: str | None, n: int, directs_per_user: int, seed: int
             ) -> tuple[list[dict[str, Any]], dict[int, list[int]]]:
    """Users, sessions and conversations. Returns (users: id/token/since/convs, conversation members)."""
    from sqlalchemy import insert, select

    from entrepot.accounts.passwords import hash_password
    from entrepot.accounts.tokens import digest, new_token
    from entrepot.actions import accounts, messaging
    from entrepot.core.config import load_settings
    from entrepot.db import Database
    from entrepot.db.messaging import EventCounter
    from entrepot.db.migrate import upgrade
    from entrepot.db.tables import User, UserRole, WebSession

    for k in [k for k in os.environ if k.startswith("ENTREPOT_")]:
        del os.environ[k]
    settings = load_settings(data_dir=data_dir, database_url=database_url)
    db = Database(settings.db_url)
    upgrade(db.engine)
    rng = random.Random(seed)
    t = time.monotonic()
    with db.write() as s:
        ent_id = accounts.create_enterprise(s, None, "Bench Trading", "KR").id
    pw_hash = hash_password(PASSWORD)
    with db.write() as s:
        s.execute(insert(User), [
            {"enterprise_id": ent_id, "username": f"u{i:05d}", "display_name": f"Bench User {i}", "kind": "staff",
             "status": "active", "clearance": 0, "password_hash": pw_hash} for i in range(1, n + 1)])
        ids = list(s.execute(select(User.id).where(User.enterprise_id == ent_id).order_by(User.id)).scalars())
        s.execute(insert(UserRole), [{"user_id": uid, "role": "trader"} for uid in ids])
        tokens = {uid: new_token() for uid in ids}
        s.execute(insert(WebSession), [{"id": digest(tok), "user_id": uid, "csrf_token": new_token(16),
                                        "mfa_passed": True} for uid, tok in tokens.items()])
    log(f"{n} users and sessions in {time.monotonic() - t:.1f}s")
    t = time.monotonic()
    members: dict[int, list[int]] = {}
    with db.write() as s:
        users = {u.id: u for u in s.execute(select(User).where(User.enterprise_id == ent_id)).scalars()}
        principals = {uid: accounts.principal_of(u) for uid, u in users.items()}
        pairs: set[tuple[int, int]] = set()
        for _ in range(directs_per_user):
            perm = ids[:]
            rng.shuffle(perm)
            for i in range(0, len(perm) - 1, 2):
                a, b = sorted((perm[i], perm[i + 1]))
                pairs.add((a, b))
        for a, b in sorted(pairs):
            conv = messaging.start_conversation(s, principals[a], [b], None)
            members[conv.id] = [a, b]
        for g in range(max(1, n // 10) if n >= 10 else 0):
            group = rng.sample(ids, rng.randint(5, 10))
            conv = messaging.start_conversation(s, principals[group[0]], group[1:], f"Desk {g + 1}")
            members[conv.id] = group
    with db.read() as s:
        since = dict(s.execute(select(EventCounter.user_id, EventCounter.last_seq)).all())
    db.dispose()
    convs_of: dict[int, list[int]] = {uid: [] for uid in ids}
    for cid, ms in members.items():
        for uid in ms:
            convs_of[uid].append(cid)
    n_groups = sum(1 for m in members.values() if len(m) > 2)
    log(f"{len(members) - n_groups} direct + {n_groups} group conversations in {time.monotonic() - t:.1f}s")
    users_out = [{"id": uid, "token": tokens[uid], "since": int(since.get(uid, 0)), "convs": convs_of[uid]}
                 for uid in ids]
    return users_out, members


# ---------------------------------------------------------------- processes and sampling

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is listening
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not answer in time")


def cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_cpu() -> tuple[float, float]:
    with open("/proc/stat", encoding="ascii") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    idle = vals[3] + vals[4]
    return float(sum(vals)), float(idle)


class Sampler(threading.Thread):
    """Peak RSS of the server processes together."""

    def __init__(self, server_pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids = server_pids
        self.stop_flag = threading.Event()
        self.peak_rss = 0.0
        self.samples: list[tuple[float, float]] = []

    def run(self) -> None:
        while not self.stop_flag.is_set():
            r = sum(rss_mb(pid) for pid in self.pids)
            self.peak_rss = max(self.peak_rss, r)
            self.samples.append((time.time(), r))
            self.stop_flag.wait(0.5)


# ---------------------------------------------------------------- optional profile (py-spy)

PROFILE_MARKERS = [  # (label, function name, file name) of a frame in the collapsed stacks
    ("group commit: one batch of sends (GroupWriter._commit)", "GroupWriter._commit", "writer.py"),
    ("  a batch's text sends (send_texts)", "send_texts", "sending.py"),
    ("    screening: rules and the off-topic rule (screening.record)", "record", "screening.py"),
    ("  index rows, archive records, events of the batch (store_deferred)", "store_deferred", "messaging.py"),
    ("  delivery receipts (ReceiptWriter.flush)", "ReceiptWriter.flush", "receipts.py"),
    ("  ORM flush", "Session.flush", "session.py"),
    ("  commit", "Session.commit", "session.py"),
    ("  fan-out after commit (Fanout.deliver)", "Fanout.deliver", "fanout.py"),
    ("    batched session re-check (Fanout._recheck)", "Fanout._recheck", "fanout.py"),
    ("send handed-over events (Connection._deliver_offered)", "Connection._deliver_offered", "connection.py"),
    ("read pending events on wake-up (Connection._pending)", "Connection._pending", "connection.py"),
    ("  recheck the session (_ws_principal)", "_ws_principal", "messenger.py"),
    ("  events_after", "events_after", "messaging.py"),
    ("  my_conversation_ids", "my_conversation_ids", "messaging.py"),
    ("send frames (Connection._send)", "Connection._send", "connection.py"),
    ("read frames (Connection._reader)", "Connection._reader", "connection.py"),
    ("any SQLAlchemy frame", "", "sqlalchemy/"),
    ("sqlite3/psycopg execute (do_execute)", "DefaultDialect.do_execute", "default.py"),
    ("any websockets / uvicorn protocol frame", "", "websockets"),
]


def start_profile(args: argparse.Namespace, pid: int, work: Path) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        log("--profile: py-spy not found (pip install py-spy); no profile")
        return None
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--gil", "--nonblocking", "--rate", "97",
                             "--duration", str(int(args.seconds)), "--format", "raw", "-o",
                             str(work / "profile.txt")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def finish_profile(spy: subprocess.Popen[bytes], work: Path, seconds: float) -> list[tuple[float, str]] | None:
    try:
        spy.wait(timeout=30)
    except subprocess.TimeoutExpired:
        spy.kill()
        return None
    path = work / "profile.txt"
    if not path.exists():
        return None
    totals = dict.fromkeys((label for label, _f, _p in PROFILE_MARKERS), 0)
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        for label, func, file in PROFILE_MARKERS:
            if any((not func or f.startswith(func + " (")) and file in f for f in frames):
                totals[label] += n
    if not total:
        return None
    out = [(round(100 * total / (97 * seconds), 1), "(share of the load time a server thread held the GIL)")]
    return out + [(round(100 * v / total, 1), k) for k, v in totals.items()]


# ---------------------------------------------------------------- one run

def run_entrepot(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="entrepot-bench-msg-"))
    data_dir = work / "data"
    pg_name = f"entrepot_bench_msg_{os.getpid()}" if args.backend == "postgresql" else None
    servers: list[subprocess.Popen[bytes]] = []
    workers: list[ClientProc] = []
    sampler: Sampler | None = None
    spy: subprocess.Popen[bytes] | None = None
    try:
        database_url = create_pg_database(pg_name) if pg_name else None
        users, members = populate(data_dir, database_url, args.clients, args.directs_per_user, args.seed)
        conv_size = {cid: len(ms) for cid, ms in members.items()}
        port = args.port or free_port()
        env = clean_env()
        env.update({"ENTREPOT_DATA_DIR": str(data_dir), "ENTREPOT_SESSION_IDLE_MINUTES": "1440",
                    "ENTREPOT_SESSION_ABSOLUTE_HOURS": "48"})
        if database_url:
            env["ENTREPOT_DATABASE_URL"] = database_url
        if args.redis:
            env["ENTREPOT_REDIS_URL"] = REDIS_URL
        server_log = open(work / "server.log", "wb")
        ports = [port] + [free_port() for _ in range(args.servers - 1)]
        for p in ports:  # with --servers N, N processes on one database and Redis, as behind a balancer
            servers.append(subprocess.Popen(
                [sys.executable, "-m", "entrepot", "--data-dir", str(data_dir), "serve", "--port", str(p),
                 "--no-migrate"], cwd=str(REPO), env=env, stdout=server_log, stderr=subprocess.STDOUT,
                start_new_session=True))
        server = servers[0]
        try:
            for p, proc in zip(ports, servers, strict=True):
                wait_http(p, proc, 60)
        except RuntimeError:
            server_log.flush()
            tail = (work / "server.log").read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
            log("server log:\n  " + "\n  ".join(tail))
            raise
        pids = [proc.pid for proc in servers]
        log(f"server pid(s) {', '.join(map(str, pids))} on port(s) {', '.join(map(str, ports))} "
            f"({args.backend}{', redis' if args.redis else ''}); RSS {sum(map(rss_mb, pids)):.0f} MB before clients")
        sampler = Sampler(pids)
        sampler.start()
        rss_start = sum(map(rss_mb, pids))

        procs = max(1, min(args.client_procs, len(users)))
        rng = random.Random(args.seed + 1)
        shuffled = users[:]
        rng.shuffle(shuffled)
        client_env = clean_env()
        t_connect = time.monotonic()
        for i in range(procs):
            mine = shuffled[i::procs]
            plan = {"index": i, "users": mine, "conv_size": conv_size, "seed": args.seed + 100 + i,
                    "url": f"ws://127.0.0.1:{ports[i % len(ports)]}/ws", "origin": None, "rate": args.rate / procs,
                    "seconds": args.seconds, "connect_concurrency": args.connect_concurrency,
                    "no_compression": args.no_compression}
            plan_path = work / f"plan-{i}.json"
            plan_path.write_text(json.dumps(plan), encoding="utf-8")
            cmd = [sys.executable, str(BENCH / "_messaging_client.py"), str(plan_path), str(work / f"result-{i}.json")]
            workers.append(ClientProc(cmd, i, work / f"result-{i}.json", "client process", client_env))
        connected, connect_failed = common.wait_ready(workers, server, 120 + args.clients / 20,
                                                      "client processes did not get connected in time", "server")
        connect_s = time.monotonic() - t_connect
        time.sleep(2)  # let the initial replays settle
        rss_idle = sum(map(rss_mb, pids))
        log(f"{connected} clients connected ({connect_failed} failed) in {connect_s:.1f}s; "
            f"server RSS {rss_idle:.0f} MB")

        t0 = time.time() + 1.0
        spy = start_profile(args, server.pid, work) if args.profile else None
        cpu0_server = sum(map(cpu_s, pids))
        cpu0_clients = sum(cpu_s(w.proc.pid) for w in workers)
        m0 = machine_cpu()
        t_end = common.run_load(workers, server, t0, args.seconds, "server",
                                "t={t:5.1f}s sent {sent} acked {acked} delivered {delivered}/{expected} "
                                "server RSS {rss:.0f} MB")
        cpu1_server = sum(map(cpu_s, pids))
        cpu1_clients = sum(cpu_s(w.proc.pid) for w in workers)
        m1 = machine_cpu()
        drain_s = common.drain(workers, t_end, args.drain)
        cpu2_server = sum(map(cpu_s, pids))  # load + drain: all the work the sends caused, whatever the lag
        profile = finish_profile(spy, work, args.seconds) if spy else None
        rss_end = sum(map(rss_mb, pids))
        common.stop_clients(workers)
        results = []
        for w in workers:
            if w.result_path.exists():
                results.append(json.loads(w.result_path.read_text(encoding="utf-8")))
            else:
                log(f"client process {w.index} wrote no result")
        sampler.stop_flag.set()
        server_log.flush()
        log_text = (work / "server.log").read_text(encoding="utf-8", errors="replace")
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
        for w in workers:
            w.kill()
        for proc in servers:
            common.stop_group(proc, signal.SIGINT, 10)
        if sampler is not None:
            sampler.stop_flag.set()
        if pg_name:
            drop_pg_database(pg_name)
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    # ------------------------------------------------------------ analysis
    out = common.tally(results, members, t0)
    error_frames, disconnects, connect_failures, send_failures = common.client_errors(results)
    reconnects = sum(r.get("reconnects", 0) for r in results)
    tracebacks = log_text.count("Traceback (most recent call last)")
    error_lines = [ln for ln in log_text.splitlines() if " ERROR" in ln or ln.startswith("ERROR")]
    errors = len(error_frames) + len(disconnects) + len(connect_failures) + send_failures + max(
        tracebacks, len(error_lines))
    wall = args.seconds
    m_total, m_idle = m1[0] - m0[0], m1[1] - m0[1]
    out.update({
        "server_rss_mb": round(max(sampler.peak_rss if sampler else 0.0, rss_end), 1),
        "errors": errors,
        # details
        "connected": connected, "connect_failed": connect_failed + len(connect_failures),
        "connect_s": round(connect_s, 1), "offered_per_s": round(out["sent"] / wall, 1),
        "server_rss_start_mb": round(rss_start, 1), "server_rss_idle_mb": round(rss_idle, 1),
        "server_rss_end_mb": round(rss_end, 1),
        "server_cpu_pct": round(100 * (cpu1_server - cpu0_server) / wall, 1),
        # CPU seconds per 1,000 acknowledged sends over load + drain: comparable on a machine other work
        # slows down (when most sends are still pending at the end, it also counts their partial work)
        "server_cpu_s_per_1k_sends": round(
            1000 * (cpu2_server - cpu0_server) / max(1, out["send_status"].get("sent", 0)), 2),
        "clients_cpu_pct": round(100 * (cpu1_clients - cpu0_clients) / wall, 1),
        "machine_busy_pct": round(100 * (1 - m_idle / m_total), 1) if m_total else None,
        "cpus": os.cpu_count(), "client_procs": len(workers), "drain_s": round(drain_s, 1),
        "error_frames": len(error_frames), "disconnects": len(disconnects), "reconnects": reconnects,
        "send_failures": send_failures,
        "server_log_errors": max(tracebacks, len(error_lines)),
        "profile": profile,
        "conversations": members,  # conversation id -> member ids: the --peer run gets the same layout
        "error_samples": sorted(set(error_frames))[:3] + disconnects[:3] + connect_failures[:3] + error_lines[:3],
    })
    return out


def print_table(args: argparse.Namespace, r: dict[str, Any]) -> None:
    rows = [
        ("clients connected", f"{r['connected']} / {args.clients} ({r['connect_failed']} failed, {r['connect_s']} s)"),
        ("client processes / CPUs", f"{r['client_procs']} / {r['cpus']}"),
        ("messages sent", f"{r['sent']} ({r['offered_per_s']}/s offered, target {args.rate}/s; "
                          f"{r['skipped_rate_limit']} skipped: per-connection limit)"),
        ("send status", ", ".join(f"{k} {v}" for k, v in sorted(r["send_status"].items()))),
        ("deliveries expected / received", f"{r['expected_deliveries']} / {r['delivered']}"),
        ("delivered per second", f"{r['delivered_per_s']}"),
        ("send->deliver p50 / p95 / p99 / max", f"{r['p50_ms']} / {r['p95_ms']} / {r['p99_ms']} / {r['max_ms']} ms"),
        ("send->'sent' ack p50 / p99", f"{r['ack_p50_ms']} / {r['ack_p99_ms']} ms"),
        ("lost / duplicated / unexpected", f"{r['lost']} / {r['duplicated']} / {r['unexpected_deliveries']}"),
        ("  lost of acknowledged / unacknowledged sends", f"{r['lost_committed']} / {r['lost_unacknowledged']}"),
        ("server RSS start / idle / end / peak", f"{r['server_rss_start_mb']} / {r['server_rss_idle_mb']} / "
                                                 f"{r['server_rss_end_mb']} / {r['server_rss_mb']} MB"),
        ("server CPU per 1,000 acknowledged sends", f"{r['server_cpu_s_per_1k_sends']} s"),
        ("CPU during load: server / clients / machine",
         f"{r['server_cpu_pct']}% / {r['clients_cpu_pct']}% (of one core) / {r['machine_busy_pct']}% busy"),
        ("drain after load", f"{r['drain_s']} s"),
        ("errors", f"{r['errors']} (error frames {r['error_frames']}, disconnects {r['disconnects']} "
                   f"(reconnected {r['reconnects']}), "
                   f"send failures {r['send_failures']}, server log {r['server_log_errors']})"),
    ]
    servers = f"{args.servers} server processes, " if args.servers > 1 else ""
    common.print_rows(f"messaging bench: entrepot, {servers}{args.backend}{' + redis' if args.redis else ''}, "
                      f"{args.clients} clients, {args.rate} msg/s, {args.seconds} s", rows)
    if r.get("profile"):
        print("server profile during the load (py-spy --gil; inclusive share of the samples that held the GIL):")
        for share, name in r["profile"]:
            print(f"  {share:5.1f}%  {name}")
    for e in r["error_samples"]:
        print(f"  error sample: {e[:200]}")
    # the product's targets
    print("targets:")
    if args.clients >= TARGET_CLIENTS:
        ok = r["connected"] >= TARGET_CLIENTS
        print(f"  {TARGET_CLIENTS} connected clients: {'MET' if ok else 'NOT MET'} ({r['connected']})")
    else:
        print(f"  {TARGET_CLIENTS} connected clients: not tested ({args.clients} clients)")
    if args.rate >= TARGET_RATE:
        ok = r["p99_ms"] is not None and r["p99_ms"] <= TARGET_P99_MS and r["offered_per_s"] >= 0.95 * TARGET_RATE
        print(f"  p99 <= {TARGET_P99_MS:.0f} ms at {TARGET_RATE} msg/s: {'MET' if ok else 'NOT MET'} "
              f"(p99 {r['p99_ms']} ms at {r['offered_per_s']} msg/s offered)")
    else:
        print(f"  p99 <= {TARGET_P99_MS:.0f} ms at {TARGET_RATE} msg/s: not tested ({args.rate} msg/s; "
              f"p99 here {r['p99_ms']} ms)")
    ok = r["lost"] == 0 and r["duplicated"] == 0
    verdict = "MET" if ok else "NOT MET"
    print(f"  nothing lost or duplicated: {verdict} (lost {r['lost']}, duplicated {r['duplicated']})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=200, help="WebSocket clients = users (>= 10)")
    ap.add_argument("--rate", type=float, default=100, help="messages per second, all clients together")
    ap.add_argument("--seconds", type=float, default=20, help="length of the load")
    ap.add_argument("--peer", choices=["synapse"], help="also run a peer system under the same load")
    ap.add_argument("--synapse-sqlite-sync", choices=["normal", "full"], default="normal",
                    help="Synapse's SQLite synchronous: normal = entrepot's setting, full = Synapse as shipped")
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--redis", action="store_true", help=f"enable the Redis bus ({REDIS_URL})")
    ap.add_argument("--servers", type=int, default=1,
                    help="server processes (more than one needs --redis); clients spread over them")
    ap.add_argument("--client-procs", type=int, default=os.cpu_count() or 2, help="client processes")
    ap.add_argument("--connect-concurrency", type=int, default=50, help="handshakes in flight per client process")
    ap.add_argument("--directs-per-user", type=int, default=2)
    ap.add_argument("--profile", action="store_true", help="sample the server with py-spy during the load")
    ap.add_argument("--drain", type=float, default=30, help="max seconds to wait for late deliveries")
    ap.add_argument("--no-compression", action="store_true", help="no permessage-deflate (browsers use it)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (server log, plans)")
    args = ap.parse_args()
    if args.clients < 10:
        ap.error("--clients must be at least 10 (groups have 5-10 members)")
    if args.servers > 1 and not args.redis:
        ap.error("--servers above 1 needs --redis (the instances hear of each other's events through it)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.clients * 2 + 1024
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(want, soft)), hard))
    if min(hard, want) < want:  # the server and the client processes inherit this limit
        log(f"open-file limit {hard} is below the {want} this run needs: raise it (ulimit -Hn)")
    r = run_entrepot(args)
    print_table(args, r)
    keys = ["delivered_per_s", "p50_ms", "p95_ms", "p99_ms", "lost", "duplicated", "server_rss_mb", "errors"]
    system = {k: r[k] for k in keys} | {k: r[k] for k in (
        "connected", "sent", "offered_per_s", "ack_p99_ms", "server_cpu_pct", "clients_cpu_pct", "machine_busy_pct")}
    peer: dict[str, Any] = {}
    if args.peer == "synapse":
        import _synapse

        sr = _synapse.run_synapse(args, r["conversations"])
        _synapse.print_table(args, sr)
        _synapse.print_comparison(r, sr)
        peer["synapse"] = {k: sr[k] for k in keys} | {k: sr[k] for k in (
            "connected", "sent", "offered_per_s", "ack_p99_ms", "server_cpu_pct", "clients_cpu_pct",
            "machine_busy_pct", "version", "sqlite_synchronous")}
    print(json.dumps({"bench": "messaging", "clients": args.clients, "rate": args.rate,
                      "seconds": args.seconds, "backend": args.backend, "redis": args.redis, "servers": args.servers,
                      "systems": {"entrepot": system} | peer}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
