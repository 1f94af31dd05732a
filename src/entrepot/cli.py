"""The `entrepot` command: serve, worker, demo, admin, audit, db, backup, restore, blobs."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from entrepot.core.config import Settings, load_settings
from entrepot.core.errors import EntrepotError
from entrepot.db import Database


class Env:
    """Settings and database for one command run, made once from the global options."""

    def __init__(self, **overrides: Any) -> None:
        self.overrides = overrides
        self._settings: Settings | None = None
        self._db: Database | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(**self.overrides)
            except (ValueError, FileNotFoundError) as exc:
                raise click.ClickException(f"invalid settings: {exc}") from exc
        return self._settings

    @property
    def db(self) -> Database:
        if self._db is None:
            from entrepot.jobs import open_database

            self._db = open_database(self.settings)
        return self._db

    def migrate(self) -> None:
        from entrepot.db.migrate import upgrade

        upgrade(self.db.engine)


pass_env = click.make_pass_decorator(Env)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML settings file (also ENTREPOT_CONFIG_FILE).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Data folder (also ENTREPOT_DATA_DIR; default ./entrepot-data).")
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
@click.version_option(package_name="entrepot")
@click.pass_context
def main(ctx: click.Context, config_file: Path | None, data_dir: Path | None, verbose: bool) -> None:
    """Entrepot: trade-document library, classified holdings and trade messenger."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    ctx.obj = Env(config_file=config_file, data_dir=data_dir)


def _serving_limits() -> None:
    """One open file per WebSocket: raise the soft limit to the hard one (5,000 clients need ~5,100).
    A shorter GIL switch interval keeps the event loop responsive while the messenger's writer
    thread works: at the default 5 ms every socket operation of the loop could wait that long."""
    import contextlib
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else hard
    if soft < want:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    sys.setswitchinterval(0.001)


def _serve(env: Env, host: str | None, port: int | None) -> None:
    import uvicorn

    from entrepot.web.app import create_app

    settings = env.settings
    app = create_app(settings, env.db)
    app.state.serving = True  # a long-lived server process: see web.collector
    _serving_limits()
    # No protocol-level pings: the messenger's connections send their own heartbeat and close links
    # idle for 70 s; uvicorn's 20 s pong deadline dropped thousands of healthy clients whenever the
    # server was busy, and every reconnect replays from the event log, adding to the load.
    uvicorn.run(app, host=host or settings.host, port=port or settings.port, proxy_headers=True,
                forwarded_allow_ips="127.0.0.1", log_level="info", ws_ping_interval=None)


@main.command()
@click.option("--host", help="Address to listen on (default from settings: 127.0.0.1).")
@click.option("--port", type=int, help="Port (default from settings: 8000).")
@click.option("--no-migrate", is_flag=True, help="Do not upgrade the database schema first.")
@pass_env
def serve(env: Env, host: str | None, port: int | None, no_migrate: bool) -> None:
    """Serve the web application and the API."""
    if not no_migrate:
        env.migrate()
    _serve(env, host, port)


@main.command()
@click.option("--once", is_flag=True, help="Run the jobs that are due, then exit.")
@click.option("--processes", type=int, help="Worker processes (default: one per CPU core).")
@pass_env
def worker(env: Env, once: bool, processes: int | None) -> None:
    """Run background jobs (ingest, OCR, housekeeping) from the queue."""
    from entrepot.workers.loop import Worker, run_processes

    env.migrate()
    if once:
        click.echo(f"{Worker(env.db, env.settings).run_until_idle()} job(s) run")
        return
    settings = env.settings.model_copy(update={"worker_processes": processes}) if processes else env.settings
    run_processes(settings)


@main.command()
@click.option("--no-serve", is_flag=True, help="Only seed the demo content.")
@click.option("--host", help="Address to listen on.")
@click.option("--port", type=int, help="Port.")
@pass_env
def demo(env: Env, no_serve: bool, host: str | None, port: int | None) -> None:
    """Seed demo enterprises and users of every role, then serve."""
    from entrepot.demo import DEMO_PASSWORD, seed
    from entrepot.workers.loop import Worker

    env.migrate()
    users, created = seed(env.db, env.settings)
    click.echo(("Seeded" if created else "Demo content already present in") + f" {env.settings.data_dir}")
    click.echo(f"Processed {Worker(env.db, env.settings).run_until_idle()} ingest job(s)")
    click.echo(f"\nDemo logins (password for all: {DEMO_PASSWORD}); each enrols an entry card (TOTP) at first sign-in:")
    for u in users:
        state = "" if u.active else "  [pending approval]"
        click.echo(f"  {u.username:<11} {', '.join(r.value for r in u.roles):<20} {u.clearance.name:<13} "
                   f"{u.enterprise}{state}")
    if not no_serve:
        import multiprocessing

        from entrepot.workers.loop import run_processes

        settings = env.settings
        # A worker beside the server, so uploads made in the demo are processed too.
        worker_proc = multiprocessing.get_context("spawn").Process(target=run_processes, args=(settings,),
                                                                    daemon=False, name="entrepot-worker")
        worker_proc.start()
        click.echo(f"\nServing on http://{host or settings.host}:{port or settings.port}\n")
        try:
            _serve(env, host, port)
        finally:
            worker_proc.terminate()
            worker_proc.join(10)


