"""the audit log: append-only in the database, chain heads signed with a review-host key

Revision ID: 0010
Revises: 0009

`audit_log.head_signature` holds each entry's Ed25519 signature (portal.custody.audit_signing);
entries already in the log stay unsigned, and the first entry the review host appends signs
the chain up to it.

Triggers refuse every UPDATE and DELETE of an audit entry (and, on PostgreSQL, TRUNCATE),
whoever asks, so the log is append-only for every role that cannot drop or disable triggers:
on PostgreSQL, every role but the tables' owner and superusers. On SQLite anyone who can write
the file can drop them: there the signatures, not the triggers, are what a writer cannot get
round. A later migration that rebuilds this table on SQLite (`batch_alter_table`) drops the
triggers with the old table and must create them again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_FUNCTION = "portal_audit_log_append_only"
_ROW_TRIGGER = "audit_log_append_only"
_TRUNCATE_TRIGGER = "audit_log_no_truncate"
_SQLITE_UPDATE_TRIGGER = "audit_log_no_update"
_SQLITE_DELETE_TRIGGER = "audit_log_no_delete"
_REFUSAL = "audit_log is append-only"


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("head_signature", sa.String(128), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # restrict_violation: SQLAlchemy raises IntegrityError, as for SQLite's RAISE(ABORT).
        op.execute(
            f"""
            CREATE FUNCTION {_FUNCTION}() RETURNS trigger
            LANGUAGE plpgsql
            SET search_path = pg_catalog
            AS $$
            BEGIN
                RAISE EXCEPTION '{_REFUSAL}: % refused', TG_OP
                    USING ERRCODE = 'restrict_violation';
            END
            $$
            """
        )
        op.execute(f"REVOKE ALL ON FUNCTION {_FUNCTION}() FROM PUBLIC")
        op.execute(
            f"CREATE TRIGGER {_ROW_TRIGGER} BEFORE UPDATE OR DELETE ON audit_log "
            f"FOR EACH ROW EXECUTE FUNCTION {_FUNCTION}()"
        )
        op.execute(
            f"CREATE TRIGGER {_TRUNCATE_TRIGGER} BEFORE TRUNCATE ON audit_log "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()"
        )
    else:
        for name, event in ((_SQLITE_UPDATE_TRIGGER, "UPDATE"), (_SQLITE_DELETE_TRIGGER, "DELETE")):
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {event} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}: {event} refused'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {_TRUNCATE_TRIGGER} ON audit_log")
        op.execute(f"DROP TRIGGER {_ROW_TRIGGER} ON audit_log")
        op.execute(f"DROP FUNCTION {_FUNCTION}()")
    else:
        op.execute(f"DROP TRIGGER {_SQLITE_DELETE_TRIGGER}")
        op.execute(f"DROP TRIGGER {_SQLITE_UPDATE_TRIGGER}")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("head_signature")
