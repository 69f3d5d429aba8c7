"""Real gunicorn: neither its logs nor the portal's ever hold a client's address, agent or time."""

from __future__ import annotations

import http.client
import re
import socket
import subprocess
from pathlib import Path

import pytest

from portal import migrate
from portal.config import PROJECT_ROOT, sqlite_url
from tests.support.gunicorn import GUNICORN, Server, gunicorn

pytestmark = pytest.mark.gunicorn

# Any address in 127.0.0.0/8 is this machine; the client connects from one that nothing else uses.
CLIENT_ADDRESS = "127.0.0.77"
IDENTIFYING_HEADERS = {
    "User-Agent": "CanaryBrowser/7.3 (canary-agent-51d0)",
    "X-Forwarded-For": "198.51.100.23",
    "X-Real-IP": "198.51.100.24",
    "Forwarded": "for=198.51.100.25",
    "Referer": "https://referrer.example/canary-referrer",
}
IDENTIFYING_VALUES = (
    CLIENT_ADDRESS,
    "198.51.100.",
    "canary-agent",
    "CanaryBrowser",
    "referrer.example",
)
TIMESTAMP = re.compile(r"\d{2}:\d{2}:\d{2}|\d{4}-\d{2}-\d{2}|\d{2}/\w{3}/\d{4}")


@pytest.fixture
def portal_env(tmp_path: Path, keys_dir: Path) -> dict[str, str]:
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o700)
    database = sqlite_url(instance / "portal.sqlite3")
    migrate.upgrade(database)
    return {
        "PORTAL_INSTANCE_DIR": str(instance),
        "PORTAL_KEYS_DIR": str(keys_dir),
        "PORTAL_DATABASE_URL": database,
    }


def _request(server: Server, method: str, path: str) -> int:
    connection = http.client.HTTPConnection(
        server.host, server.port, timeout=10, source_address=(CLIENT_ADDRESS, 0)
    )
    try:
        connection.request(method, path, headers=IDENTIFYING_HEADERS)
        return connection.getresponse().status
    finally:
        connection.close()


def _send_malformed_request(server: Server) -> bytes:
    with socket.create_connection(
        (server.host, server.port), timeout=10, source_address=(CLIENT_ADDRESS, 0)
    ) as connection:
        connection.sendall(b"NOT A REQUEST LINE AT ALL\r\n\r\n")
        return connection.recv(1024)


@pytest.mark.parametrize(
    ("app", "open_page"), [("wsgi:submit_app", "/"), ("wsgi:review_app", "/sign-in")]
)
def test_logs_hold_no_client_address_agent_referrer_or_time(
    app: str, open_page: str, portal_env: dict[str, str], tmp_path: Path
) -> None:
    # Given a site under gunicorn with its access log on
    with gunicorn(app, portal_env, tmp_path) as server:
        # When a client sends ordinary, failing and malformed requests with identifying headers
        statuses = [
            _request(server, "GET", open_page),
            _request(server, "GET", "/static/portal.css"),
            _request(server, "GET", "/no-such-page"),
            _request(server, "POST", "/"),
        ]
        malformed_reply = _send_malformed_request(server)

    # Then the requests were served and logged...
    assert statuses == [200, 200, 404, 405]
    assert malformed_reply.startswith(b"HTTP/1.1 400")
    access_log = server.access_log.read_text()
    error_log = server.error_log.read_text()
    assert f'"GET {open_page} HTTP/1.1" 200' in access_log
    assert '"GET /no-such-page HTTP/1.1" 404' in access_log
    assert "Invalid request from ip=[address removed]" in error_log
    # ...and no log line holds who sent them, or when
    for value in IDENTIFYING_VALUES:
        assert value not in access_log + error_log
    assert not TIMESTAMP.search(access_log + error_log)


def test_gunicorn_refuses_unsafe_settings_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            str(GUNICORN),
            "-c",
            "python:portal.gunicorn_config",
            "--bind",
            "127.0.0.1:0",
            "wsgi:submit_app",
        ],
        cwd=PROJECT_ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "PORTAL_DATABASE_URL": "mysql://root@db/portal",
            "PORTAL_INSTANCE_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "Cannot start: PORTAL_DATABASE_URL must start with sqlite" in result.stderr
    assert "Traceback" not in result.stderr
