"""Submitting reports over real HTTP while parts of the service break, and then checking that
nothing acknowledged was lost and nothing was stored half-way.

- `Submitters`: threads that each GET a report form and POST it (text, sometimes a file) with a
  unique canary, again and again, recording what every attempt was told.
- `worker_pids` and `WorkerKiller`: gunicorn's workers (children of the master, from /proc), and
  a thread that SIGKILLs one at random every few seconds.
- `private_postgres`: a PostgreSQL instance of the test's own (Debian's binaries, a temporary
  data folder, a free port on 127.0.0.1), so that restarting it disturbs nobody else.
- `check_ledger`: the stored reports, attachments and blob files against the attempts.

Every loop here is bounded both in count and in time.
"""

from __future__ import annotations

import contextlib
import http.client
import multiprocessing
import os
import pwd
import random
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session, selectinload

from portal import crypto
from portal.costs import HashCost
from portal.db import make_engine
from portal.models import Attachment, Message, Report
from portal.services.codenames import CodenameHasher
from portal.services.documents import unseal_document
from tests.support.gunicorn import free_port
from tests.support.pages import codename_or_none, csrf_token_or_none
from tests.support.submitting import answers_for

REQUEST_TIMEOUT_SECONDS = 30
ACKNOWLEDGED = "acknowledged"
NOT_SAVED = "told not saved"
NO_ANSWER = "no answer"
UNEXPECTED = "unexpected answer"

_CANARY = re.compile(r"canary-[0-9a-f]{16}")
_NOT_SAVED_TEXT = b"has not been saved"
_STAGED = re.compile(r"\.([0-9a-f-]{36})\.age\.part")
_PUBLISHED = re.compile(r"([0-9a-f-]{36})\.age")
# What a client sees when the process serving it dies: the connection reset or closed early.
_NO_ANSWER_ERRORS = (OSError, http.client.HTTPException)

KINDS = ("risk-rating", "workload", "other")


# ---------------------------------------------------------------------------------------------
# One submission over HTTP


@dataclass
class Attempt:
    """One POST of a report, and what the client was told."""

    canary: str
    kind: str
    file: bytes | None
    outcome: str = ""
    status: int | None = None
    codename: str | None = None
    detail: str = ""


