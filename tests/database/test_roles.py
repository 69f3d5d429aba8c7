"""Least privilege on PostgreSQL (DESIGN decision 9): what each site's role may and may not do.

Every refusal below is PostgreSQL's own (a privilege error, or the follow-up function's own
raise), asked of the roles the test template carries (`portal_test_*`, see tests/conftest.py):
nothing in the portal's code stands between the statement and the database.
"""

from __future__ import annotations

import datetime
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import Connection, Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from portal import crypto, request_db
from portal.cli import main
from portal.config import Settings
from portal.custody import audit_signing
from portal.custody.host_key import HostKey
from portal.database_roles import PRIVILEGES, SITES, role_name
from portal.models import Attachment, Author, Base, Message, Report, ReportContent, ReportKind
from portal.services import audit as audit_log
from portal.services import integrity, transaction
from portal.services.blobs import BlobStore
from portal.services.codenames import CodenameKeys
from portal.services.followup import add_message
from portal.services.reports import NewReport, store_report
from tests.support import postgres
from tests.support.environment import environment_for
from tests.support.pages import codename_in
from tests.support.submitting import Upload, answers_for, post_form

POSTGRES_ONLY = pytest.mark.parametrize(
    "database_kind", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
TODAY = datetime.date(2026, 12, 1)
DENIED = "42501"  # insufficient_privilege
CLOSED_OR_UNKNOWN = "P0002"  # raised by portal_followup_add_message
WRONG_POSITION = "23514"  # raised by portal_followup_add_message
NO_SUCH_FUNCTION = "42883"  # undefined_function: there is no author to pass
EMPTY = "empty"  # ran, and answered nothing (no row, or only false)
MINIMUM_REFUSALS = 30


def test_every_table_is_declared_for_the_submission_role() -> None:
    """A table nobody thought about gets nothing from the submission role's default, but a new
    table must be a decision: declare it in portal.database_roles.PRIVILEGES["submit"]."""
    tables = {*Base.metadata.tables, "alembic_version"}

    undeclared = tables - set(PRIVILEGES["submit"].tables)

    assert not undeclared, f"declare the submission role's privileges on {sorted(undeclared)}"


@dataclass(frozen=True)
class Refusal:
    what: str
    statement: str
    expected: str = DENIED
    """The SQLSTATE PostgreSQL must answer with, or EMPTY."""


@dataclass(frozen=True)
class Conversation:
    report_id: uuid.UUID
    lookup: bytes
    next_position: int


@pytest.fixture
def owner(engine: Engine) -> Engine:
    """The owner's engine (the test's `engine`: whoever migrated the template)."""
    return engine


@pytest.fixture
def conversation(session: Session, inspectorate_identity: crypto.HybridIdentity) -> Conversation:
    """A stored report with one inspector's reply, stored by the owner."""
    keys = CodenameKeys(lookup=secrets.token_bytes(32), reply_identity=crypto.generate_identity())
    recipients = [inspectorate_identity.recipient()]
    report = store_report(
        session,
        NewReport(kind=ReportKind.OTHER, urgent=False, region=None, answers={"account": "x"}),
        [],
        recipients=recipients,
        codename_keys=keys,
        today=TODAY,
    )
    add_message(
        session, report, author=Author.INSPECTOR, text="hello", recipients=recipients, today=TODAY
    )
    transaction.finish(session)
    return Conversation(report.id, keys.lookup, next_position=2)


@pytest.fixture
def role_engines(role_urls: dict[str, str]) -> Iterator[dict[str, Engine]]:
    engines = {site: create_engine(url) for site, url in role_urls.items()}
    yield engines
    for engine in engines.values():
        engine.dispose()


def _outcome(engine: Engine, statement: str, values: dict[str, Any]) -> str:
    """What PostgreSQL answered: the error's SQLSTATE, EMPTY, or the rows it returned."""
    with engine.connect() as connection:
        try:
            result = connection.execute(text(statement), values)
        except DBAPIError as error:
            return str(getattr(error.orig, "sqlstate", error))
        finally:
            connection.rollback()
        rows = result.all() if result.returns_rows else []
    if all(not any(row) for row in rows):
        return EMPTY
    return f"answered {rows!r}"


def _snapshot(owner: Engine) -> dict[str, Any]:
    """Every row of every content table, as the owner sees it."""
    with owner.connect() as connection:
        return {
            model.__tablename__: sorted(map(repr, connection.execute(select(model.__table__))))
            for model in (Report, ReportContent, Message, Attachment)
        }


def _owner_name(owner: Engine) -> str:
    with owner.connect() as connection:
        return str(connection.scalar(text("SELECT quote_ident(current_user)")))


def _submission_battery(owner_name: str) -> list[Refusal]:
    return [
        # Reviewer accounts, their sessions, the inspectorate's keys: neither read nor written.
        Refusal("read reviewers", "SELECT * FROM reviewers"),
        Refusal("read reviewers' password hashes", "SELECT password_hash FROM reviewers"),
        Refusal("add a reviewer", "INSERT INTO reviewers (id) VALUES (:some_id)"),
        Refusal("change a reviewer", "UPDATE reviewers SET role = 'admin'"),
        Refusal("delete reviewers", "DELETE FROM reviewers"),
        Refusal("read review sessions", "SELECT * FROM review_sessions"),
        Refusal("change review sessions", "UPDATE review_sessions SET enrolling = false"),
        Refusal("delete review sessions", "DELETE FROM review_sessions"),
        Refusal("read epoch grants", "SELECT * FROM epoch_grants"),
        Refusal("add an epoch grant", "INSERT INTO epoch_grants (id) VALUES (:some_id)"),
        Refusal("change epoch grants", "UPDATE epoch_grants SET recipient = 'age1x'"),
        Refusal("delete epoch grants", "DELETE FROM epoch_grants"),
        Refusal("read key epochs", "SELECT * FROM key_epochs"),
        Refusal("add a key epoch", "INSERT INTO key_epochs (number) VALUES (99)"),
        Refusal("change key epochs", "UPDATE key_epochs SET recipient = 'age1attacker'"),
        Refusal("delete key epochs", "DELETE FROM key_epochs"),
        # Inspectors' notes.
        Refusal("read notes", "SELECT * FROM notes"),
        Refusal("add a note", "INSERT INTO notes (id) VALUES (:some_id)"),
        Refusal("change notes", "UPDATE notes SET content = ''"),
        Refusal("delete notes", "DELETE FROM notes"),
        # Triage, and the reply recipient.
        Refusal("change a status", "UPDATE reports SET status = 'closed'"),
        Refusal("change a priority", "UPDATE reports SET priority = 'low'"),
        Refusal("change an assignee", "UPDATE reports SET assignee_id = NULL"),
        Refusal("change labels", "UPDATE reports SET labels = 'ignore'"),
        Refusal("change an outcome", "UPDATE reports SET outcome = 'no_action'"),
        Refusal("swap a reply recipient", "UPDATE reports SET reply_recipient = 'age1attacker'"),
        Refusal("change a lookup", "UPDATE reports SET codename_hash = NULL"),
        Refusal("delete reports", "DELETE FROM reports"),
        Refusal("link reports", "INSERT INTO report_links VALUES (:some_id, :some_id)"),
        # The audit log.
        Refusal("read the audit log", "SELECT * FROM audit_log"),
        Refusal("add an audit entry", "INSERT INTO audit_log (actor) VALUES ('x')"),
        Refusal("rewrite the audit log", "UPDATE audit_log SET actor = 'nobody'"),
        Refusal("delete the audit log", "DELETE FROM audit_log"),
        # What the submission site writes: added, never read back, changed or removed.
        Refusal("read reports", "SELECT * FROM reports"),
        Refusal("find a report by lookup", "SELECT id FROM reports WHERE codename_hash = :lookup"),
        Refusal("read report contents", "SELECT * FROM report_contents"),
        Refusal("change report contents", "UPDATE report_contents SET content = ''"),
        Refusal("delete report contents", "DELETE FROM report_contents"),
        Refusal("read messages", "SELECT * FROM messages"),
        Refusal(
            "add a message directly, as an inspector",
            "INSERT INTO messages (id, report_id, position, author, sent_on, content)"
            " VALUES (:some_id, :report_id, 2, 'inspector', CURRENT_DATE, '')",
        ),
        Refusal("relabel a message's author", "UPDATE messages SET author = 'submitter'"),
        Refusal("move a message", "UPDATE messages SET report_id = :report_id"),
        Refusal("delete messages", "DELETE FROM messages"),
        Refusal("read attachments", "SELECT * FROM attachments"),
        Refusal("move an attachment", "UPDATE attachments SET report_id = :report_id"),
        Refusal("delete attachments", "DELETE FROM attachments"),
        Refusal(
            "read back what it adds (RETURNING)",
            "INSERT INTO reports (id, kind, urgent, received_on, status, priority, labels)"
            " VALUES (:some_id, 'other', false, CURRENT_DATE, 'new', 'normal', '')"
            " RETURNING id",
        ),
        Refusal("change the schema's revision", "UPDATE alembic_version SET version_num = '0'"),
        Refusal("empty reports", "TRUNCATE reports CASCADE"),
        Refusal("empty the audit log", "TRUNCATE audit_log"),
        Refusal("alter a table", "ALTER TABLE reports ADD COLUMN planted text"),
        Refusal("create a table", "CREATE TABLE public.planted (id int)"),
        Refusal(
            "create a function",
            "CREATE FUNCTION public.planted() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        ),
        Refusal("become the owner", f"SET ROLE {owner_name}"),
        Refusal("become the review role", f"SET ROLE {role_name(postgres.ROLE_PREFIX, 'review')}"),
        Refusal("create a role", "CREATE ROLE planted LOGIN"),
        Refusal(
            "take the lock key function", "SELECT portal_position_lock_key('messages', :report_id)"
        ),
        # The follow-up functions, with a lookup token nobody holds.
        Refusal("open with a wrong token", "SELECT * FROM portal_followup_open(:wrong)", EMPTY),
        Refusal("read with a wrong token", "SELECT * FROM portal_followup_thread(:wrong)", EMPTY),
        Refusal(
            "send with a wrong token",
            "SELECT portal_followup_add_message(:wrong, :some_id, 1, CURRENT_DATE, '')",
            CLOSED_OR_UNKNOWN,
        ),
        Refusal("end with a wrong token", "SELECT portal_followup_end(:wrong)", EMPTY),
        # ... and with the right one, out of turn or as someone else.
        Refusal(
            "send at a position already taken",
            "SELECT portal_followup_add_message(:lookup, :some_id, 1, CURRENT_DATE, '')",
            WRONG_POSITION,
        ),
        Refusal(
            "send past the next position",
            "SELECT portal_followup_add_message(:lookup, :some_id, 3, CURRENT_DATE, '')",
            WRONG_POSITION,
        ),
        Refusal(
            "send as an inspector",
            "SELECT portal_followup_add_message("
            ":lookup, :some_id, 2, CURRENT_DATE, '', 'inspector')",
            NO_SUCH_FUNCTION,
        ),
    ]


@POSTGRES_ONLY
def test_the_submission_role_is_refused_everything_but_adding(
    conversation: Conversation, role_engines: dict[str, Engine], owner: Engine
) -> None:
    battery = _submission_battery(_owner_name(owner))
    values = {
        "lookup": conversation.lookup,
        "wrong": secrets.token_bytes(32),
        "report_id": conversation.report_id,
        "some_id": uuid.uuid4(),
    }
    before = _snapshot(owner)

    outcomes = {
        refusal.what: _outcome(role_engines["submit"], refusal.statement, values)
        for refusal in battery
    }

    assert outcomes == {refusal.what: refusal.expected for refusal in battery}
    assert _snapshot(owner) == before
    assert len(battery) >= MINIMUM_REFUSALS
    print(f"\nsubmission role: {len(battery)} statements refused by PostgreSQL")


@POSTGRES_ONLY
def test_the_review_role_cannot_rewrite_or_remove_audit_entries(
    role_engines: dict[str, Engine], owner: Engine
) -> None:
    # Given an audit entry, added by the review role itself
    with Session(role_engines["review"]) as session:
        audit_log.record(session, actor="inspector", action=audit_log.AuditAction.SIGN_IN)
        session.commit()
    battery = [
        Refusal("rewrite audit entries", "UPDATE audit_log SET actor = 'nobody'"),
        Refusal("delete audit entries", "DELETE FROM audit_log"),
        Refusal("empty the audit log", "TRUNCATE audit_log"),
        Refusal("become the owner", f"SET ROLE {_owner_name(owner)}"),
    ]

    outcomes = {r.what: _outcome(role_engines["review"], r.statement, {}) for r in battery}

    assert outcomes == {refusal.what: refusal.expected for refusal in battery}
    with owner.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM audit_log")) == 1


@POSTGRES_ONLY
def test_the_audit_role_reads_everything_but_sessions_and_writes_nothing(
    conversation: Conversation, role_engines: dict[str, Engine], owner: Engine
) -> None:
    with owner.connect() as connection:
        tables = {
            row.tablename: row.column
            for row in connection.execute(
                text(
                    "SELECT t.tablename, (SELECT c.column_name FROM information_schema.columns c"
                    "  WHERE c.table_name = t.tablename AND c.table_schema = t.schemaname"
                    "  ORDER BY c.ordinal_position LIMIT 1) AS column"
                    " FROM pg_tables t WHERE t.schemaname = current_schema()"
                )
            )
        }
    battery = [Refusal("read review sessions", "SELECT * FROM review_sessions")]
    for table, column in sorted(tables.items()):
        battery += [
            Refusal(f"add to {table}", f"INSERT INTO {table} DEFAULT VALUES"),
            Refusal(f"change {table}", f"UPDATE {table} SET {column} = {column}"),  # noqa: S608
            Refusal(f"delete from {table}", f"DELETE FROM {table}"),  # noqa: S608
            Refusal(f"empty {table}", f"TRUNCATE {table} CASCADE"),
        ]
    battery.append(
        Refusal("send a follow-up", "SELECT * FROM portal_followup_open(:lookup)", DENIED)
    )
    before = _snapshot(owner)

    outcomes = {
        r.what: _outcome(role_engines["audit"], r.statement, {"lookup": conversation.lookup})
        for r in battery
    }

    assert outcomes == {refusal.what: refusal.expected for refusal in battery}
    assert _snapshot(owner) == before
    # And every other table it reads
    with role_engines["audit"].connect() as connection:
        for table in set(tables) - {"review_sessions"}:
            connection.execute(text(f"SELECT * FROM {table}")).all()  # noqa: S608


@POSTGRES_ONLY
def test_auditors_read_only_checks_run_as_the_audit_role(
    conversation: Conversation,
    role_engines: dict[str, Engine],
    role_urls: dict[str, str],
    settings: Settings,
    host_key: HostKey,
    tmp_path: Path,
) -> None:
    """The audit chain with its signatures and the ciphertext scan (`portal audit verify`
    without its own record) need nothing the auditor's read-only role lacks."""
    signer = audit_signing.signer(host_key)
    with Session(role_engines["review"], info=audit_log.session_info(signer)) as session:
        audit_log.record(session, actor="inspector", action=audit_log.AuditAction.SIGN_IN)
        session.commit()

    with Session(role_engines["audit"]) as session:
        chain = audit_log.verify_chain(session, public_keys=[signer.public_key])
        stored = integrity.scan_stored_ciphertexts(session, BlobStore(tmp_path / "blobs"))

    assert chain.ok and chain.entries == 1
    assert stored.ok, stored.problems
    # And `portal audit show`, connected as the audit role
    env = {**environment_for(settings), "PORTAL_DATABASE_URL": role_urls["audit"]}
    shown = CliRunner(env=env).invoke(main, ["audit", "show"])
    assert shown.exit_code == 0, shown.output
    assert "inspector  sign_in" in shown.output


def _grants(connection: Connection) -> dict[str, Any]:
    """Every privilege and attribute the three test roles have, in a comparable form."""
    names = [role_name(postgres.ROLE_PREFIX, site) for site in SITES]
    queries = {
        "tables": "SELECT grantee, table_name, privilege_type FROM"
        " information_schema.role_table_grants WHERE grantee = ANY(:names)",
        "functions": "SELECT grantee, routine_name, privilege_type FROM"
        " information_schema.role_routine_grants WHERE grantee = ANY(:names)",
        "sequences": "SELECT relname, relacl::text FROM pg_class WHERE relkind = 'S'",
        "schema": "SELECT nspacl::text FROM pg_namespace WHERE nspname = current_schema()",
        "roles": "SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb,"
        " rolcanlogin, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = ANY(:names)",
        "memberships": "SELECT m.member::regrole::text, m.roleid::regrole::text"
        " FROM pg_auth_members m WHERE m.member::regrole::text = ANY(:names)",
    }
    return {
        key: sorted(map(tuple, connection.execute(text(query), {"names": names})))
        for key, query in queries.items()
    }


@POSTGRES_ONLY
def test_applying_the_roles_again_converges_on_the_same_grants(
    database_url: str, owner: Engine
) -> None:
    # Given the grants as the template has them
    with owner.connect() as connection:
        applied = _grants(connection)
    # And roles given more than they should have
    submit, review = (role_name(postgres.ROLE_PREFIX, site) for site in ("submit", "review"))
    with owner.begin() as connection:
        connection.execute(text(f"GRANT SELECT, UPDATE ON reviewers, audit_log TO {submit}"))
        connection.execute(text(f"GRANT DELETE ON audit_log TO {review}"))
        connection.execute(text(f"GRANT {review} TO {submit}"))
        connection.execute(text(f"ALTER ROLE {submit} INHERIT CREATEDB"))
        assert _grants(connection) != applied

    # When the roles are applied again, twice
    postgres.apply_test_roles(database_url)
    with owner.connect() as connection:
        once = _grants(connection)
    postgres.apply_test_roles(database_url)
    with owner.connect() as connection:
        twice = _grants(connection)

    # Then each time the grants are exactly the declared ones
    assert once == twice == applied
    # And the submission role has exactly what is declared on the tables there are
    with owner.connect() as connection:
        live = set(
            connection.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            )
        )
    granted = {
        (table, privilege) for grantee, table, privilege in applied["tables"] if grantee == submit
    }
    declared = {
        (table, privilege)
        for table, privileges in PRIVILEGES["submit"].tables.items()
        if table in live
        for privilege in privileges
    }
    assert granted == declared


@POSTGRES_ONLY
def test_the_submission_site_works_as_the_submission_role(
    submit_app: Flask, session: Session, inspectorate_identity: crypto.HybridIdentity
) -> None:
    """A report with files, a follow-up with a file, and an end, through the real site."""
    engine = request_db.get_engine(submit_app)
    assert make_url(str(engine.url)).username == role_name(postgres.ROLE_PREFIX, "submit")
    client = submit_app.test_client()

    sent = post_form(
        client,
        "/report/other",
        answers_for("other", "as the submission role"),
        [
            Upload(b"first file", "one.txt", "text/plain"),
            Upload(b"second", "two.txt", "text/plain"),
        ],
    )
    codename = codename_in(sent)
    signed_in = post_form(client, "/follow-up", {"codename": codename})
    followed_up = post_form(
        client,
        "/follow-up/message",
        {"message": "More detail."},
        [Upload(b"rota", "rota.txt", "text/plain")],
    )
    again = post_form(client, "/follow-up", {"codename": codename})
    ended = post_form(client, "/follow-up/end", {})

    assert "Your report" in signed_in.text
    assert "Message sent" in followed_up.text
    assert "More detail." in again.text and "1 file" in again.text
    assert "Follow-up has ended" in ended.text
    report = session.scalars(select(Report)).one()
    assert (report.codename_hash, report.reply_recipient) == (None, None)
    assert session.scalar(select(func.count()).select_from(Attachment)) == 3
    message = session.scalars(select(Message)).one()
    assert (message.author, message.position) == (Author.SUBMITTER, 1)
