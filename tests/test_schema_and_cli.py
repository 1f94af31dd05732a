"""Migrations match the tables; every command has --help; the demo seeds every role."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import select

from entrepot.cli import main
from entrepot.core.config import Settings
from entrepot.core.types import Role
from entrepot.db import Base, Database
from entrepot.db.base import include_in_autogenerate
from entrepot.db.migrate import alembic_config, current_revision, head_revision
from entrepot.db.tables import User


def test_one_head_and_migrations_match_the_models(db: Database) -> None:
    assert len(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()) == 1
    assert current_revision(db.engine) == head_revision()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_in_autogenerate})
        assert compare_metadata(context, Base.metadata) == []


COMMANDS = [[], ["serve"], ["worker"], ["demo"], ["admin"], ["admin", "create-enterprise"],
            ["admin", "create-user"], ["admin", "pending"], ["audit"], ["audit", "verify"], ["db"], ["db", "upgrade"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "entrepot")
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def _run(settings: Settings, *args: str, input: str | None = None) -> object:
    return CliRunner().invoke(main, ["--data-dir", str(settings.data_dir), *args], input=input,
                              env={"ENTREPOT_DATABASE_URL": settings.db_url})


def test_demo_seeds_every_role_once(settings: Settings, db: Database) -> None:
    first = _run(settings, "demo", "--no-serve")
    assert first.exit_code == 0, first.output  # type: ignore[attr-defined]
    assert "Demo logins" in first.output and "[pending approval]" in first.output  # type: ignore[attr-defined]
    again = _run(settings, "demo", "--no-serve")
    assert again.exit_code == 0 and "already present" in again.output  # type: ignore[attr-defined]
    with db.read() as s:
        users = s.execute(select(User)).unique().scalars().all()
        roles = {r for u in users for r in u.roles}
    assert roles == {r.value for r in Role}
    pending = _run(settings, "admin", "pending")
    assert "applicant" in pending.output and "trader2" in pending.output  # type: ignore[attr-defined]
    assert _run(settings, "audit", "verify").exit_code == 0  # type: ignore[attr-defined]


def test_admin_commands_fail_cleanly(settings: Settings, db: Database, tmp_path: Path) -> None:
    ok = _run(settings, "admin", "create-enterprise", "Kumsong Trading", "--country", "KR")
    assert ok.exit_code == 0, ok.output  # type: ignore[attr-defined]
    dup = _run(settings, "admin", "create-enterprise", "kumsong trading")
    assert dup.exit_code == 1 and "already exists" in dup.output  # type: ignore[attr-defined]
    pw = tmp_path / "pw"
    pw.write_text("weak\n")
    weak = _run(settings, "admin", "create-user", "--enterprise", "Kumsong Trading", "--username", "newuser",
                "--name", "N", "--password-file", str(pw))
    assert weak.exit_code == 1 and "at least 12 characters" in weak.output  # type: ignore[attr-defined]
    pw.write_text("a much better passphrase\n")
    made = _run(settings, "admin", "create-user", "--enterprise", "Kumsong Trading", "--username", "newuser",
                "--name", "N", "--password-file", str(pw), "--role", "trader")
    assert made.exit_code == 0 and "(pending)" in made.output  # type: ignore[attr-defined]
    missing = _run(settings, "admin", "create-user", "--enterprise", "Nowhere", "--username", "x1x",
                   "--name", "N", "--password-file", str(pw))
    assert missing.exit_code == 1 and "no enterprise" in missing.output  # type: ignore[attr-defined]