def _request(
    host: str, port: int, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def multipart_body(
    fields: dict[str, object], files: Sequence[tuple[str, str, bytes]]
) -> tuple[bytes, str]:
    """A multipart/form-data body as a browser sends it, and its Content-Type."""
    boundary = f"----portal-{secrets.token_hex(12)}"
    parts: list[bytes] = []
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                + str(item).encode()
                + b"\r\n"
            )
    for name, content_type, content in files:
        parts.append(
            (
                f"--{boundary}\r\nContent-Disposition: form-data; "
                f'name="attachments"; filename="{name}"\r\nContent-Type: {content_type}\r\n\r\n'
            ).encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def submit_once(host: str, port: int, rng: random.Random, files_every: int = 3) -> Attempt | None:
    """GET a random report form, then POST a complete report with a fresh canary (a file with
    one in `files_every`). None if the form itself could not be had (nothing was sent)."""
    kind = rng.choice(KINDS)
    try:
        status, headers, page = _request(host, port, "GET", f"/report/{kind}", None, {})
    except _NO_ANSWER_ERRORS:
        return None
    token = csrf_token_or_none(page)
    cookies = [value.split(";", 1)[0] for value in headers.get_all("Set-Cookie") or []]
    if status != 200 or token is None or not cookies:
        return None
    canary = f"canary-{secrets.token_hex(8)}"
    file = None
    if rng.randrange(files_every) == 0:
        # Text first, so the metadata filter passes it through unchanged; then random bytes of
        # a size from tiny to a few hundred KiB, so some uploads are cut off mid-way by a kill.
        size = rng.choice((0, 100, 4_000, 60_000, 300_000))
        file = f"evidence for {canary}\n".encode() + os.urandom(size)
    body, content_type = multipart_body(
        {"csrf_token": token, **answers_for(kind, canary)},
        [(f"{canary}.bin", "application/octet-stream", file)] if file is not None else [],
    )
    attempt = Attempt(canary=canary, kind=kind, file=file)
    try:
        status, _headers, page = _request(
            host,
            port,
            "POST",
            f"/report/{kind}",
            body,
            {"Content-Type": content_type, "Cookie": "; ".join(cookies)},
        )
    except _NO_ANSWER_ERRORS as error:
        attempt.outcome, attempt.detail = NO_ANSWER, type(error).__name__
        return attempt
    attempt.status = status
    codename = codename_or_none(page)
    if status == 200 and codename:
        attempt.outcome, attempt.codename = ACKNOWLEDGED, codename
    elif _NOT_SAVED_TEXT in page:
        attempt.outcome = NOT_SAVED
    else:
        attempt.outcome, attempt.detail = UNEXPECTED, page[:300].decode(errors="replace")
    return attempt


class Submitters:
    """`count` threads submitting reports until `seconds` have passed (or `max_attempts` each).

    Each pauses a random `pause` seconds between reports, as a person would: it keeps the
    number of reports near the same on fast machines and slow ones, since checking each
    acknowledged codename afterwards costs an Argon2id derivation (about 0.1 s of CPU).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        count: int,
        seconds: float,
        pause: tuple[float, float] = (0.2, 0.6),
        max_attempts: int = 2_000,
    ) -> None:
        self._host, self._port = host, port
        self._deadline = time.monotonic() + seconds
        self._pause = pause
        self._max_attempts = max_attempts
        self._lock = threading.Lock()
        self.attempts: list[Attempt] = []
        self.forms_not_served = 0
        self.errors: list[str] = []
        self._threads = [
            threading.Thread(target=self._run, args=(seed,), daemon=True) for seed in range(count)
        ]

    def __enter__(self) -> Submitters:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.join()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=max(0.0, self._deadline - time.monotonic()) + 60)
        assert not any(thread.is_alive() for thread in self._threads), "a submitter hung"

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 (choosing a test's inputs, not a secret)
        for _ in range(self._max_attempts):
            if time.monotonic() >= self._deadline:
                return
            try:
                attempt = submit_once(self._host, self._port, rng)
            except Exception as error:  # reported by the test, not lost in a thread
                with self._lock:
                    self.errors.append(repr(error))
                return
            with self._lock:
                if attempt is None:
                    self.forms_not_served += 1
                else:
                    self.attempts.append(attempt)
            time.sleep(min(rng.uniform(*self._pause), max(0.0, self._deadline - time.monotonic())))

    def outcomes(self) -> Counter[str]:
        return Counter(attempt.outcome for attempt in self.attempts)


# ---------------------------------------------------------------------------------------------
# gunicorn's workers


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name, in parentheses, may itself hold spaces and parentheses.
    return int(stat.rsplit(")", 1)[1].split()[1])


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def children_of(parent: int) -> list[int]:
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _parent_of(int(entry.name)) == parent
    ]


def gunicorn_master(port: int) -> int:
    """The pid of the gunicorn master this process started to listen on `port`."""
    for pid in children_of(os.getpid()):
        command = _cmdline(pid)
        if any("gunicorn" in part for part in command) and f"127.0.0.1:{port}" in command:
            return pid
    raise AssertionError(f"no gunicorn master for port {port} among this process's children")


def worker_pids(master: int) -> list[int]:
    """gunicorn's workers: the master's children (its command line, not an unrelated process)."""
    return [pid for pid in children_of(master) if any("gunicorn" in p for p in _cmdline(pid))]


def wait_for_workers(master: int, count: int, seconds: float = 30) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        workers = worker_pids(master)
        if len(workers) >= count:
            return workers
        time.sleep(0.1)
    raise AssertionError(f"gunicorn did not have {count} workers within {seconds}s")


class Periodically:
    """A thread calling `action` every `interval` seconds (jittered), at most `max_times`."""

    def __init__(
        self, action: Callable[[], object], *, interval: float, max_times: int, seed: int = 0
    ) -> None:
        self._action = action
        self._interval = interval
        self._max_times = max_times
        self._rng = random.Random(seed)  # noqa: S311 (timing jitter, not a secret)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.times = 0
        self.errors: list[str] = []

    def __enter__(self) -> Periodically:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)
        assert not self._thread.is_alive(), "the periodic action hung"

    def _run(self) -> None:
        while self.times < self._max_times:
            if self._stop.wait(self._interval * self._rng.uniform(0.75, 1.25)):
                return
            try:
                self._action()
            except Exception as error:  # reported by the test
                self.errors.append(repr(error))
                return
            self.times += 1


def kill_a_worker(master: int, rng: random.Random) -> Callable[[], None]:
    """An action that SIGKILLs one of `master`'s workers, chosen at random."""

    def kill() -> None:
        workers = worker_pids(master)
        if workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(rng.choice(workers), signal.SIGKILL)

    return kill


# ---------------------------------------------------------------------------------------------
# A private PostgreSQL instance


class NoPostgres(Exception):
    """PostgreSQL's server binaries (or the user to run them as) are not on this machine."""


@dataclass(frozen=True)
class PrivatePostgres:
    bin_dir: Path
    root: Path
    port: int
    run_as: tuple[str, ...]

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, program: str, *args: str, timeout: float = 120) -> None:
        result = subprocess.run(
            [*self.run_as, str(self.bin_dir / program), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{program} {' '.join(args)} exited with {result.returncode}:\n"
                f"{result.stdout}{result.stderr}\n{self.server_log()}"
            )

    def server_log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def restart(self) -> None:
        """Stop at once (open transactions are cut off) and start again, waiting until up."""
        self.run(
            "pg_ctl",
            "restart",
            "-D",
            str(self.data_dir),
            # The new server's output goes to the log: on a pipe of ours it would hold it open.
            "-l",
            str(self.log_file),
            "-m",
            "fast",
            "-w",
            "-t",
            "60",
        )

    def create_database(self, name: str) -> str:
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)


