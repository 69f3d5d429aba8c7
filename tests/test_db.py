"""The database layer: SQLite's safety settings, and one session per request."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import text

from portal import db, request_db
from portal.config import sqlite_url


def test_sqlite_connections_use_wal_foreign_keys_secure_delete_and_full_sync(
    tmp_path: Path,
) -> None:
    engine = db.make_engine(sqlite_url(tmp_path / "portal.sqlite3"))
    try:
        with engine.connect() as connection:
            settings = {
                pragma: connection.exec_driver_sql(f"PRAGMA {pragma}").scalar()
                for pragma in ("journal_mode", "foreign_keys", "secure_delete", "synchronous")
            }
    finally:
        engine.dispose()

    assert settings == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "secure_delete": 1,
        "synchronous": 2,
    }


def test_a_sqlite_transaction_that_fails_leaves_nothing_behind(tmp_path: Path) -> None:
    engine = db.make_engine(sqlite_url(tmp_path / "portal.sqlite3"))
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        try:
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO t VALUES (1)"))
                connection.execute(text("CREATE TABLE t (x INTEGER)"))  # fails: exists
        except Exception:  # noqa: S110 (the failure is the point)
            pass
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 0
    finally:
        engine.dispose()


def test_each_request_gets_one_session_closed_at_teardown(any_app: Flask) -> None:
    with any_app.app_context():
        session = request_db.get_session()
        assert request_db.get_session() is session
        assert session.execute(text("SELECT 1")).scalar() == 1
        assert session.in_transaction()

    assert not session.in_transaction()
    with any_app.app_context():
        assert request_db.get_session() is not session
