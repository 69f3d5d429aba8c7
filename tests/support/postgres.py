"""A real PostgreSQL server for the tests: each test gets a database of its own, dropped after.

Migrated databases are copies of a template migrated once per run (`CREATE DATABASE ... TEMPLATE`
copies files, which is several times cheaper than running every migration again); empty ones
are copies of `template0`.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from portal import database_roles

# Tried in order when PORTAL_TEST_POSTGRES_URL is not set: a trusting local server (as on the
# development machines), then the Unix socket as this user (a fresh Debian install, once
# scripts/install-test-prerequisites has created the role).
CANDIDATE_SERVER_URLS = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "postgresql+psycopg:///postgres",
)
# PostgreSQL copies a template only while nobody is connected to it. template1, the default,
# is one anybody on a shared server may connect to; template0 never accepts connections.
PRISTINE_TEMPLATE = "template0"
# Threads dropping databases at once: enough to share checkpoints, few enough for a shared server.
DROPPERS = 4
# The sites' roles in every test database (`portal db roles` with this prefix, applied to the
# template). Roles belong to the server, not to a database: every run shares them.
ROLE_PREFIX = "portal_test"
ROLE_PASSWORDS = {site: f"portal-test-{site}-password" for site in database_roles.SITES}


class NoServer(Exception):
    """No PostgreSQL server could be reached; the message says what was tried."""


def find_server_url() -> str:
    """The URL of a PostgreSQL server the tests may create databases on."""
    configured = os.environ.get("PORTAL_TEST_POSTGRES_URL", "").strip()
    candidates = (configured,) if configured else CANDIDATE_SERVER_URLS
    for url in candidates:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as connection:
                connection.execute(text("select 1"))
        except OperationalError:
            continue
        finally:
            engine.dispose()
        return url
    raise NoServer(f"no PostgreSQL server answered at {' or '.join(candidates)}")


def database_url(server_url: str, name: str) -> str:
    """The URL of database `name` on the server at `server_url`."""
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _run(server_url: str, statement: str) -> None:
    # AUTOCOMMIT: CREATE and DROP DATABASE refuse to run inside a transaction.
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


class Databases:
    """Creates databases for tests on one server, and drops them in the background.

    PostgreSQL 15 forces a checkpoint for every DROP DATABASE: on a busy server that takes
    up to seconds, longer than the test that used the database. A few threads drop them while
    the next tests run (drops waiting at the same time share one checkpoint); `close` waits
    for every drop and raises the first that failed, so none is forgotten silently."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self._dropper = ThreadPoolExecutor(max_workers=DROPPERS, thread_name_prefix="drop-database")
        self._drops: list[Future[None]] = []

    @contextmanager
    def throwaway(self, *, template: str = PRISTINE_TEMPLATE) -> Iterator[str]:
        """A new database copied from `template` (empty by default): yields its URL, and once
        the block ends drops it, with any connection still open to it.

        Nothing may be connected to `template` while it is copied: whoever migrated it must
        have disposed of their engine."""
        name = f"portal_test_{secrets.token_hex(6)}"
        _run(self.server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        try:
            yield database_url(self.server_url, name)
        finally:
            drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            self._drops.append(self._dropper.submit(_run, self.server_url, drop))

    def close(self) -> None:
        """Wait until every database made here is dropped; raise if one could not be."""
        self._dropper.shutdown(wait=True)
        for drop in self._drops:
            drop.result()


def close_to_connections(server_url: str, name: str) -> None:
    """Make database `name` refuse connections, so that nothing can hold it open by mistake
    and stop it being copied: a test that tried would fail with a clear error instead of
    every later test failing with "source database is being accessed by other users"."""
    _run(server_url, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')


def apply_test_roles(database_url: str) -> None:
    """Create the test roles if need be and grant them their privileges in `database_url`'s
    database, as `portal db roles` does. Runs at once from other test runs on the same server
    can collide on the roles themselves (server-wide): the loser tries again."""
    engine = create_engine(database_url)
    try:
        for attempt in range(5):
            try:
                with engine.begin() as connection:
                    database_roles.apply_roles(
                        connection, database_url, prefix=ROLE_PREFIX, passwords=ROLE_PASSWORDS
                    )
                return
            except DBAPIError:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
    finally:
        engine.dispose()


def role_urls(database_url: str) -> dict[str, str]:
    """The URL of `database_url`'s database for each site's role (site -> URL). Over TCP to the
    same server when the URL names a Unix socket, where peer authentication admits only the
    operating system's user of the same name."""
    url = make_url(database_url)
    return {
        site: url.set(
            username=database_roles.role_name(ROLE_PREFIX, site),
            password=ROLE_PASSWORDS[site],
            host=url.host or "127.0.0.1",
        ).render_as_string(hide_password=False)
        for site in database_roles.SITES
    }