@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--category", default="trade_news", show_default=True, help="Category of the new documents.")
@click.option("--level", default="OPEN", show_default=True, help="Classification of the new documents.")
@click.option("--collection", "collection_id", type=int, help="Collection id.")
@click.option("--process", is_flag=True, help="Also run the ingest here until the queue is empty.")
@pass_env
def import_cmd(env: Env, paths: tuple[Path, ...], category: str, level: str, collection_id: int | None,
               process: bool) -> None:
    """Import files and folders (recursive); files already held are skipped, so it can be re-run."""
    from rich.progress import Progress

    from entrepot.imports import import_paths, walk

    env.migrate()
    files = list(walk(list(paths)))
    with Progress() as bar:
        task = bar.add_task("storing", total=len(files))
        summary = import_paths(env.db, env.settings, files, category=category, level=level,
                               collection_id=collection_id, advance=lambda: bar.advance(task))
    click.echo(f"done {summary.done}, skipped {summary.skipped} (already held), failed {len(summary.failed)}")
    for path, reason in summary.failed:
        click.echo(f"  failed: {path}: {reason}", err=True)
    if process:
        from entrepot.workers.loop import Worker

        click.echo(f"processed {Worker(env.db, env.settings).run_until_idle()} job(s)")
    if summary.failed:
        sys.exit(1)


@main.group()
def admin() -> None:
    """Administration from the shell: enterprises, users, approvals."""


@admin.command("create-enterprise")
@click.argument("name")
@click.option("--country", help="ISO 3166 alpha-2 code.")
@click.option("--operator", is_flag=True, help="The operating centre (home of administrators and approvers).")
@pass_env
def create_enterprise(env: Env, name: str, country: str | None, operator: bool) -> None:
    """Create an enterprise."""
    from entrepot.actions import accounts

    env.migrate()
    with _errors(), env.db.write() as s:
        ent = accounts.create_enterprise(s, None, name, country, is_operator=operator)
        click.echo(f"enterprise {ent.id}: {ent.name}")


@admin.command("create-user")
@click.option("--enterprise", "enterprise_name", required=True, help="Enterprise name.")
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True, help="Full name.")
@click.option("--role", "roles", multiple=True, default=["trader"], show_default=True,
              help="Role (repeat for several).")
@click.option("--clearance", default="OPEN", show_default=True)
@click.option("--kind", default="staff", show_default=True, type=click.Choice(["staff", "counterpart"]))
@click.option("--password-file", type=click.File("r"), help="Read the password from this file (else prompt).")
@click.option("--bootstrap", is_flag=True,
              help="Activate at once without approvals (for the first administrators and approvers; audited).")
@pass_env
def create_user(env: Env, enterprise_name: str, username: str, display_name: str, roles: tuple[str, ...],
                clearance: str, kind: str, password_file: Any, bootstrap: bool) -> None:
    """Create a user: pending approval, unless --bootstrap."""
    from sqlalchemy import select

    from entrepot.actions import accounts
    from entrepot.db.tables import Enterprise

    password = password_file.read().rstrip("\n") if password_file else click.prompt(
        "Password", hide_input=True, confirmation_prompt=True)
    env.migrate()
    with _errors(), env.db.write() as s:
        ent = s.execute(select(Enterprise).where(Enterprise.name == enterprise_name)).scalar_one_or_none()
        if ent is None:
            raise click.ClickException(f"no enterprise named {enterprise_name!r}")
        user = accounts.create_user(s, env.settings, None, enterprise_id=ent.id, username=username,
                                    display_name=display_name, password=password, kind=kind, roles=roles,
                                    clearance=clearance, bootstrap=bootstrap)
        click.echo(f"user {user.id}: {user.username} ({user.status})")


@admin.command("pending")
@pass_env
def pending(env: Env) -> None:
    """List requests waiting for approval."""
    from sqlalchemy import select

    from entrepot.core.types import Level, RequestStatus
    from entrepot.db.tables import ApprovalRequest

    env.migrate()
    with env.db.read() as s:
        rows = s.execute(select(ApprovalRequest).where(ApprovalRequest.status == RequestStatus.PENDING)
                         .order_by(ApprovalRequest.id)).unique().scalars().all()
        if not rows:
            click.echo("nothing pending")
        for r in rows:
            done = ", ".join(f"{d.authority}:{d.approver.username}" for d in r.decisions) or "no decisions yet"
            subject = r.subject.username if r.subject else f"document {r.document_id}"
            click.echo(f"#{r.id} {r.kind:<10} {subject:<16} {Level(r.clearance).name:<13} {done}")


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@pass_env
def audit_verify(env: Env) -> None:
    """Check every hash chain; exit 1 at the first broken record."""
    from entrepot.audit import verify_all

    with env.db.read() as s:
        reports = verify_all(s)
    broken = [r for r in reports if not r.ok]
    for r in reports:
        if r.ok:
            click.echo(f"chain {r.chain}: intact ({r.checked} records)")
        else:
            click.echo(f"chain {r.chain}: BROKEN at record {r.broken_seq} (id {r.broken_id}): {r.reason}; "
                       f"{r.checked} records before it are intact", err=True)
    if not reports:
        click.echo("no audit records yet")
    sys.exit(1 if broken else 0)


