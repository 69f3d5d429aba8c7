"""A real PostgreSQL server for the tests: one throwaway database per run, one schema per test."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

# Tried in order when PORTAL_TEST_POSTGRES_URL is not set: a trusting local server (as on the
# development machines), then the Unix socket as this user (a fresh Debian install, once
# scripts/install-test-prerequisites has created the role).
CANDIDATE_SERVER_URLS = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "postgresql+psycopg:///postgres",
)


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


@contextmanager
def _created_then_dropped(url: str, create: str, drop: str) -> Iterator[None]:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(create))
        yield
    finally:
        with admin.connect() as connection:
            connection.execute(text(drop))
        admin.dispose()


@contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """Create a database for this test run and drop it (with its connections) afterwards."""
    name = f"portal_test_{secrets.token_hex(6)}"
    with _created_then_dropped(
        server_url, f'CREATE DATABASE "{name}"', f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    ):
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)


@contextmanager
def throwaway_schema(database_url: str) -> Iterator[str]:
    """A fresh schema in `database_url`; the yielded URL makes it the connection's search path."""
    name = f"t_{secrets.token_hex(6)}"
    with _created_then_dropped(
        database_url, f'CREATE SCHEMA "{name}"', f'DROP SCHEMA IF EXISTS "{name}" CASCADE'
    ):
        url = make_url(database_url).update_query_dict({"options": f"-csearch_path={name}"})
        yield url.render_as_string(hide_password=False)
