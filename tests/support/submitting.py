"""Sending the public site's forms the way a browser without JavaScript does, and looking for
what was kept afterwards."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import create_engine, inspect, text
from werkzeug.test import TestResponse

from portal import create_submit_app, request_db
from portal.config import Settings
from tests.support.pages import csrf_token


@dataclass(frozen=True)
class Upload:
    content: bytes
    name: str
    content_type: str = "application/octet-stream"


def post_form(
    client: FlaskClient,
    path: str,
    fields: dict[str, object],
    uploads: Iterable[Upload] = (),
    *,
    form_page: str | None = None,
) -> TestResponse:
    """GET the form (or `form_page`) for its token, then POST `fields` and `uploads` to `path`."""
    token = csrf_token(client.get(form_page or path))
    data: dict[str, object] = {"csrf_token": token, **fields}
    files = [(io.BytesIO(upload.content), upload.name, upload.content_type) for upload in uploads]
    if files:
        data["attachments"] = files
    return client.post(path, data=data, content_type="multipart/form-data")


def answers_for(kind: str, canary: str) -> dict[str, object]:
    """A complete, valid set of answers for `kind`, with `canary` in every free-text answer."""
    common = {"region": "wales", "urgent": "no", "account": f"account {canary}"}
    if kind == "risk-rating":
        return common | {
            "rosh_assessed": "high",
            "rosh_pressed": "medium",
            "mappa_level": "2",
            "pressed_by": f"senior manager {canary}",
            "how": f"told in supervision {canary}",
            "reason": f"so more cases can be allocated {canary}",
            "when_month": "3",
            "when_year": "2026",
            "case_current": "yes",
            "raised": "yes",
            "raised_outcome": f"nothing changed {canary}",
        }
    if kind == "workload":
        return common | {
            "grade": "po",
            "caseload": "74",
            "capacity": "142",
            "duration": "3-to-6-months",
            "consequences": ["contacts-missed", "police-checks"],
            "consequences_other": f"home visits dropped {canary}",
            "raised": "no",
        }
    return common


def everything_stored(settings: Settings) -> bytes:
    """Every byte the portal keeps: the instance folder's files (SQLite, blobs, keys) and, for
    PostgreSQL, every row of every table as text."""
    parts = [
        path.read_bytes() for path in sorted(settings.instance_dir.rglob("*")) if path.is_file()
    ]
    if settings.database_url.startswith("postgresql"):
        engine = create_engine(settings.database_url)
        try:
            with engine.connect() as connection:
                for table in inspect(connection).get_table_names():
                    for row in connection.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
                        parts.extend(_as_bytes(value) for value in row)
        finally:
            engine.dispose()
    return b"\n".join(parts)


def files_under(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()]


def _as_bytes(value: object) -> bytes:
    """A stored value as its bytes: binary columns raw (not as hex), the rest as text."""
    if isinstance(value, bytes | memoryview):
        return bytes(value)
    return str(value).encode()


def submit_with_file(settings: Settings, canary: str) -> None:
    """A report with a file, sent through a submission site started now (it reads the keys
    folder's recipients file as it starts, as a restarted submission host does)."""
    app = create_submit_app(settings)
    post_form(
        app.test_client(),
        "/report/other",
        answers_for("other", canary),
        [Upload(f"file of {canary}".encode(), f"{canary}.txt", "text/plain")],
    )
    request_db.get_engine(app).dispose()
