"""The `portal` command: one module per command group (db, keys, users, sessions, audit,
retention).

This module holds only the top-level group, which turns the portal's expected errors into one
line, and registers the groups; `main` is the console script's entry point.
"""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.exc import InterfaceError, OperationalError

from portal.cli import audit, db, keys, retention, sessions, users
from portal.config import ConfigError
from portal.custody.host_key import HostKeyError
from portal.custody.recovery import CustodyError
from portal.files import UnsafeFolder
from portal.recipients import KeysError
from portal.services.blobs import StorageUnavailable

__all__ = ["main"]


class _PortalGroup(click.Group):
    """Turns the portal's expected errors into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigError, UnsafeFolder, KeysError, CustodyError, HostKeyError) as error:
            raise click.ClickException(str(error)) from None
        except (OperationalError, InterfaceError, StorageUnavailable) as error:
            # Its message could quote SQL or a path: its kind is enough, and the promise that
            # the command's transaction was rolled back whole.
            cause = error.__cause__ if isinstance(error, StorageUnavailable) else error
            raise click.ClickException(
                f"the database or the blob folder failed ({type(cause).__name__}): "
                "nothing this command was doing was kept"
            ) from None


@click.group(cls=_PortalGroup)
def main() -> None:
    """Manage the probation reporting portal. Settings come from PORTAL_* variables."""


# The groups are reached through their modules, never imported by name, so that
# `portal.cli.users` (say) stays the module and is not shadowed by the group it defines.
for _group in (
    db.db,
    keys.keys,
    users.users,
    sessions.sessions,
    audit.audit,
    retention.retention_group,
):
    main.add_command(_group)
