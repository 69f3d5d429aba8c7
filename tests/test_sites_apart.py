"""The two sites stay apart: the public one has no review routes and never touches secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from portal import create_submit_app, crypto, request_db
from portal.config import PROJECT_ROOT, Settings
from portal.custody.host_key import HOST_KEY_FILE
from portal.recipients import RECIPIENTS_FILE

# Stand-ins for the secret material a keys folder or instance folder may hold on a review host.
SECRET_FILES = (
    "identity.txt",
    "recovery.age",
    "wrapped-reviewer-key.age",
    "review-secret-key",
    HOST_KEY_FILE,  # the review-host key (DESIGN decision 3)
)


def _run_python(code: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def portal_env(tmp_path: Path, keys_dir: Path, database_url: str) -> dict[str, str]:
    return {
        "PORTAL_INSTANCE_DIR": str(tmp_path / "instance"),
        "PORTAL_KEYS_DIR": str(keys_dir),
        "PORTAL_DATABASE_URL": database_url,
    }


def test_wsgi_exposes_both_applications(portal_env: dict[str, str]) -> None:
    output = _run_python(
        "from wsgi import submit_app, review_app; print(submit_app.name, review_app.name)",
        portal_env,
    )

    assert output.split() == ["portal.submit", "portal.review"]


def test_serving_the_public_site_never_imports_review_or_custody_code(
    portal_env: dict[str, str],
) -> None:
    output = _run_python(
        "import sys, wsgi; wsgi.submit_app; "
        "print(sorted(m for m in sys.modules if m.startswith('portal')))",
        portal_env,
    )

    loaded = output.strip()
    assert "portal.submit" in loaded
    assert "portal.review" not in loaded
    assert "portal.custody" not in loaded


def test_the_public_site_has_no_review_endpoint(submit_app: Flask, review_app: Flask) -> None:
    public = {name: view for name, view in submit_app.view_functions.items() if name != "static"}
    review = {name for name in review_app.view_functions if name != "static"}

    assert public, "the public site has pages"
    assert not set(public) & review
    for name, view in public.items():
        assert not view.__module__.startswith("portal.review"), name


_RECORD_OPENS = """
import json, os, sys
opened = []
sys.addaudithook(
    lambda event, args: opened.append(os.fsdecode(args[0]))
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)) else None
)
import wsgi
client = wsgi.submit_app.test_client()
for rule in wsgi.submit_app.url_map.iter_rules():
    if "GET" in rule.methods and not rule.arguments:
        client.get(rule.rule)
client.get("/no-such-page")
print(json.dumps(opened))
"""


def test_the_public_site_reads_only_the_recipients_file_among_the_keys(
    portal_env: dict[str, str], keys_dir: Path, tmp_path: Path
) -> None:
    # Given a keys folder and an instance folder that also hold secret material
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o700)
    for name in SECRET_FILES:
        (keys_dir / name).write_text("AGE-SECRET-KEY-stand-in")
        (instance / name).write_text("stand-in")

    # When the public site starts and serves every page
    opened = json.loads(_run_python(_RECORD_OPENS, portal_env))

    # Then of those folders it opened only the recipients file and its own secret key
    touched = {Path(path).resolve() for path in opened}
    keys_dir, instance = keys_dir.resolve(), instance.resolve()
    assert keys_dir / RECIPIENTS_FILE in touched
    for name in SECRET_FILES:
        assert keys_dir / name not in touched
        assert instance / name not in touched
    assert not [
        path for path in touched if path.parent == keys_dir and path.name != RECIPIENTS_FILE
    ]


def test_without_recipients_the_public_site_fails_closed(
    settings: Settings, keys_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (keys_dir / RECIPIENTS_FILE).unlink()
    app = create_submit_app(settings)
    try:
        client = app.test_client()
        page = client.get("/")
        stylesheet = client.get("/static/portal.css")
    finally:
        request_db.get_engine(app).dispose()

    assert page.status_code == 503
    assert "the service is unavailable" in page.text
    assert stylesheet.status_code == 200
    assert "Not accepting reports" in capsys.readouterr().err


def test_a_secret_key_in_the_recipients_file_is_refused_and_never_logged(
    settings: Settings, keys_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipients = keys_dir / RECIPIENTS_FILE
    secret = str(crypto.generate_identity("x25519"))
    recipients.write_text(f"{recipients.read_text()}{secret}\n")
    app = create_submit_app(settings)
    try:
        page = app.test_client().get("/")
    finally:
        request_db.get_engine(app).dispose()

    log = capsys.readouterr().err
    assert page.status_code == 503
    assert "line 3 is a secret key" in log
    assert secret not in log
    assert secret not in page.text
