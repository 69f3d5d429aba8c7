"""The `portal` command: one module per command group (db, keys, users, audit, retention).

This module holds only the top-level group, which turns the portal's expected errors into one
line, and registers the groups; `main` is the console script's entry point.
"""

from __future__ import annotations

from typing import Any

import click

from portal import custody
from portal.cli.audit import audit
from portal.cli.db import db
from portal.cli.keys import keys
from portal.cli.retention import retention_group
from portal.cli.users import users
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


for _group in (db, keys, users, audit, retention_group):
    main.add_command(_group)
