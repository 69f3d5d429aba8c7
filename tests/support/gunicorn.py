"""Real gunicorn processes serving the portal, for tests of what happens on the wire and in logs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from portal.config import PROJECT_ROOT

GUNICORN = Path(sys.executable).with_name("gunicorn")
READY_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    access_log: Path
    error_log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def logs(self) -> str:
        """Both logs' text so far."""
        return "".join(
            path.read_text(errors="replace") for path in (self.access_log, self.error_log)
        )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(
    app: str, env: Mapping[str, str], log_dir: Path, *, extra_args: tuple[str, ...] = ()
) -> Iterator[Server]:
    """Serve `app` ("wsgi:submit_app" or "wsgi:review_app") with the portal's gunicorn config."""
    server = Server(
        host="127.0.0.1",
        port=free_port(),
        access_log=log_dir / "access.log",
        error_log=log_dir / "error.log",
    )
    command = [
        str(GUNICORN),
        "-c",
        "python:portal.gunicorn_config",
        "--bind",
        f"{server.host}:{server.port}",
        "--workers",
        "1",
        "--access-logfile",
        str(server.access_log),
        "--error-logfile",
        str(server.error_log),
        # Send the application's own stderr (its log) to the error log as well.
        "--capture-output",
        *extra_args,
        app,
    ]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env={**os.environ, **env}, start_new_session=True
    )
    try:
        _wait_until_listening(server, process)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_until_listening(server: Server, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{server.logs()}")
        try:
            socket.create_connection((server.host, server.port), timeout=1).close()
        except OSError:
            time.sleep(0.1)
        else:
            return
    raise RuntimeError(f"gunicorn did not start listening within {READY_TIMEOUT_SECONDS}s")
