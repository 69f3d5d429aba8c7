"""`portal db roles` and `portal db upgrade` giving the sites' roles their grants."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from portal.cli import main
from portal.database_roles import role_names

POSTGRES_ONLY = pytest.mark.parametrize(
    "database_kind", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
SQLITE_ONLY = pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)


@pytest.fixture
def prefix(engine: Engine) -> Iterator[str]:
    """A prefix no role has yet; its roles are dropped afterwards (roles outlive databases)."""
    prefix = f"portal_cli_{secrets.token_hex(4)}"
    yield prefix
    names = ", ".join(role_names(prefix))
    with engine.begin() as connection:
        exists = connection.scalar(
            text("SELECT count(*) FROM pg_roles WHERE rolname LIKE :like"), {"like": f"{prefix}%"}
        )
        if exists:
            connection.execute(text(f"DROP OWNED BY {names}"))
            connection.execute(text(f"DROP ROLE {names}"))


@SQLITE_ONLY
def test_roles_on_sqlite_say_why_in_one_line(env: dict[str, str]) -> None:
    result = CliRunner(env=env).invoke(main, ["db", "roles"])

    assert result.exit_code == 1
    assert result.output == "Error: database roles need PostgreSQL; SQLite has no roles\n"


@POSTGRES_ONLY
def test_roles_are_created_once_with_a_password_shown_once(
    env: dict[str, str], prefix: str, engine: Engine
) -> None:
    runner = CliRunner(env={**env, "PORTAL_DB_AUDIT_PASSWORD": "auditors-own"})

    first = runner.invoke(main, ["db", "roles", "--prefix", prefix])
    second = CliRunner(env=env).invoke(main, ["db", "roles", "--prefix", prefix])

    assert first.exit_code == 0, first.output
    submit, review, audit = role_names(prefix)
    for name in (submit, review, audit):
        assert f"{name}: created, grants applied" in first.output
    urls = [line.rsplit(" ", 1)[1] for line in first.output.splitlines() if "shown once" in line]
    # A URL for each role whose password was generated, and none for the one given
    assert sorted(make_url(url).username for url in urls) == [review, submit]
    for url in urls:
        assert make_url(url).database == make_url(env["PORTAL_DATABASE_URL"]).database
        assert len(make_url(url).password or "") >= 40
    assert second.exit_code == 0, second.output
    assert f"{submit}: exists, grants applied" in second.output
    assert "shown once" not in second.output
    with engine.connect() as connection:
        granted = connection.scalars(
            text(
                "SELECT privilege_type FROM information_schema.role_table_grants"
                " WHERE grantee = :role AND table_name = 'reports'"
            ),
            {"role": submit},
        ).all()
    assert granted == ["INSERT"]


@POSTGRES_ONLY
def test_upgrade_applies_the_grants_again_when_the_roles_exist(
    env: dict[str, str], prefix: str, engine: Engine
) -> None:
    runner = CliRunner(env=env)
    without_roles = runner.invoke(main, ["db", "upgrade", "--prefix", prefix])
    runner.invoke(main, ["db", "roles", "--prefix", prefix])
    submit = role_names(prefix)[0]
    with engine.begin() as connection:
        connection.execute(text(f"REVOKE ALL ON reports FROM {submit}"))

    with_roles = runner.invoke(main, ["db", "upgrade", "--prefix", prefix])

    assert "Grants applied again" not in without_roles.output
    assert with_roles.exit_code == 0, with_roles.output
    assert f"Grants applied again to the roles {prefix}_submit" in with_roles.output
    with engine.connect() as connection:
        assert connection.scalar(
            text("SELECT has_table_privilege(:role, 'reports', 'INSERT')"), {"role": submit}
        )
