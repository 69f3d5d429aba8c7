"""Least privilege on PostgreSQL: one role per site, and what each may do, declared as data.

DESIGN decision 9. The owner (whoever runs `portal db upgrade`) owns every table and function
and keeps running the migrations. Three login roles connect the sites:

- `<prefix>_submit`, the internet-facing submission site: it may add reports, their contents
  and files, and reach an existing conversation only through the follow-up functions of
  migration 0007, keyed by the codename's lookup token. It reads no table but
  `alembic_version`, and updates or deletes nothing.
- `<prefix>_review`, the review site: reads and writes every table, but may only add to the
  audit log, never change or remove an entry.
- `<prefix>_audit`, auditors' read-only checks: reads every table but the review sessions.

Privileges are granted table by table over the tables the schema holds now, each role's
declared tables first and its default for the rest. Applying revokes everything each role has
and grants exactly what is declared, in one transaction, so applying again converges on the
same grants, and a table a later migration adds is covered as soon as grants are applied again
(`portal db upgrade` does so). The submission role's default is nothing; a test requires every
table to be declared for it, so a new table is a decision, never a silent grant.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

SITES = ("submit", "review", "audit")
"""The roles' suffixes: `<prefix>_submit` and so on."""
DEFAULT_PREFIX = "portal"

FOLLOW_UP_FUNCTIONS = (
    "portal_followup_open(bytea)",
    "portal_followup_thread(bytea)",
    "portal_followup_add_message(bytea, uuid, integer, date, bytea)",
    "portal_followup_end(bytea)",
)
"""The submission role's only way into an existing conversation (migration 0007)."""
POSITION_LOCK_KEY = "portal_position_lock_key(text, uuid)"

READ = ("SELECT",)
APPEND = ("SELECT", "INSERT")
READ_WRITE = ("SELECT", "INSERT", "UPDATE", "DELETE")
NOTHING: tuple[str, ...] = ()

_PREFIX = re.compile(r"[a-z_][a-z0-9_]{0,40}")
# The role attributes each role must have (pg_roles column: value); any other is taken away.
_ATTRIBUTES = {
    "rolcanlogin": (True, "LOGIN", "NOLOGIN"),
    "rolinherit": (False, "INHERIT", "NOINHERIT"),
    "rolsuper": (False, "SUPERUSER", "NOSUPERUSER"),
    "rolcreatedb": (False, "CREATEDB", "NOCREATEDB"),
    "rolcreaterole": (False, "CREATEROLE", "NOCREATEROLE"),
    "rolreplication": (False, "REPLICATION", "NOREPLICATION"),
    "rolbypassrls": (False, "BYPASSRLS", "NOBYPASSRLS"),
}


class RolesError(Exception):
    """Roles cannot be applied here (not PostgreSQL, a bad prefix, a role missing)."""


@dataclass(frozen=True)
class Privileges:
    """What one role may do in the portal's schema."""

    tables: Mapping[str, tuple[str, ...]]
    """Table name -> privileges, for the tables this role treats apart from its default."""
    default: tuple[str, ...]
    """Privileges on every other table of the schema."""
    functions: tuple[str, ...] = ()
    """Function signatures it may EXECUTE (the rest it may not, unless PUBLIC may)."""
    sequences: tuple[str, ...] = ()
    """Privileges on every sequence of the schema."""

    def on_table(self, table: str) -> tuple[str, ...]:
        return self.tables.get(table, self.default)


