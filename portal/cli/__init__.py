"""The `portal` command: one module per command group (db, keys, users, audit, retention).

This module holds only the top-level group, which turns the portal's expected errors into one
line, and registers the groups; `main` is the console script's entry point.
"""

from __future__ import annotations

from typing import Any

import click

from portal import custody
from portal.cli import audit, db, keys, retention, users
from portal.config import ConfigError
from portal.keys import KeysError

__all__ = ["main"]


class _PortalGroup(click.Group):
    """Turns the portal's expected errors into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigError, KeysError, custody.CustodyError) as error:
            raise click.ClickException(str(error)) from None


@click.group(cls=_PortalGroup)
def main() -> None:
    """Manage the probation reporting portal. Settings come from PORTAL_* variables."""


# The groups are reached through their modules, never imported by name, so that
# `portal.cli.users` (say) stays the module and is not shadowed by the group it defines.
for _group in (db.db, keys.keys, users.users, audit.audit, retention.retention_group):
    main.add_command(_group)
