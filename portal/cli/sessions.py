"""`portal sessions prune`: delete timed-out review sessions, made to run from cron.

Sign-in prunes them too; this catches a quiet site, where nobody signs in for days and a
timed-out session's sealed keyring would otherwise stay in the database until then.
"""

from __future__ import annotations

import datetime

import click

from portal.cli.common import database_session, require_current_schema, settings_from_env
from portal.services import transaction
from portal.services.review_sessions import SessionPolicy, prune_sessions


@click.group()
def sessions() -> None:
    """Review sessions."""


@sessions.command("prune")
def prune() -> None:
    """Delete every review session that has timed out (idle or absolute timeout)."""
    settings = settings_from_env()
    require_current_schema(settings.database_url)
    policy = SessionPolicy(
        idle_timeout=datetime.timedelta(minutes=settings.idle_timeout_minutes),
        absolute_timeout=datetime.timedelta(hours=settings.absolute_timeout_hours),
    )
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    with database_session(settings) as session:
        pruned = prune_sessions(session, policy=policy, now=now)
        transaction.finish(session)
    click.echo(f"Deleted {pruned} timed-out review session{'' if pruned == 1 else 's'}.")