PRIVILEGES: Mapping[str, Privileges] = {
    "submit": Privileges(
        tables={
            "reports": ("INSERT",),
            "report_contents": ("INSERT",),
            "attachments": ("INSERT",),
            "attachment_chunks": ("INSERT",),
            # The site checks the schema's revision before it serves.
            "alembic_version": READ,
            "messages": NOTHING,  # through portal_followup_add_message only
            "report_links": NOTHING,
            "notes": NOTHING,
            "reviewers": NOTHING,
            "review_sessions": NOTHING,
            "key_epochs": NOTHING,
            "epoch_grants": NOTHING,
            "audit_log": NOTHING,
        },
        default=NOTHING,
        functions=FOLLOW_UP_FUNCTIONS,
    ),
    "review": Privileges(
        tables={"audit_log": APPEND, "alembic_version": READ},
        default=READ_WRITE,
        functions=(POSITION_LOCK_KEY,),
        # audit_log.sequence draws from a sequence.
        sequences=("USAGE",),
    ),
    "audit": Privileges(tables={"review_sessions": NOTHING}, default=READ),
}


@dataclass
class Applied:
    """What applying did: roles created, and the connection URL of each role whose password
    was generated here (shown once: it is stored nowhere)."""

    created: list[str] = field(default_factory=list)
    generated_urls: dict[str, str] = field(default_factory=dict)


def role_name(prefix: str, site: str) -> str:
    if not _PREFIX.fullmatch(prefix):
        raise RolesError(
            f"role prefix {prefix!r}: lower-case letters, digits and _, not starting with a digit"
        )
    return f"{prefix}_{site}"


def apply_roles(
    connection: Connection,
    database_url: str,
    *,
    prefix: str = DEFAULT_PREFIX,
    passwords: Mapping[str, str] | None = None,
) -> Applied:
    """Create or correct the three roles and apply their privileges, in the caller's transaction.

    `passwords` (site -> password) sets a role's password; a role created without one gets a
    random password, returned as a URL (`database_url` with the role's name and password). An
    existing role keeps its password unless one is given. Run it as the schema's owner.
    """
    _require_postgresql(connection)
    passwords = passwords or {}
    applied = Applied()
    for site in SITES:
        name = role_name(prefix, site)
        password = passwords.get(site)
        if _role_attributes(connection, name) is None:
            password = password or secrets.token_urlsafe(32)
            connection.exec_driver_sql(f'CREATE ROLE "{name}" LOGIN NOINHERIT')
            applied.created.append(name)
            if site not in passwords:
                applied.generated_urls[name] = (
                    make_url(database_url)
                    .set(username=name, password=password)
                    .render_as_string(hide_password=False)
                )
        _correct_attributes(connection, name)
        _revoke_memberships(connection, name)
        if password is not None:
            _set_password(connection, name, password)
    grant_privileges(connection, prefix=prefix)
    return applied


def roles_exist(connection: Connection, prefix: str = DEFAULT_PREFIX) -> bool:
    """Whether all three roles exist (on PostgreSQL), so that grants can be applied again."""
    if connection.dialect.name != "postgresql":
        return False
    return all(_role_attributes(connection, role_name(prefix, site)) is not None for site in SITES)