def _server_binaries() -> Path:
    candidates = []
    for initdb in Path("/usr/lib/postgresql").glob("*/bin/initdb"):
        version = initdb.parent.parent.name
        if version.isdigit() and (initdb.parent / "pg_ctl").exists():
            candidates.append((int(version), initdb.parent))
    if not candidates:
        raise NoPostgres(
            "PostgreSQL's server binaries (/usr/lib/postgresql/*/bin/initdb and pg_ctl) are not "
            "installed: apt-get install postgresql"
        )
    return max(candidates)[1]


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this test's own, stopped and deleted afterwards whatever happens.

    As root it runs as the `postgres` user (initdb refuses root) in a temporary folder that
    user owns; otherwise as the current user.
    """
    bin_dir = _server_binaries()
    run_as: tuple[str, ...] = ()
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise NoPostgres("there is no `postgres` user to run a PostgreSQL server as") from None
        runuser = shutil.which("runuser")
        if runuser is None:
            raise NoPostgres("runuser is missing: cannot run PostgreSQL as the postgres user")
        run_as = (runuser, "-u", "postgres", "--")
    root = Path(tempfile.mkdtemp(prefix="portal-private-pg-"))
    server = PrivatePostgres(bin_dir=bin_dir, root=root, port=free_port(), run_as=run_as)
    started = False
    try:
        server.socket_dir.mkdir()
        if owner is not None:
            for path in (root, server.socket_dir):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        server.run(
            "initdb",
            "-D",
            str(server.data_dir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {server.port} "
            f"-c unix_socket_directories={server.socket_dir}"
        )
        started = True
        server.run(
            "pg_ctl",
            "start",
            "-D",
            str(server.data_dir),
            "-l",
            str(server.log_file),
            "-o",
            options,
            "-w",
            "-t",
            "60",
        )
        yield server
    finally:
        if started:
            _stop(server)
        shutil.rmtree(root, ignore_errors=True)


def _stop(server: PrivatePostgres) -> None:
    try:
        server.run("pg_ctl", "stop", "-D", str(server.data_dir), "-m", "immediate", "-w")
    except (RuntimeError, subprocess.TimeoutExpired):
        # Whatever state it is in, the postmaster named in its pid file must not outlive the test.
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
            if "postgres" in " ".join(_cmdline(pid)):
                os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------------------------------------
# What was stored, against what was attempted


@dataclass
class Ledger:
    """The counts a run ends with, and every problem found (a correct run has none)."""

    attempted: int = 0
    acknowledged: int = 0
    stored: int = 0
    acknowledged_and_stored: int = 0
    told_not_saved: int = 0
    no_answer: int = 0
    no_answer_but_stored: int = 0
    unexpected: int = 0
    forms_not_served: int = 0
    staged_leftovers: int = 0
    published_leftovers: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self, title: str) -> str:
        return (
            f"\n{title}: attempted {self.attempted}, acknowledged {self.acknowledged}, "
            f"stored {self.stored} (acknowledged and stored, matching: "
            f"{self.acknowledged_and_stored}), told not saved {self.told_not_saved}, "
            f"no answer {self.no_answer} (of which stored: {self.no_answer_but_stored}), "
            f"unexpected answers {self.unexpected}; forms not served {self.forms_not_served}; "
            f"left in the blob folder by killed requests: {self.staged_leftovers} staged, "
            f"{self.published_leftovers} published"
        )


def derive_lookups(salt: bytes, codenames: Sequence[str]) -> list[bytes]:
    """Each codename's lookup token as the site derives it (its salt, its default cost)."""
    hasher = CodenameHasher(salt=salt, cost=HashCost())
    return [hasher.derive(codename).lookup for codename in codenames]