@main.group()
def search() -> None:
    """The search index."""


@search.command("reindex")
@pass_env
def search_reindex(env: Env) -> None:
    """Rebuild the search indexes: documents' current versions, messages and the compliance archive."""
    from rich.progress import Progress

    from entrepot.search.reindex import reindex

    env.migrate()
    with Progress() as bar:
        task = bar.add_task("indexing pages", total=None)
        done = reindex(env.db, lambda n, total: bar.update(task, completed=n, total=total))
    click.echo(f"indexed {done} page(s)")
    from entrepot.search import messages as message_search

    messages, records = message_search.reindex(env.db)
    click.echo(f"indexed {messages} message(s) and {records} archive record(s)")


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_env
def db_upgrade(env: Env) -> None:
    """Upgrade the schema to the newest revision."""
    from entrepot.db.migrate import current_revision

    env.migrate()
    click.echo(f"database at revision {current_revision(env.db.engine)}")


def _progress_report(bar: Any) -> Any:
    """A backup/restore progress callback drawing one rich task per phase."""
    tasks: dict[str, Any] = {}
    labels = {"database": "database", "blobs": "blob files", "verify": "checking hashes"}

    def report(phase: str, done: int, total: int | None) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(labels.get(phase, phase), total=total)
        bar.update(tasks[phase], completed=done, total=total)

    return report


@main.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@pass_env
def backup(env: Env, dest: Path) -> None:
    """Copy the database and the blobs into the new folder DEST, with a manifest of sha256 hashes.
    Safe while the service runs: the database copy is one consistent snapshot."""
    from rich.progress import Progress

    from entrepot.backup import BackupError, create_backup

    try:
        with Progress() as bar:
            summary = create_backup(env.settings, dest, _progress_report(bar))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backup of the {summary.backend} database ({summary.note}) and {summary.blobs} blob(s) in {dest}")
    if summary.missing:
        click.echo(f"WARNING: the database names {len(summary.missing)} blob(s) the data folder does not have, "
                   f"e.g. {summary.missing[0]}", err=True)
        sys.exit(1)


@main.command()
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a target that already holds data.")
@pass_env
def restore(env: Env, src: Path, force: bool) -> None:
    """Rebuild the data folder (and the PostgreSQL database, if configured) from the backup in SRC.
    Stop the service first. Refuses a backup that does not match its manifest."""
    from rich.progress import Progress

    from entrepot.backup import BackupError, restore_backup

    try:
        with Progress() as bar:
            summary = restore_backup(env.settings, src, force=force, report=_progress_report(bar))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"restored the {summary.backend} database and {summary.blobs} blob(s) from {src}")
    if summary.leftover:
        click.echo(f"{summary.leftover} blob(s) already here are not in the backup: `entrepot blobs gc` lists them")


@main.group()
def blobs() -> None:
    """The blob folder."""


@blobs.command("gc")
@click.option("--delete", is_flag=True, help="Remove the orphans (default: only list them).")
@click.option("--grace-hours", type=float, default=24.0, show_default=True,
              help="Spare files written more recently than this (uploads and ingests in flight).")
@pass_env
def blobs_gc(env: Env, delete: bool, grace_hours: float) -> None:
    """Find blobs no table references (left by crashes or failed uploads); dry run unless --delete."""
    from entrepot.blobs import BlobStore
    from entrepot.blobs.gc import find_orphans, remove_orphans
    from entrepot.blobs.store import human_size

    if grace_hours < 0:
        raise click.BadParameter("must not be negative", param_hint="--grace-hours")
    store, grace_s = BlobStore(env.settings.blob_dir), grace_hours * 3600
    with env.db.read() as s:
        orphans = find_orphans(store, s, grace_s)
    for digest in orphans.digests:
        click.echo(f"orphan {digest}")
    for path in orphans.temp_files:
        click.echo(f"stale temporary file {path.name}")
    count = len(orphans.digests) + len(orphans.temp_files)
    click.echo(f"{count} orphan file(s), {human_size(orphans.bytes)}, older than {grace_hours:g} h")
    if orphans.missing:
        click.echo(f"WARNING: {len(orphans.missing)} blob(s) named by the database are missing, "
                   f"e.g. {orphans.missing[0]}", err=True)
    if delete:
        click.echo(f"removed {remove_orphans(store, orphans, grace_s)} file(s)")
    elif count:
        click.echo("dry run: nothing removed (pass --delete to remove them)")


class _errors:
    """Turn the service's errors into a clean CLI failure (exit 1) with the message."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if isinstance(exc, EntrepotError):
            params = exc.params or {}
            raise click.ClickException(exc.message % params if params else exc.message)