def grant_privileges(connection: Connection, *, prefix: str = DEFAULT_PREFIX) -> None:
    """Revoke everything the three roles hold on the database and its schema, then grant
    exactly what `PRIVILEGES` declares, over the tables, sequences and functions there now."""
    _require_postgresql(connection)
    database = connection.execute(text("SELECT quote_ident(current_database())")).scalar_one()
    schema = connection.execute(text("SELECT quote_ident(current_schema())")).scalar_one()
    tables = connection.execute(
        text(
            "SELECT tablename, quote_ident(tablename) FROM pg_tables"
            " WHERE schemaname = current_schema() ORDER BY tablename"
        )
    ).all()
    functions = _existing_functions(connection)
    # PostgreSQL 15 already refuses PUBLIC the right to create objects in the public schema;
    # older servers allow it, and then any role could plant a table or function there.
    _run(connection, f"REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC")
    for site in SITES:
        name = f'"{role_name(prefix, site)}"'
        privileges = PRIVILEGES[site]
        _run(connection, f"REVOKE ALL ON DATABASE {database} FROM {name}")
        _run(connection, f"GRANT CONNECT ON DATABASE {database} TO {name}")
        _run(connection, f"REVOKE ALL ON SCHEMA {schema} FROM {name}")
        _run(connection, f"GRANT USAGE ON SCHEMA {schema} TO {name}")
        for table, quoted in tables:
            _run(connection, f"REVOKE ALL ON TABLE {schema}.{quoted} FROM {name}")
            if granted := privileges.on_table(table):
                _run(connection, f"GRANT {', '.join(granted)} ON TABLE {schema}.{quoted} TO {name}")
        _run(connection, f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {name}")
        if privileges.sequences:
            usage = ", ".join(privileges.sequences)
            _run(connection, f"GRANT {usage} ON ALL SEQUENCES IN SCHEMA {schema} TO {name}")
        _run(connection, f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {schema} FROM {name}")
        for signature in privileges.functions:
            if signature in functions:
                _run(connection, f"GRANT EXECUTE ON FUNCTION {schema}.{signature} TO {name}")


def _existing_functions(connection: Connection) -> set[str]:
    """The declared functions that exist in the schema (a database at an older revision
    lacks some), by their signatures as declared."""
    declared = {
        signature for privileges in PRIVILEGES.values() for signature in privileges.functions
    }
    found = set()
    for signature in declared:
        exists = connection.execute(
            text("SELECT to_regprocedure(:signature) IS NOT NULL"), {"signature": signature}
        ).scalar_one()
        if exists:
            found.add(signature)
    return found


def _require_postgresql(connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        raise RolesError("database roles need PostgreSQL; SQLite has no roles")


def _role_attributes(connection: Connection, name: str) -> Mapping[str, Any] | None:
    row = (
        connection.execute(
            # The columns are this module's constants; the name is a bound parameter.
            text(f"SELECT {', '.join(_ATTRIBUTES)} FROM pg_roles WHERE rolname = :name"),  # noqa: S608
            {"name": name},
        )
        .mappings()
        .one_or_none()
    )
    return None if row is None else dict(row)


def _correct_attributes(connection: Connection, name: str) -> None:
    """Take away any attribute but LOGIN and NOINHERIT. Only what differs is named: changing
    even a role's NOSUPERUSER is refused to an owner that is not a superuser."""
    current = _role_attributes(connection, name)
    if current is None:
        raise RolesError(f"role {name} does not exist")
    options = [
        granted if wanted else refused
        for column, (wanted, granted, refused) in _ATTRIBUTES.items()
        if current[column] != wanted
    ]
    if options:
        _run(connection, f'ALTER ROLE "{name}" {" ".join(options)}')


def _revoke_memberships(connection: Connection, name: str) -> None:
    """A role that is a member of another could SET ROLE to it: no role of the portal is."""
    granted = connection.execute(
        text(
            "SELECT quote_ident(r.rolname) FROM pg_auth_members m"
            " JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member"
            " WHERE u.rolname = :name"
        ),
        {"name": name},
    ).scalars()
    for role in granted.all():
        _run(connection, f'REVOKE {role} FROM "{name}"')


def _set_password(connection: Connection, name: str, password: str) -> None:
    """Set the role's password, sent as a SCRAM verifier made here: the password itself never
    reaches the server, so no statement log can show it."""
    raw = cast(Any, connection.connection.dbapi_connection)
    verifier = raw.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256")
    _run(connection, f"ALTER ROLE \"{name}\" PASSWORD '{_verifier(verifier)}'")


def _verifier(raw: bytes) -> str:
    verifier = raw.decode("ascii")
    if not re.fullmatch(r"SCRAM-SHA-256\$[A-Za-z0-9+/=:$]+", verifier):
        raise RolesError("the password verifier has an unexpected form")
    return verifier


def _run(connection: Connection, statement: str) -> None:
    connection.exec_driver_sql(statement)


def role_names(prefix: str = DEFAULT_PREFIX) -> list[str]:
    return [role_name(prefix, site) for site in SITES]