def _lookups_in_parallel(salt: bytes, codenames: Sequence[str]) -> list[bytes]:
    """Argon2id holds the GIL: derive in one process per core (it costs ~0.1 s per codename)."""
    if not codenames:
        return []
    processes = max(1, min(os.cpu_count() or 1, 4))
    chunks = [list(codenames[index::processes]) for index in range(processes)]
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(derive_lookups, [salt] * processes, chunks))
    lookups: list[bytes] = [b""] * len(codenames)
    for index, chunk_result in enumerate(results):
        lookups[index::processes] = chunk_result
    return lookups


def check_ledger(
    submitters: Submitters,
    *,
    database_url: str,
    blob_dir: Path,
    codename_salt: bytes,
    identity: crypto.Identity,
) -> Ledger:
    """Every acknowledged attempt is stored exactly once, under its codename, decrypting to its
    canary (and its file); every stored report is an attempt that was acknowledged or got no
    answer (a worker killed after the commit); nothing is stored half-way; the only files in the
    blob folder without a row are what killed requests left (ciphertext, removed by the
    retention run's orphan pass)."""
    outcomes = submitters.outcomes()
    ledger = Ledger(
        attempted=len(submitters.attempts),
        acknowledged=outcomes[ACKNOWLEDGED],
        told_not_saved=outcomes[NOT_SAVED],
        no_answer=outcomes[NO_ANSWER],
        unexpected=outcomes[UNEXPECTED],
        forms_not_served=submitters.forms_not_served,
    )
    ledger.problems.extend(f"a submitter failed: {error}" for error in submitters.errors)
    ledger.problems.extend(
        f"{attempt.canary}: unexpected answer {attempt.status}: {attempt.detail!r}"
        for attempt in submitters.attempts
        if attempt.outcome == UNEXPECTED
    )
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            reports = session.scalars(select(Report).options(selectinload(Report.sealed))).all()
            attachments = session.scalars(select(Attachment)).all()
            messages = len(session.scalars(select(Message.id)).all())
    finally:
        engine.dispose()
    ledger.stored = len(reports)
    if messages:
        ledger.problems.append(f"{messages} messages are stored, though none was sent")
    check = _LedgerCheck(ledger, submitters.attempts, identity)
    check.identify(reports)
    check.acknowledged_are_stored(codename_salt)
    check.nothing_half_way(attachments, blob_dir)
    check.blob_folder(attachments, blob_dir)
    return ledger


