"""PostgreSQL: pg_dump and pg_restore (from Debian's postgresql-client), checked against the server.

pg_dump refuses a server newer than itself, and an older pg_restore may not read a newer dump, so both
tools must be of the server's major version or newer. The password travels in the environment
(PGPASSWORD), never on a command line other users can read with ps.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url

from entrepot.backup.manifest import BackupError

TOOL_TIMEOUT_S = 6 * 3600
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} was not found: install Debian's postgresql-client (of the server's major "
                          "version or newer), e.g. apt-get install postgresql-client")
    return path


def tool_version(path: str) -> tuple[int, int]:
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True, timeout=30).stdout
    match = _VERSION.search(out)
    if not match:
        raise BackupError(f"cannot read the version of {path}: {out.strip()!r}")
    return int(match.group(1)), int(match.group(2) or 0)


def server_version(conn: Connection) -> tuple[int, int]:
    num = int(conn.exec_driver_sql("SHOW server_version_num").scalar_one())
    return num // 10000, num % 10000


def checked_tool(name: str, conn: Connection) -> tuple[str, str]:
    """The tool's path and a 'client/server' version note; refuses a tool older than the server."""
    path = tool(name)
    client, server = tool_version(path), server_version(conn)
    if client[0] < server[0]:
        raise BackupError(f"{name} is version {client[0]} but the server is {server[0]}: install "
                          f"postgresql-client-{server[0]} (or newer)")
    return path, f"{name} {client[0]}.{client[1]} / server {server[0]}.{server[1]}"


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment that carries it."""
    u = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return u.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=TOOL_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-2000:]}")


def dump(conn: Connection, url: str, dst: Path) -> str:
    """Dump the database as seen by `conn`'s open REPEATABLE READ transaction (its exported snapshot),
    so whatever else the caller reads in that transaction matches the dump exactly."""
    path, note = checked_tool("pg_dump", conn)
    snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
    dsn, env = _libpq(url)
    _run([path, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
          f"--file={dst}", f"--dbname={dsn}"], env)
    return note


def is_empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").scalar_one() == 0


def restore(engine: Engine, url: str, src: Path, wipe: bool) -> str:
    """Load the dump into the (empty, or wiped when `wipe`) database, all or nothing."""
    with engine.connect() as conn:
        path, note = checked_tool("pg_restore", conn)
    if wipe:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()  # the restore runs in its own session; keep no idle connection holding locks
    dsn, env = _libpq(url)
    _run([path, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
          f"--dbname={dsn}", str(src)], env)
    return note
