"""Matrix Synapse as the peer of bench/messaging.py (`--peer synapse`): the same load against it.

Installs `matrix-synapse` (pinned below) from PyPI into its own virtualenv under bench/work/ (git-
ignored; reused while the pinned versions match), with the Matrix clients' aiohttp and uvloop. Each
run writes a homeserver config into a fresh data folder (bench/work/synapse-run-<pid>, removed
afterwards unless --keep): SQLite, one HTTP listener on 127.0.0.1 (x_forwarded off), no federation,
presence off, report_stats off, every rc_* rate limit raised out of reach (otherwise Synapse would
throttle the bench users and measure its limiter), logging at WARNING. One Synapse process, as
entrepot runs one server process. SQLite's synchronous is NORMAL as in entrepot (a launcher sets it on
each connection) unless --synapse-sqlite-sync full runs Synapse exactly as shipped.

Set-up, over the client-server API from this process: every entrepot user is registered with the
same numeric id (localpart u00001...) through the shared-secret admin API (that answer carries the
access token, like a login); every entrepot conversation becomes a private room created by its
first member with the others invited, and each invitee joins. That set-up takes minutes per
thousand users, so its database is saved under bench/work/synapse-setup/<layout hash> and restored by
the next run of the same layout (same users, conversations and Synapse version). Then the clients
(bench/_synapse_client.py, `--client-procs` processes, users split as for entrepot) do an initial
/sync, long-poll /sync and send with PUT .../send/m.room.message/{txnId}. Lost, duplicated,
latency and throughput are computed by the same code as for entrepot (bench/_bench_common.py).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import _bench_common as common
from _bench_common import ClientProc, log, rss_mb
from messaging import Sampler, cpu_s, free_port, machine_cpu

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "work"  # git-ignored (.gitignore: bench/work/)
VENV = WORK / "synapse-venv"
SETUP_CACHE = WORK / "synapse-setup"  # users and rooms of a layout, reused by the next run of that layout
SYNAPSE_VERSION = "1.163.2"
REQUIREMENTS = [f"matrix-synapse=={SYNAPSE_VERSION}", "aiohttp==3.14.5", "uvloop==0.23.0"]
SERVER_NAME = "bench.local"
PASSWORD = "bench password 123"
SETUP_THREADS = 8
UNLIMITED = {"per_second": 1_000_000, "burst_count": 1_000_000}
# what a client syncs: room timelines only (no presence, account data, typing or receipts)
# Synapse leaves SQLite at synchronous=FULL (an fsync per commit, ~4-5 ms on this disk); entrepot runs
# WAL with synchronous=NORMAL. "normal" starts Synapse through this launcher so both commit alike.
LAUNCHER = """
from synapse.storage.engines import sqlite
_on_new_connection = sqlite.Sqlite3Engine.on_new_connection
def on_new_connection(self, db_conn):
    _on_new_connection(self, db_conn)
    db_conn.execute("PRAGMA synchronous = NORMAL;")
    db_conn.commit()
