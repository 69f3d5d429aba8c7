"""The database engine, for either supported database.

SQLite is the embedded default and PostgreSQL the production engine; both are set up here so
that the rest of the portal never needs to know which one it is talking to. No web framework
here: the command line and scripts use this as it is; `portal.request_db` gives each web
request its session.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    # Deleted rows are overwritten with zeros rather than left in free pages.
    "PRAGMA secure_delete=ON",
    # An acknowledged submission must survive a power cut, not only a process crash.
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=10000",
)


def make_engine(database_url: str, *, lock_on_begin: bool = False) -> Engine:
    """Create an engine with the portal's settings for either supported database.

    `lock_on_begin` (SQLite only): each transaction takes the write lock when it begins. The
    web applications ask for it, because a request reads and then writes (every reviewer
    action appends to the audit log): without it, a transaction that read before another
    writer committed fails at its first write ("database is locked") instead of waiting its
    turn. Long-lived sessions that mostly read (tests, scripts) leave it off, so they never
    hold the lock.
    """
    # hide_parameters: a failed statement must never put submitted values into a log line.
    options: dict[str, Any] = {"hide_parameters": True}
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, **options)
        event.listen(engine, "connect", _configure_sqlite_connection)
        event.listen(
            engine,
            "begin",
            _begin_sqlite_write_transaction if lock_on_begin else _begin_sqlite_transaction,
        )
        return engine
    # pre_ping: a PostgreSQL restart costs one reconnect, not a failed submission.
    return create_engine(database_url, pool_pre_ping=True, **options)


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module, which otherwise begins transactions
    # only before writes; SQLAlchemy then emits BEGIN itself (see _begin_sqlite_transaction).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _begin_sqlite_transaction(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def _begin_sqlite_write_transaction(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")