class _LedgerCheck:
    def __init__(
        self, ledger: Ledger, attempts: Sequence[Attempt], identity: crypto.Identity
    ) -> None:
        self.ledger = ledger
        self.problems = ledger.problems
        self.attempts = {attempt.canary: attempt for attempt in attempts}
        self.identity = identity
        self.report_of: dict[str, Report] = {}

    def identify(self, reports: Sequence[Report]) -> None:
        """Which attempt each stored report is: once each, and only ones that may be stored."""
        for report in reports:
            try:
                document = unseal_document(report.content, [self.identity])
            except Exception as error:  # any failure to open is the finding
                self.problems.append(f"report {report.id} does not decrypt: {error!r}")
                continue
            found = _CANARY.findall(str(document.get("answers", {}).get("account", "")))
            if len(found) != 1 or found[0] not in self.attempts:
                self.problems.append(f"report {report.id} is no attempt's (canaries {found})")
                continue
            canary = found[0]
            attempt = self.attempts[canary]
            if canary in self.report_of:
                first = self.report_of[canary].id
                self.problems.append(f"{canary} is stored twice: {first} and {report.id}")
                continue
            self.report_of[canary] = report
            if attempt.outcome == NO_ANSWER:
                self.ledger.no_answer_but_stored += 1
            elif attempt.outcome != ACKNOWLEDGED:
                self.problems.append(
                    f"{canary} is stored, but its sender was told: {attempt.outcome}"
                )
            if document.get("kind") != attempt.kind.replace("-", "_"):
                self.problems.append(f"{canary} is stored as a {document.get('kind')} report")

    def acknowledged_are_stored(self, codename_salt: bytes) -> None:
        """Every acknowledged attempt is stored, and its codename opens it."""
        acknowledged = [a for a in self.attempts.values() if a.outcome == ACKNOWLEDGED]
        lookups = _lookups_in_parallel(codename_salt, [a.codename or "" for a in acknowledged])
        for attempt, lookup in zip(acknowledged, lookups, strict=True):
            report = self.report_of.get(attempt.canary)
            if report is None:
                self.problems.append(f"{attempt.canary} was acknowledged but is not stored: LOST")
            elif report.codename_hash != lookup:
                self.problems.append(f"{attempt.canary}: its codename does not open {report.id}")
            else:
                self.ledger.acknowledged_and_stored += 1

    def nothing_half_way(self, attachments: Sequence[Attachment], blob_dir: Path) -> None:
        """Each stored report has exactly the file it was sent with, which decrypts to it."""
        rows_of: dict[uuid.UUID, list[Attachment]] = {}
        for row in attachments:
            rows_of.setdefault(row.report_id, []).append(row)
        for canary, report in self.report_of.items():
            sent = self.attempts[canary].file
            rows = rows_of.pop(report.id, [])
            if len(rows) != (sent is not None):
                self.problems.append(f"{canary}: {len(rows)} attachments for {sent is not None:d}")
            for row in rows:
                problem = _blob_problem(blob_dir / f"{row.id}.age", sent or b"", self.identity)
                if problem:
                    self.problems.append(f"{canary}: attachment {row.id} {problem}")
        self.problems.extend(f"attachments of an unknown report {key}" for key in rows_of)

    def blob_folder(self, attachments: Sequence[Attachment], blob_dir: Path) -> None:
        """Published blobs have rows, but for those of uploads killed between publishing and
        committing; the other files are staged uploads of killed requests."""
        known = {row.id for row in attachments}
        unanswered_files = {
            attempt.file
            for attempt in self.attempts.values()
            if attempt.outcome == NO_ANSWER and attempt.file is not None
        }
        for path in sorted(blob_dir.iterdir()) if blob_dir.is_dir() else []:
            if _STAGED.fullmatch(path.name):
                self.ledger.staged_leftovers += 1
            elif (match := _PUBLISHED.fullmatch(path.name)) is None:
                self.problems.append(f"an unexpected file in the blob folder: {path.name}")
            elif uuid.UUID(match.group(1)) not in known:
                if _decrypted(path, self.identity) in unanswered_files:
                    self.ledger.published_leftovers += 1
                else:
                    self.problems.append(f"blob {path.name} has no row, and is no killed upload")
        leftovers = self.ledger.staged_leftovers + self.ledger.published_leftovers
        if leftovers > len(unanswered_files):
            self.problems.append(
                f"{leftovers} blob files are left over, but only {len(unanswered_files)} "
                "uploads went unanswered"
            )


def _decrypted(path: Path, identity: crypto.Identity) -> bytes | None:
    try:
        return crypto.decrypt(path.read_bytes(), [identity])
    except Exception:  # a blob that does not decrypt is the finding
        return None


def _blob_problem(path: Path, expected: bytes, identity: crypto.Identity) -> str | None:
    if not path.exists():
        return "has no blob file"
    if _decrypted(path, identity) != expected:
        return "has a blob that does not decrypt to the file sent"
    return None
