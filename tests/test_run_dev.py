"""`make run`'s script: Ctrl-C stops both servers cleanly, every time, and leaves nothing behind.

scripts/run-dev once ended with "Segmentation fault" and, once, a submission server still
listening but no longer answering. Each run here starts the script as a terminal would (in a
process group of its own), waits until both sites answer, sends SIGINT to that process group as
Ctrl-C does, and checks that every process of the run is gone and both ports are closed. It also
checks that the access log the script turns on names no client.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from portal import gunicorn_config
from portal.config import PROJECT_ROOT, sqlite_url
from tests.support.gunicorn import READY_TIMEOUT_SECONDS, free_port

pytestmark = pytest.mark.gunicorn

RUN_DEV = PROJECT_ROOT / "scripts" / "run-dev"
# A few runs in a row: the failures this guards against did not happen every time.
RUNS = 3
# run-dev waits up to 10 s for gunicorn's graceful stop before it kills; a clean stop is quicker.
STOP_TIMEOUT_SECONDS = 15
# Any address in 127.0.0.0/8 is this machine; the client connects from one that nothing else uses.
CLIENT_ADDRESS = "127.0.0.77"
CANARY_AGENT = "CanaryBrowser/7.3 (canary-agent-51d0)"
# Process = (pid, start time in clock ticks): a pid alone could be reused by the time we look.
Process = tuple[int, int]


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a process, or None once it has gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name, in parentheses, may hold spaces
    return fields[0], int(fields[1]), int(fields[19])


def _children_by_parent() -> dict[int, list[Process]]:
    """Every process on the machine, listed under its parent's pid."""
    children: dict[int, list[Process]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            children.setdefault(stat[1], []).append((int(entry.name), stat[2]))
    return children


def _descendants(root: int, children: dict[int, list[Process]]) -> list[Process]:
    """Every process below `root`, found by parentage (the servers run in sessions of their own)."""
    found: list[Process] = []
    pending = [root]
    while pending:
        for process in children.get(pending.pop(), []):
            found.append(process)
            pending.append(process[0])
    return found


def _running(processes: Iterable[Process]) -> list[Process]:
    """Those of `processes` still running (a zombie has ended: it only awaits its parent)."""
    running = []
    for pid, started in processes:
        stat = _stat(pid)
        if stat is not None and stat[2] == started and stat[0] != "Z":
            running.append((pid, started))
    return running


def _answers(port: int, path: str) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        connection.getresponse().read()
    except OSError:
        return False
    finally:
        connection.close()
    return True


def _wait_until_serving(script: subprocess.Popen[bytes], ports: dict[str, int]) -> list[Process]:
    """Wait until both sites answer and every worker has started; return the run's processes."""
    deadline = time.monotonic() + 2 * READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        assert script.poll() is None, f"run-dev exited early with {script.returncode}"
        children = _children_by_parent()
        processes = _descendants(script.pid, children)
        masters = children.get(script.pid, [])
        if (
            len(masters) == 2
            and len(processes) == 2 + 2 * gunicorn_config.workers
            and _answers(ports["submit"], "/")
            and _answers(ports["review"], "/sign-in")
        ):
            return processes
        time.sleep(0.2)
    raise AssertionError("run-dev's two sites did not start answering")


def _request_with_identifying_details(port: int) -> int:
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(CLIENT_ADDRESS, 0)
    )
    try:
        connection.request("GET", "/", headers={"User-Agent": CANARY_AGENT})
        return connection.getresponse().status
    finally:
        connection.close()


def _port_is_closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def _two_free_ports() -> tuple[int, int]:
    first = free_port()
    while (second := free_port()) == first:
        pass
    return first, second


@pytest.mark.parametrize("attempt", range(RUNS))
def test_ctrl_c_stops_both_servers_and_leaves_nothing(
    attempt: int, tmp_path: Path, keys_dir: Path
) -> None:
    # Given run-dev serving both sites on free ports, with a private instance and keys folder
    submit_port, review_port = _two_free_ports()
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o700)
    env = {
        **os.environ,
        "PORTAL_INSTANCE_DIR": str(instance),
        "PORTAL_KEYS_DIR": str(keys_dir),
        "PORTAL_DATABASE_URL": sqlite_url(instance / "portal.sqlite3"),
        "PORTAL_SUBMIT_PORT": str(submit_port),
        "PORTAL_REVIEW_PORT": str(review_port),
    }
    output_path = tmp_path / "run-dev.out"
    with output_path.open("wb") as output:
        script = subprocess.Popen(
            [str(RUN_DEV)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    processes: list[Process] = []
    try:
        processes = _wait_until_serving(script, {"submit": submit_port, "review": review_port})
        assert _request_with_identifying_details(submit_port) == 200

        # When Ctrl-C is pressed: SIGINT to the terminal's foreground process group
        os.killpg(script.pid, signal.SIGINT)
        returncode = script.wait(timeout=STOP_TIMEOUT_SECONDS)
    finally:
        # Whatever failed above, leave no server of this test running.
        leftovers = _descendants(script.pid, _children_by_parent())
        for pid, _ in _running([*processes, *leftovers]):
            os.kill(pid, signal.SIGKILL)
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
            script.wait()

    # Then the script ended as an interrupted command does, with every server process gone...
    output = output_path.read_text(errors="replace")
    assert returncode == 130, output
    assert _running(processes) == [], output
    assert _port_is_closed(submit_port)
    assert _port_is_closed(review_port)
    # ...having stopped gracefully, with no crash on the way
    for crash in ("Segmentation fault", "Traceback", "Killed", "Terminated"):
        assert crash not in output, output
    # ...and the access log it turns on recorded the request without naming the client
    assert '"GET / HTTP/1.1" 200' in output
    assert CLIENT_ADDRESS not in output
    assert "canary-agent" not in output
