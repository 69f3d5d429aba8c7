"""PostgreSQL: the follow-up functions the submission role reaches conversations through

Revision ID: 0007
Revises: 0006

The submission role (`portal db roles`, DESIGN decision 9) may not read any table. A submitter
coming back with their codename reaches their conversation only through these functions, each
keyed by the codename's lookup token (`reports.codename_hash`) and running with the owner's
rights (SECURITY DEFINER): a caller who does not hold a report's token learns nothing of it and
changes nothing. EXECUTE is revoked from PUBLIC here; `portal db roles` grants it to the
submission role. The search path is fixed, with pg_temp last, so that no object a caller can
create shadows a table or function the bodies name.

`portal_position_lock_key` is the one definition of the advisory-lock key that serialises
writers of a report's messages or notes (`portal.services.positions` takes the lock with it,
and so does `portal_followup_open`).

SQLite has no roles: there the submission site uses ordinary queries (`portal.services.
conversations`), and this migration does nothing.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_LOCK_KEY = """
CREATE FUNCTION portal_position_lock_key(list_name text, report_id uuid) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ('x' || substr(encode(sha256(convert_to(
        'portal/' || list_name || '/' || report_id::text, 'UTF8')), 'hex'), 1, 16))::bit(64)::bigint
$$
"""

_OPEN = """
CREATE FUNCTION portal_followup_open(lookup bytea)
RETURNS TABLE (report_id uuid, reply_recipient text, received_on date, next_position integer)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, {schema}, pg_temp
AS $$
DECLARE
    target reports%ROWTYPE;
BEGIN
    SELECT * INTO target FROM reports r
     WHERE r.codename_hash = lookup AND r.reply_recipient IS NOT NULL;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(portal_position_lock_key('messages', target.id));
    RETURN QUERY
        SELECT target.id, target.reply_recipient, target.received_on,
               (SELECT coalesce(max(m.position), 0) + 1 FROM messages m
                 WHERE m.report_id = target.id)::integer;
END
$$
"""

_THREAD = """
CREATE FUNCTION portal_followup_thread(lookup bytea)
RETURNS TABLE (message_id uuid, "position" integer, author varchar, sent_on date,
               content bytea, file_count integer)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, {schema}, pg_temp
AS $$
    SELECT m.id, m.position, m.author, m.sent_on, m.content,
           (SELECT count(*) FROM attachments a WHERE a.message_id = m.id)::integer
      FROM messages m JOIN reports r ON r.id = m.report_id
     WHERE r.codename_hash = lookup AND r.reply_recipient IS NOT NULL
     ORDER BY m.position
$$
"""

_ADD_MESSAGE = """
CREATE FUNCTION portal_followup_add_message(
    lookup bytea, message_id uuid, "position" integer, sent_on date, content bytea
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, {schema}, pg_temp
AS $$
DECLARE
    target uuid;
    expected integer;
BEGIN
    SELECT r.id INTO target FROM reports r
     WHERE r.codename_hash = lookup AND r.reply_recipient IS NOT NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'follow-up is closed, or the lookup token is unknown'
            USING ERRCODE = 'no_data_found';
    END IF;
    PERFORM pg_advisory_xact_lock(portal_position_lock_key('messages', target));
    SELECT coalesce(max(m.position), 0) + 1 INTO expected FROM messages m
     WHERE m.report_id = target;
    IF "position" IS DISTINCT FROM expected THEN
        RAISE EXCEPTION 'position % is not the next position %', "position", expected
            USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO messages (id, report_id, position, author, sent_on, content)
    VALUES (message_id, target, "position", 'submitter', sent_on, content);
END
$$
"""

_END = """
CREATE FUNCTION portal_followup_end(lookup bytea) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, {schema}, pg_temp
AS $$
BEGIN
    UPDATE reports SET codename_hash = NULL, reply_recipient = NULL
     WHERE codename_hash = lookup;
    RETURN FOUND;
END
$$
"""

FOLLOW_UP_FUNCTIONS = (
    "portal_followup_open(bytea)",
    "portal_followup_thread(bytea)",
    "portal_followup_add_message(bytea, uuid, integer, date, bytea)",
    "portal_followup_end(bytea)",
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = bind.exec_driver_sql("SELECT quote_ident(current_schema())").scalar_one()
    op.execute(_LOCK_KEY)
    for definition in (_OPEN, _THREAD, _ADD_MESSAGE, _END):
        op.execute(definition.format(schema=schema))
    for signature in (*FOLLOW_UP_FUNCTIONS, "portal_position_lock_key(text, uuid)"):
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for signature in (*FOLLOW_UP_FUNCTIONS, "portal_position_lock_key(text, uuid)"):
        op.execute(f"DROP FUNCTION {signature}")