sqlite.Sqlite3Engine.on_new_connection = on_new_connection
from synapse.app.homeserver import main
main()
"""
SYNC_FILTER = {"presence": {"not_types": ["*"]}, "account_data": {"not_types": ["*"]},
               "room": {"state": {"lazy_load_members": True}, "ephemeral": {"not_types": ["*"]},
                        "account_data": {"not_types": ["*"]}, "timeline": {"limit": 1000}}}


# ---------------------------------------------------------------- install and configure

def ensure_venv() -> Path:
    """The Synapse virtualenv's python, installing it once (a marker file holds the pinned set)."""
    python = VENV / "bin" / "python"
    marker = VENV / ".bench-requirements"
    want = "\n".join(REQUIREMENTS)
    if python.exists() and marker.exists() and marker.read_text(encoding="utf-8") == want:
        return python
    log(f"installing {', '.join(REQUIREMENTS)} into {VENV} (once)")
    WORK.mkdir(parents=True, exist_ok=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    marker.write_text(want, encoding="utf-8")
    return python


def rate_limits() -> dict[str, Any]:
    u = UNLIMITED
    return {
        "rc_message": u, "rc_registration": u, "rc_registration_token_validity": u,
        "rc_login": {"address": u, "account": u, "failed_attempts": u},
        "rc_admin_redaction": u, "rc_joins": {"local": u, "remote": u}, "rc_joins_per_room": u,
        "rc_3pid_validation": u, "rc_invites": {"per_room": u, "per_user": u, "per_issuer": u},
        "rc_third_party_invite": u, "rc_media_create": u, "rc_presence": {"per_user": u},
        "rc_delayed_event_mgmt": u, "rc_room_creation": u, "rc_reports": u, "rc_user_directory": u,
        "rc_profile": u, "rc_key_requests": u,
    }


def write_config(data: Path, port: int) -> tuple[Path, str]:
    """homeserver.yaml (JSON is YAML) and its logging config. Returns (config path, shared secret)."""
    secret = secrets.token_hex(32)
    log_config = data / "log.yaml"
    log_config.write_text(json.dumps({
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "formatter": "plain",
                              "filename": str(data / "homeserver.log")}},
        "root": {"level": "WARNING", "handlers": ["file"]},
        "disable_existing_loggers": False}), encoding="utf-8")
    config = {
        "server_name": SERVER_NAME,
        "pid_file": str(data / "homeserver.pid"),
        "listeners": [{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                       "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}],
        "database": {"name": "sqlite3", "args": {"database": str(data / "homeserver.db")}},
        "log_config": str(log_config),
        "media_store_path": str(data / "media"),
        "signing_key_path": str(data / "signing.key"),
        "registration_shared_secret": secret,
        "macaroon_secret_key": secrets.token_hex(32),
        "form_secret": secrets.token_hex(32),
        "report_stats": False,
        "enable_metrics": False,
        "presence": {"enabled": False},
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "url_preview_enabled": False,
        "bcrypt_rounds": 4,  # set-up speed only: 5,000 sign-ups at the default 12 would take minutes
        **rate_limits(),
    }
    path = data / "homeserver.yaml"
    path.write_text(json.dumps(config, indent=1), encoding="utf-8")
    return path, secret


def start(python: Path, config: Path, data: Path, port: int, synchronous: str) -> subprocess.Popen[bytes]:
    subprocess.run([str(python), "-m", "synapse.app.homeserver", "-c", str(config), "--generate-keys"],
                   check=True, cwd=str(data), stdout=subprocess.DEVNULL)
    entry = ["-m", "synapse.app.homeserver"]
    if synchronous == "normal":
        launcher = data / "launch.py"
        launcher.write_text(LAUNCHER, encoding="utf-8")
        entry = [str(launcher)]
    with open(data / "stdout.log", "wb") as out:  # the child keeps its own copy
        proc = subprocess.Popen([str(python), *entry, "-c", str(config)], cwd=str(data),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (data / "stdout.log").read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(f"synapse exited with status {proc.returncode}:\n  " + "\n  ".join(tail))
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_matrix/client/versions", timeout=2).close()
            return proc
        except OSError:
            time.sleep(0.3)
    stop(proc)
    raise RuntimeError("synapse did not answer /_matrix/client/versions in 120 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    common.stop_group(proc, signal.SIGTERM, 20)


# ---------------------------------------------------------------- users and rooms (client-server API)

class Api:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None
             ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        for attempt in range(5):
            try:
                with urllib.request.urlopen(req, timeout=120) as resp:
                    return json.loads(resp.read() or b"{}")
            except urllib.error.HTTPError as exc:
                if exc.code != 429 and exc.code < 500 or attempt == 4:
                    what = f"{method} {path.split('?')[0]}: HTTP {exc.code} {exc.read()[:200]!r}"
                    raise RuntimeError(what) from None
            except OSError:
                if attempt == 4:
                    raise
            time.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")


def register(api: Api, secret: str, uid: int) -> dict[str, str]:
    """Shared-secret registration (HMAC-SHA1 of nonce, name, password, "notadmin"): a token; then a filter."""
    name = f"u{uid:05d}"
    nonce = api.call("GET", "/_synapse/admin/v1/register")["nonce"]
    signed = b"\x00".join([nonce.encode(), name.encode(), PASSWORD.encode(), b"notadmin"])
    mac = hmac.new(secret.encode(), signed, hashlib.sha1).hexdigest()
    r = api.call("POST", "/_synapse/admin/v1/register",
                 {"nonce": nonce, "username": name, "password": PASSWORD, "admin": False, "mac": mac})
    mxid, token = r["user_id"], r["access_token"]
    # clients upload their sync filter once and name it by id (Synapse validates inline filters each time)
    filter_id = api.call("POST", f"/_matrix/client/v3/user/{quote(mxid, safe='')}/filter", SYNC_FILTER, token)
    return {"mxid": mxid, "token": token, "filter": filter_id["filter_id"]}


# (user id -> {mxid, token, filter}, conversation id -> room id)
Setup = tuple[dict[int, dict[str, str]], dict[int, str]]


def set_up(api: Api, secret: str, conversations: dict[int, list[int]]) -> Setup:
    """Users (same ids as entrepot) and one room per conversation, every member joined."""
    ids = sorted({uid for ms in conversations.values() for uid in ms})
    t = time.monotonic()
    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        users = dict(zip(ids, pool.map(lambda uid: register(api, secret, uid), ids), strict=True))
    log(f"synapse: {len(users)} users registered in {time.monotonic() - t:.1f}s")
    t = time.monotonic()

    def make_room(item: tuple[int, list[int]]) -> str:
        cid, members = item
        body: dict[str, Any] = {"preset": "private_chat", "invite": [users[u]["mxid"] for u in members[1:]]}
        if len(members) == 2:
            body["is_direct"] = True
        else:
            body["name"] = f"Desk {cid}"
        room = api.call("POST", "/_matrix/client/v3/createRoom", body, users[members[0]]["token"])["room_id"]
        for u in members[1:]:
            api.call("POST", f"/_matrix/client/v3/join/{quote(room, safe='')}", {}, users[u]["token"])
        return str(room)

    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        room_of = dict(zip(conversations, pool.map(make_room, conversations.items()), strict=True))
    log(f"synapse: {len(room_of)} rooms created and joined in {time.monotonic() - t:.1f}s")
    return users, room_of


def setup_key(conversations: dict[int, list[int]]) -> str:
    blob = json.dumps([SYNAPSE_VERSION, sorted(conversations.items())])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def restore_setup(key: str, data: Path) -> Setup | None:
    """Put a saved database and signing key for this layout into `data` (before Synapse starts)."""
    saved = SETUP_CACHE / key
    if not (saved / "setup.json").exists():
        return None
    shutil.copyfile(saved / "homeserver.db", data / "homeserver.db")
    shutil.copyfile(saved / "signing.key", data / "signing.key")
    doc = json.loads((saved / "setup.json").read_text(encoding="utf-8"))
    return ({int(k): v for k, v in doc["users"].items()}, {int(k): v for k, v in doc["room_of"].items()})


def save_setup(key: str, data: Path, setup: Setup) -> None:
    """Snapshot the freshly set-up database (SQLite's online backup: consistent while Synapse runs)."""
    tmp = SETUP_CACHE / f"{key}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    src, dst = sqlite3.connect(data / "homeserver.db"), sqlite3.connect(tmp / "homeserver.db")
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    shutil.copyfile(data / "signing.key", tmp / "signing.key")
    users, room_of = setup
    (tmp / "setup.json").write_text(json.dumps({"users": users, "room_of": room_of}), encoding="utf-8")
    shutil.rmtree(SETUP_CACHE / key, ignore_errors=True)
    tmp.rename(SETUP_CACHE / key)


# ---------------------------------------------------------------- one run

def clients_cpu(workers: list[ClientProc]) -> float:
    return sum(cpu_s(w.proc.pid) for w in workers)


def run_synapse(args: argparse.Namespace, conversations: dict[int, list[int]]) -> dict[str, Any]:
    """The entrepot run's load against Synapse; returns the same keys as run_entrepot."""
    python = ensure_venv()
    data = WORK / f"synapse-run-{os.getpid()}"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    server: subprocess.Popen[bytes] | None = None
    workers: list[ClientProc] = []
    sampler: Sampler | None = None
    try:
        port = free_port()
        config, secret = write_config(data, port)
        key = setup_key(conversations)
        cached = restore_setup(key, data)
        server = start(python, config, data, port, args.synapse_sqlite_sync)
        log(f"synapse {SYNAPSE_VERSION} pid {server.pid} on port {port} (sqlite, synchronous="
            f"{args.synapse_sqlite_sync}); RSS {rss_mb(server.pid):.0f} MB")
        if cached:
            users, room_of = cached
            log(f"synapse: {len(users)} users and {len(room_of)} rooms from {SETUP_CACHE / key}")
        else:
            users, room_of = set_up(Api(port), secret, conversations)
            save_setup(key, data, (users, room_of))
        sampler = Sampler(server.pid)
        sampler.start()
        rss_start = rss_mb(server.pid)
        convs_of: dict[int, list[int]] = {uid: [] for uid in users}
        for cid, ms in conversations.items():
            for uid in ms:
                convs_of[uid].append(cid)
        ordered = [{"id": uid, "convs": convs_of[uid], **users[uid]} for uid in sorted(users)]
        procs = max(1, min(args.client_procs, len(ordered)))
        shuffled = ordered[:]
        random.Random(args.seed + 1).shuffle(shuffled)  # the same split over processes as entrepot's
        conv_size = {cid: len(ms) for cid, ms in conversations.items()}
        t_connect = time.monotonic()
        for i in range(procs):
            plan = {"index": i, "users": shuffled[i::procs], "conv_size": conv_size, "room_of": room_of,
                    "seed": args.seed + 100 + i, "base_url": f"http://127.0.0.1:{port}",
                    "rate": args.rate / procs, "seconds": args.seconds,
                    "connect_concurrency": args.connect_concurrency}
            plan_path = data / f"plan-{i}.json"
            plan_path.write_text(json.dumps(plan), encoding="utf-8")
            cmd = [str(python), str(BENCH / "_synapse_client.py"), str(plan_path), str(data / f"result-{i}.json")]
            workers.append(ClientProc(cmd, i, data / f"result-{i}.json", "synapse client process"))
        connected, connect_failed = common.wait_ready(
            workers, server, 120 + args.clients / 5,
            "synapse client processes did not finish their initial sync in time", "synapse")
        connect_s = time.monotonic() - t_connect
        time.sleep(2)  # let the first long-polls settle
        rss_idle = rss_mb(server.pid)
        log(f"synapse: {connected} clients synced ({connect_failed} failed) in {connect_s:.1f}s; "
            f"RSS {rss_idle:.0f} MB")

        server_log = data / "homeserver.log"
        log_from = server_log.stat().st_size if server_log.exists() else 0  # set-up errors do not count
        t0 = time.time() + 1.0
        cpu0_server, cpu0_clients, m0 = cpu_s(server.pid), clients_cpu(workers), machine_cpu()
        t_end = common.run_load(workers, server, t0, args.seconds, "synapse",
                                "synapse t={t:5.1f}s sent {sent} acked {acked} delivered {delivered}/{expected} "
                                "RSS {rss:.0f} MB")
        cpu1_server, cpu1_clients, m1 = cpu_s(server.pid), clients_cpu(workers), machine_cpu()
        drain_s = common.drain(workers, t_end, args.drain)
        rss_end = rss_mb(server.pid)
        common.stop_clients(workers)
        results = [json.loads(w.result_path.read_text(encoding="utf-8"))
                   for w in workers if w.result_path.exists()]
        if len(results) < len(workers):
            log(f"synapse: {len(workers) - len(results)} client processes wrote no result")
        sampler.stop_flag.set()
        log_bytes = server_log.read_bytes() if server_log.exists() else b""
        log_text = log_bytes[log_from:].decode("utf-8", "replace")
    finally:
        for w in workers:
            w.kill()
        if server is not None:
            stop(server)
        if sampler is not None:
            sampler.stop_flag.set()
        if args.keep:
            log(f"kept {data}")
        else:
            shutil.rmtree(data, ignore_errors=True)

    wall = args.seconds
    m_total, m_idle = m1[0] - m0[0], m1[1] - m0[1]
    out = analyse(results, conversations, t0, log_text)
    out.update({
        "server_rss_mb": round(max(sampler.peak_rss, rss_end), 1),
        "connected": connected, "connect_failed": connect_failed + out["connect_failed"],
        "connect_s": round(connect_s, 1), "offered_per_s": round(out["sent"] / wall, 1),
        "server_rss_start_mb": round(rss_start, 1), "server_rss_idle_mb": round(rss_idle, 1),
        "server_rss_end_mb": round(rss_end, 1),
        "server_cpu_pct": round(100 * (cpu1_server - cpu0_server) / wall, 1),
        "clients_cpu_pct": round(100 * (cpu1_clients - cpu0_clients) / wall, 1),
        "machine_busy_pct": round(100 * (1 - m_idle / m_total), 1) if m_total else None,
        "cpus": os.cpu_count(), "client_procs": len(workers), "drain_s": round(drain_s, 1),
        "version": SYNAPSE_VERSION, "sqlite_synchronous": args.synapse_sqlite_sync, "profile": None,
    })
    return out


def analyse(results: list[dict[str, Any]], conversations: dict[int, list[int]], t0: float, log_text: str
            ) -> dict[str, Any]:
    """Lost / duplicated / latency / throughput as for entrepot (tally), and Synapse's errors."""
    error_frames, disconnects, connect_failures, send_failures = common.client_errors(results)
    retry_reasons = [e for r in results for e in r.get("retry_reasons", [])]
    error_lines = [ln for ln in log_text.splitlines() if " ERROR " in ln or " CRITICAL " in ln]
    return common.tally(results, conversations, t0) | {
        "errors": (len(error_frames) + len(disconnects) + len(connect_failures) + send_failures
                   + len(error_lines)),
        "connect_failed": len(connect_failures),
        "error_frames": len(error_frames), "disconnects": len(disconnects), "reconnects": 0,
        "send_failures": send_failures, "server_log_errors": len(error_lines),
        "sync_gaps": sum(r.get("sync_gaps", 0) for r in results),
        "error_samples": (sorted(set(error_frames))[:3] + disconnects[:3] + connect_failures[:3]
                          + sorted(set(retry_reasons))[:3] + error_lines[:3]),
    }


# ---------------------------------------------------------------- report

def print_table(args: argparse.Namespace, r: dict[str, Any]) -> None:
    rows = [
        ("clients synced",
         f"{r['connected']} / {args.clients} ({r['connect_failed']} failed, {r['connect_s']} s)"),
        ("client processes / CPUs", f"{r['client_procs']} / {r['cpus']}"),
        ("messages sent", f"{r['sent']} ({r['offered_per_s']}/s offered, target {args.rate}/s)"),
        ("send status", ", ".join(f"{k} {v}" for k, v in sorted(r["send_status"].items()))),
        ("deliveries expected / received", f"{r['expected_deliveries']} / {r['delivered']}"),
        ("delivered per second", f"{r['delivered_per_s']}"),
        ("send->deliver p50 / p95 / p99 / max",
         f"{r['p50_ms']} / {r['p95_ms']} / {r['p99_ms']} / {r['max_ms']} ms"),
        ("send->event_id answer p50 / p99", f"{r['ack_p50_ms']} / {r['ack_p99_ms']} ms"),
        ("lost / duplicated / unexpected", f"{r['lost']} / {r['duplicated']} / {r['unexpected_deliveries']}"),
        ("  lost of acknowledged / unacknowledged sends",
         f"{r['lost_committed']} / {r['lost_unacknowledged']}"),
        ("server RSS start / idle / end / peak", f"{r['server_rss_start_mb']} / {r['server_rss_idle_mb']} / "
                                                 f"{r['server_rss_end_mb']} / {r['server_rss_mb']} MB"),
        ("CPU during load: server / clients / machine",
         f"{r['server_cpu_pct']}% / {r['clients_cpu_pct']}% (of one core) / {r['machine_busy_pct']}% busy"),
        ("drain after load", f"{r['drain_s']} s"),
        ("errors", f"{r['errors']} (send errors {r['error_frames']}, failed syncs {r['disconnects']}, "
                   f"send retries {r['send_failures']}, server log {r['server_log_errors']}, "
                   f"limited syncs {r['sync_gaps']})"),
    ]
    common.print_rows(f"messaging bench: synapse {r['version']}, sqlite (synchronous={r['sqlite_synchronous']}), "
                      f"{args.clients} clients, {args.rate} msg/s, {args.seconds} s", rows)
    for e in r["error_samples"]:
        print(f"  error sample: {e[:200]}")


def print_comparison(entrepot: dict[str, Any], synapse: dict[str, Any]) -> None:
    keys = ["delivered_per_s", "p50_ms", "p95_ms", "p99_ms", "lost", "duplicated", "server_rss_mb",
            "server_cpu_pct", "machine_busy_pct"]
    print("\nentrepot vs synapse (same users, conversations, rate and seconds):")
    print(f"  {'':<18}{'entrepot':>12}{'synapse':>12}")
    for k in keys:
        print(f"  {k:<18}{entrepot.get(k)!s:>12}{synapse.get(k)!s:>12}")
    e, s = entrepot["delivered_per_s"], synapse["delivered_per_s"]
    ratio = round(e / s, 1) if s else None
    e99, s99 = entrepot["p99_ms"], synapse["p99_ms"]
    p99_ok = e99 is not None and (s99 is None or e99 <= s99)
    met = ratio is not None and ratio >= 10 and p99_ok
    kept_up = synapse["delivered"] >= 0.95 * synapse["expected_deliveries"]
    print(f"  throughput ratio {ratio}x; target >= 10x at equal or better p99: {'MET' if met else 'NOT MET'}"
          + (" (Synapse delivered what was offered: raise --rate to find its ceiling)" if kept_up else ""))
    busy = max(entrepot.get("machine_busy_pct") or 0, synapse.get("machine_busy_pct") or 0)
    if busy >= 90:
        print(f"  the machine was {busy}% busy during a load: other work competed with both servers; "
              "check `uptime` and re-run on a quiet machine before trusting the ratio")
