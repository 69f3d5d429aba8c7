"""Fixtures shared by every test: settings in temporary folders, databases, both applications.

Database tests run twice, on SQLite and on a real PostgreSQL server. CSRF protection stays on in
every application the tests build: tests submit forms the way a browser does.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from portal import create_review_app, create_submit_app, crypto, database_roles, migrate, request_db
from portal.config import Settings, sqlite_url
from portal.costs import HashCost, PasswordCost
from portal.custody.host_key import HostKey
from portal.custody.host_key import load_or_create as load_or_create_host_key
from portal.db import make_engine
from portal.i18n import TRANSLATIONS_DIR
from portal.recipients import RECIPIENTS_FILE
from tests.support import postgres, sqlite
from tests.support.components import unavailable


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """Compile the Welsh catalogue if `make` has not (as when pytest is run on its own)."""
    source = TRANSLATIONS_DIR / "cy" / "LC_MESSAGES" / "messages.po"
    compiled = source.with_suffix(".mo")
    if compiled.exists() and compiled.stat().st_mtime >= source.stat().st_mtime:
        return
    with source.open("rb") as handle:
        catalogue = read_po(handle, locale="cy")
    with compiled.open("wb") as handle:
        write_mo(handle, catalogue)


# Argon2id's smallest cost: codename hashing is tested for what it derives, not for its cost.
CHEAP_HASH_COST = HashCost(memory_kib=8, iterations=1, lanes=1)
CHEAP_PASSWORD_COST = PasswordCost(memory_kib=8, iterations=1, lanes=1)
CHEAP_WORK_FACTOR = 4


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[postgres.Databases]:
    """Where this run makes its PostgreSQL databases (skipped, or failed in CI, if nowhere)."""
    try:
        server_url = postgres.find_server_url()
    except postgres.NoServer as error:
        unavailable(str(error))
    databases = postgres.Databases(server_url)
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def postgres_template(postgres_databases: postgres.Databases) -> Iterator[str]:
    """The name of a PostgreSQL database migrated once for the whole run, for tests to copy.

    Migrating takes several times as long as copying, and hundreds of tests need a migrated
    database. Nothing may connect to it once migrated (Alembic's engine is disposed by then):
    PostgreSQL copies a database only while it has no connections. The sites' roles get their
    grants here (`portal db roles`), so every copy carries them (see `role_urls`)."""
    with postgres_databases.throwaway() as url:
        migrate.upgrade(url)
        postgres.apply_test_roles(url)
        name = make_url(url).database
        assert name
        postgres.close_to_connections(postgres_databases.server_url, name)
        yield name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once for the whole run, for tests to copy (see postgres_template).

    Nothing keeps it open: the migration disposes of its engine, and `self_contained` folds
    the write-ahead log into the file, so copying the file alone copies the whole database."""
    path = tmp_path_factory.mktemp("sqlite-template") / "portal.sqlite3"
    migrate.upgrade(sqlite_url(path))
    return sqlite.self_contained(path)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_kind(request: pytest.FixtureRequest) -> str:
    """Which engine the test's database runs on: every database test runs on both.

    Parametrize it (indirectly) to run a test on one engine only."""
    return str(request.param)


@pytest.fixture
def empty_database_url(
    database_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A URL to an empty database of the test's own: a new SQLite file, or a PostgreSQL
    database with no tables, dropped afterwards."""
    if database_kind == "sqlite":
        yield sqlite_url(tmp_path / "portal.sqlite3")
        return
    databases: postgres.Databases = request.getfixturevalue("postgres_databases")
    with databases.throwaway() as url:
        yield url


@pytest.fixture
def database_url(
    database_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A URL to a database of the test's own at the newest schema: a copy of the run's
    migrated template, so that tests do not each pay for the migrations."""
    if database_kind == "sqlite":
        path = tmp_path / "portal.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield sqlite_url(path)
        return
    databases: postgres.Databases = request.getfixturevalue("postgres_databases")
    with databases.throwaway(template=request.getfixturevalue("postgres_template")) as url:
        yield url


@pytest.fixture
def role_urls(database_kind: str, database_url: str) -> dict[str, str]:
    """The test's database as each site connects to it in production (site -> URL): on
    PostgreSQL as the submission, review and audit roles; SQLite has no roles, so there every
    site gets the database's own URL."""
    if database_kind == "sqlite":
        return dict.fromkeys(database_roles.SITES, database_url)
    return postgres.role_urls(database_url)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test's migrated database, as scripts and the command line make one."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A database session for the test's own reads and writes (the apps have their own)."""
    with Session(engine) as session:
        yield session


@pytest.fixture(scope="session")
def inspectorate_identity() -> crypto.HybridIdentity:
    """The test run's stand-in for the inspectorate's identity (made afresh, kept in memory)."""
    identity = crypto.generate_identity("pq")
    assert isinstance(identity, crypto.HybridIdentity)
    return identity


@pytest.fixture
def keys_dir(tmp_path: Path, inspectorate_identity: crypto.HybridIdentity) -> Path:
    """A keys folder holding a recipients file and nothing else."""
    path = tmp_path / "keys"
    path.mkdir()
    recipient = inspectorate_identity.recipient()
    (path / RECIPIENTS_FILE).write_text(f"# test recipient\n{recipient}\n")
    return path


@pytest.fixture
def settings(tmp_path: Path, keys_dir: Path, database_url: str) -> Settings:
    return Settings(
        instance_dir=tmp_path / "instance",
        keys_dir=keys_dir,
        database_url=database_url,
        codename_hash_cost=CHEAP_HASH_COST,
        password_cost=CHEAP_PASSWORD_COST,
        keyring_work_factor=CHEAP_WORK_FACTOR,
    )


@pytest.fixture
def submit_settings(settings: Settings, role_urls: dict[str, str]) -> Settings:
    """The test's settings as the submission site has them: on PostgreSQL it connects as the
    submission role, which reads no table (DESIGN decision 9)."""
    return dataclasses.replace(settings, database_url=role_urls["submit"])


@pytest.fixture
def host_key(settings: Settings) -> HostKey:
    """The review-host key of the test's review site (its instance folder's, made on first use:
    the review site and the command line load the same one)."""
    return load_or_create_host_key(settings.instance_dir)


class HttpsClient(FlaskClient):
    """A test client that speaks HTTPS, as browsers do in production: Secure cookies flow."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.environ_base["wsgi.url_scheme"] = "https"


def _disposing(app: Flask) -> Iterator[Flask]:
    app.test_client_class = HttpsClient
    yield app
    request_db.get_engine(app).dispose()


@pytest.fixture
def submit_app(submit_settings: Settings) -> Iterator[Flask]:
    yield from _disposing(create_submit_app(submit_settings))


@pytest.fixture
def review_app(settings: Settings) -> Iterator[Flask]:
    yield from _disposing(create_review_app(settings))


@pytest.fixture(params=["submit", "review"])
def any_app(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Flask]:
    """Each application in turn, for the guarantees both must keep."""
    if request.param == "submit":
        yield from _disposing(create_submit_app(request.getfixturevalue("submit_settings")))
    else:
        yield from _disposing(create_review_app(settings))


@pytest.fixture
def client(any_app: Flask) -> FlaskClient:
    return any_app.test_client()
