"""Load benchmark of the submission site under real gunicorn, against a bare Flask endpoint.

Run with `make bench-load`, or `.venv/bin/python benchmarks/load.py --help` for the options.
It starts two gunicorn servers on 127.0.0.1 with the portal's own gunicorn configuration: one
serving `wsgi:submit_app`, one serving `benchmarks.bare_app:app`, a Flask app whose POST endpoint
reads the body and answers 200. Both get the same closed-loop load from the same client (each
submitter: GET the form, POST the report, again until the time is up) at several concurrencies,
with a text-only report and with a 5 MiB attachment, after one 1 GiB upload each. The machines the
portal is built on have two cores and are noisy, and the client shares them with the servers, so
every figure is printed as a ratio to the bare endpoint measured in the same run, interleaved
with it; benchmarks/README.md says why that endpoint is the baseline. Traffic goes only to
127.0.0.1; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import importlib.metadata
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from report import load_average, machine_basics, render_pairs, render_table

from portal import crypto, gunicorn_config, migrate
from portal.config import PROJECT_ROOT, sqlite_url
from portal.costs import HashCost
from portal.recipients import RECIPIENTS_FILE
from portal.services.codenames import CodenameHasher, new_codename

HOST = "127.0.0.1"
MIB = 1024 * 1024
FORM_PATH = "/report/other"
PORTAL_APP = "wsgi:submit_app"
BARE_APP = "benchmarks.bare_app:app"
GUNICORN = Path(sys.executable).with_name("gunicorn")
BOUNDARY = "load-bench-7f3a9c2e41d8b605"
# The account a text-only report carries: about 1 KB, a plausible few paragraphs.
ACCOUNT = (
    "My senior probation officer told me in supervision to record a lower risk of serious "
    "harm so that more cases could be allocated to the team. "
) * 7
# Where the portal's pages carry what the client needs (as in tests/support/submitting.py).
CSRF_TOKEN = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')
CODENAME = b'class="codename-words"'
# The bare endpoint has no token; the client sends one of a real token's length instead.
DUMMY_TOKEN = "x" * 91
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
SAMPLE_INTERVAL = 0.1
# A worker whose peak grew less than this during the 1 GiB upload kept its memory flat.
FLAT_MEMORY_MIB = 64
WARMUP_SECONDS = 3.0
WARMUP_SUBMITTERS = 8
# Far above anything the benchmark sends, so the site's own per-process limit never answers 429.
SUBMISSIONS_PER_MINUTE = 1_000_000
SERVERS = ("portal", "bare")


def log(message: str) -> None:
    """Progress goes to stderr so that stdout holds only the results."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- formatting


def format_ms(nanoseconds: float | None) -> str:
    if nanoseconds is None:
        return "-"
    if nanoseconds >= 1e10:
        return f"{nanoseconds / 1e9:.1f} s"
    if nanoseconds >= 1e9:
        return f"{nanoseconds / 1e9:.2f} s"
    return f"{nanoseconds / 1e6:.1f} ms"


def format_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.3f}x" if ratio < 0.1 else f"{ratio:.2f}x"


# --------------------------------------------------------------------------- machine info


def machine_info(database: str) -> list[tuple[str, str]]:
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("flask", "werkzeug")
    )
    return [
        *machine_basics(),
        ("gunicorn", importlib.metadata.version("gunicorn")),
        ("flask, werkzeug", versions),
        (
            "gunicorn settings",
            f"portal.gunicorn_config: {gunicorn_config.worker_class}, "
            f"{gunicorn_config.workers} workers x {gunicorn_config.threads} threads, "
            "for both servers",
        ),
        ("database", database),
    ]


# --------------------------------------------------------------------------- /proc readings


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid`: a gunicorn master's workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def status_kib(pid: int, key: str) -> int | None:
    """One `kB` line of /proc/<pid>/status (VmRSS, VmHWM), or None if the process is gone."""
    with contextlib.suppress(OSError):
        for entry in Path(f"/proc/{pid}/status").read_text().splitlines():
            if entry.startswith(f"{key}:"):
                return int(entry.split()[1])
    return None


def reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (`5` to clear_refs, Linux 4.0 and later)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def cpu_seconds(pids: Iterable[int]) -> float:
    """User plus system CPU time the processes have used so far."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time all cores have spent on anything but idling and waiting for I/O (/proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:9]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields)
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class MemoryWatch:
    """Peak RSS of a server's workers over one measurement.

    At the start each worker's high-water mark (VmHWM) is reset to its current RSS, so the
    VmHWM read at the end is that worker's peak during the measurement, however brief. VmRSS is
    also sampled every 100 ms, which is the only reading left if the kernel refuses the reset.
    """

    def __init__(self, workers: list[int]) -> None:
        self.workers = workers
        self.start_kib = {pid: status_kib(pid, "VmRSS") or 0 for pid in workers}
        self.reset = all(reset_peak(pid) for pid in workers)
        self.sampled_kib = dict(self.start_kib)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL):
            for pid in self.workers:
                rss = status_kib(pid, "VmRSS") or 0
                self.sampled_kib[pid] = max(self.sampled_kib[pid], rss)

    def sampled(self) -> dict[int, int]:
        """Each worker's highest sampled RSS in KiB so far."""
        return dict(self.sampled_kib)

    def stop(self) -> dict[int, int]:
        """Each worker's peak RSS in KiB during the measurement."""
        self._stop.set()
        self._thread.join()
        peaks = {}
        for pid in self.workers:
            high = status_kib(pid, "VmHWM") if self.reset else None
            peaks[pid] = max(high or 0, self.sampled_kib[pid])
        return peaks


# --------------------------------------------------------------------------- servers


@dataclass
class Server:
    """One gunicorn master serving one app on 127.0.0.1, and its workers."""

    name: str
    app: str
    port: int
    process: subprocess.Popen[bytes]
    error_log: Path
    workers: list[int] = field(default_factory=list)

    def pids(self) -> list[int]:
        return [self.process.pid, *self.workers]

    def check_workers(self) -> None:
        """Stop the run if gunicorn replaced a worker: its memory and CPU figures would be wrong."""
        current = children_of(self.process.pid)
        if current != self.workers:
            raise SystemExit(
                f"{self.name}: gunicorn's workers changed from {self.workers} to {current} "
                f"(a worker died or timed out); see {self.error_log}"
            )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def gunicorn(name: str, app: str, env: Mapping[str, str], workdir: Path) -> Iterator[Server]:
    """Serve `app` with exactly the portal's gunicorn config; the access log stays off, as in
    production, so that writing it costs neither server anything."""
    port = free_port()
    error_log = workdir / f"{name}-error.log"
    command = [
        str(GUNICORN),
        "-c",
        "python:portal.gunicorn_config",
        "--bind",
        f"{HOST}:{port}",
        "--error-logfile",
        str(error_log),
        "--capture-output",
        app,
    ]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env={**os.environ, **env}, start_new_session=True
    )
    server = Server(name, app, port, process, error_log)
    try:
        wait_until_ready(server)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_until_ready(server: Server) -> None:
    """Wait until gunicorn listens and all its workers have booted."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log_text = server.error_log.read_text(errors="replace")
            raise SystemExit(
                f"{server.name}: gunicorn exited with {server.process.returncode}\n{log_text}"
            )
        workers = children_of(server.process.pid)
        try:
            socket.create_connection((HOST, server.port), timeout=1).close()
        except OSError:
            time.sleep(0.1)
            continue
        if len(workers) == gunicorn_config.workers:
            server.workers = workers
            return
        time.sleep(0.1)
    log_text = server.error_log.read_text(errors="replace")
    raise SystemExit(f"{server.name}: gunicorn was not ready in {READY_TIMEOUT:.0f} s\n{log_text}")


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Payload:
    """What one submission sends: the report's answers and, maybe, one attachment."""

    name: str
    attachment: bytes | None

    def parts(self, token: str) -> list[bytes]:
        """The multipart body as parts, so that the attachment is sent without being copied.

        A browser without JavaScript sends the file field even when no file was chosen, as an
        empty part with an empty file name; so does this client for the text-only report.
        """
        fields = {"csrf_token": token, "urgent": "no", "account": ACCOUNT}
        head = "".join(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in fields.items()
        )
        filename = "evidence.bin" if self.attachment is not None else ""
        head += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="attachments"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        if self.attachment is None:
            return [head.encode() + tail]
        return [head.encode(), self.attachment, tail]


def attachment_bytes(size: int) -> bytes:
    """Random bytes that start with text, so that no metadata filter claims them by chance."""
    return b"load-bench attachment\n" + os.urandom(size - 22)


class Refused(Exception):
    """The server answered, but not with what a successful step returns."""


@dataclass
class Session:
    """A submitter's connection to one server: one keep-alive connection, as a browser keeps."""

    server: Server
    timeout: float
    connection: http.client.HTTPConnection | None = None
    reused: bool = False

    def request(
        self, method: str, body: Iterable[bytes] | None, headers: dict[str, str]
    ) -> http.client.HTTPResponse:
        """Send one request; a kept-alive connection the server had closed is opened again once."""
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(HOST, self.server.port, self.timeout)
                self.reused = False
            try:
                self.connection.request(method, FORM_PATH, body=body, headers=headers)
                response = self.connection.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt or not self.reused or method != "GET":
                    raise
                continue
            self.reused = True
            return response
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def read_response(session: Session, response: http.client.HTTPResponse, step: str) -> bytes:
    body = response.read()
    if response.will_close:
        session.close()
    if response.status != 200:
        raise Refused(f"{step} {response.status}")
    return body


def get_form(session: Session) -> tuple[str, str]:
    """GET the form; return the CSRF token and the session cookie a browser would send back."""
    response = session.request("GET", None, {})
    cookies = [value.split(";", 1)[0] for value in response.headers.get_all("Set-Cookie") or []]
    page = read_response(session, response, "GET")
    if session.server.name == "bare":
        return DUMMY_TOKEN, ""
    match = CSRF_TOKEN.search(page)
    if match is None or not cookies:
        raise Refused("GET 200 without a token or cookie")
    return match.group(1).decode(), "; ".join(cookies)


def post_report(session: Session, parts: list[bytes], cookie: str) -> bytes:
    headers = {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(sum(len(part) for part in parts)),
    }
    if cookie:
        headers["Cookie"] = cookie
    response = session.request("POST", parts, headers)
    page = read_response(session, response, "POST")
    if session.server.name == "portal" and CODENAME not in page:
        raise Refused("POST 200 without a codename")
    return page


# --------------------------------------------------------------------------- closed-loop load


@dataclass
class Submitter:
    """One simulated submitter's results: each successful cycle's timings, and its failures."""

    get_ns: list[int] = field(default_factory=list)
    post_ns: list[int] = field(default_factory=list)
    finished_at: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


def submit_until(
    server: Server,
    payload: Payload,
    start: threading.Event,
    deadline: list[float],
    result: Submitter,
    *,
    timeout: float,
    max_cycles: int,
) -> None:
    """GET the form and POST a report, again and again, starting no cycle after the deadline.

    A failed cycle is counted by its reason and the next one starts on a fresh connection.
    """
    session = Session(server, timeout)
    start.wait()
    try:
        for _ in range(max_cycles):
            if time.monotonic() >= deadline[0]:
                break
            try:
                began = time.perf_counter_ns()
                token, cookie = get_form(session)
                got = time.perf_counter_ns()
                post_report(session, payload.parts(token), cookie)
                done = time.perf_counter_ns()
            except Refused as refusal:
                result.errors[str(refusal)] += 1
                session.close()
            except (OSError, http.client.HTTPException) as error:
                result.errors[type(error).__name__] += 1
                session.close()
            else:
                result.get_ns.append(got - began)
                result.post_ns.append(done - got)
                result.finished_at.append(time.monotonic())
    finally:
        session.close()


@dataclass
class Measurement:
    """One server under one load: what the submitters saw and what the server used."""

    server: str
    payload: str
    submitters: int
    duration: float
    elapsed: float
    cycles: int
    errors: Counter[str]
    get_ns: list[int]
    post_ns: list[int]
    client_cpu: float
    server_cpu: float
    other_cpu: float
    start_rss_kib: dict[int, int]
    peak_rss_kib: dict[int, int]
    unfinished: int

    @property
    def per_second(self) -> float:
        return self.cycles / self.elapsed if self.elapsed > 0 else 0.0

    def post_percentile(self, percent: int) -> float | None:
        return percentile(self.post_ns, percent)


def percentile(values: list[int], percent: int) -> float | None:
    """The `percent`th percentile by linear interpolation (statistics' "inclusive" method)."""
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def run_load(
    server: Server,
    payload: Payload,
    submitters: int,
    duration: float,
    *,
    timeout: float,
    max_cycles: int,
) -> Measurement:
    """`submitters` threads loop GET + POST for `duration` seconds; cycles under way at the end
    finish (each socket operation bounded by `timeout`).

    Throughput is the successful cycles divided by the time from the start to the last success:
    the server is kept busy from the first moment (every submitter starts at once) to nearly the
    last, so this is the steady rate, not diluted by an idle tail.
    """
    server.check_workers()
    results = [Submitter() for _ in range(submitters)]
    start, deadline = threading.Event(), [0.0]
    threads = [
        threading.Thread(
            target=submit_until,
            args=(server, payload, start, deadline, result),
            kwargs={"timeout": timeout, "max_cycles": max_cycles},
            daemon=True,
        )
        for result in results
    ]
    for thread in threads:
        thread.start()
    watch = MemoryWatch(server.workers)
    server_cpu, client_cpu = cpu_seconds(server.pids()), own_cpu_seconds()
    machine_cpu = machine_busy_seconds()
    began = time.monotonic()
    deadline[0] = began + duration
    start.set()
    hard_stop = began + duration + 2 * timeout + 10
    for thread in threads:
        thread.join(max(0.0, hard_stop - time.monotonic()))
    ended = time.monotonic()
    server_cpu = cpu_seconds(server.pids()) - server_cpu
    client_cpu = own_cpu_seconds() - client_cpu
    machine_cpu = machine_busy_seconds() - machine_cpu
    peaks = watch.stop()
    server.check_workers()
    finished = [moment for result in results for moment in result.finished_at]
    errors: Counter[str] = Counter()
    for result in results:
        errors.update(result.errors)
    return Measurement(
        server=server.name,
        payload=payload.name,
        submitters=submitters,
        duration=duration,
        elapsed=(max(finished) - began) if finished else ended - began,
        cycles=len(finished),
        errors=errors,
        get_ns=[ns for result in results for ns in result.get_ns],
        post_ns=[ns for result in results for ns in result.post_ns],
        client_cpu=client_cpu / (ended - began),
        server_cpu=server_cpu / (ended - began),
        other_cpu=max(0.0, machine_cpu - server_cpu - client_cpu) / (ended - began),
        start_rss_kib=watch.start_kib,
        peak_rss_kib=peaks,
        unfinished=sum(thread.is_alive() for thread in threads),
    )


# --------------------------------------------------------------------------- the 1 GiB upload


@dataclass
class LargeUpload:
    """One streamed upload of `size_mib` MiB to one server."""

    server: str
    round_number: int
    size_mib: int
    elapsed: float
    start_rss_kib: dict[int, int]
    streaming_rss_kib: dict[int, int]
    peak_rss_kib: dict[int, int]

    @property
    def mib_per_s(self) -> float:
        return self.size_mib / self.elapsed

    def growth_mib(self, peaks: dict[int, int]) -> float:
        """The most any worker's RSS rose above where it started."""
        return max(peaks[pid] - self.start_rss_kib[pid] for pid in peaks) / 1024


def streamed_body(
    head: bytes, block: bytes, blocks: int, tail: bytes, sent: Callable[[], None]
) -> Iterator[bytes]:
    """The request body, made as it is sent: the client never holds more than one block.

    `sent` is called once the file's last block has gone, before the server answers: what the
    workers' memory did until then is what streaming the file cost, apart from what the view
    does with the finished report (the Argon2id codename hash, the database, the template).
    """
    yield head
    for _ in range(blocks):
        yield block
    sent()
    yield tail


def upload_large(
    server: Server, block: bytes, size_mib: int, timeout: float, round_number: int
) -> LargeUpload:
    """GET the form, then POST one `size_mib` MiB file with a Content-Length, timing the POST."""
    server.check_workers()
    session = Session(server, timeout)
    try:
        token, cookie = get_form(session)
        head, _empty, tail = Payload("large", b"").parts(token)
        blocks = size_mib * MIB // len(block)
        headers = {
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(len(head) + blocks * len(block) + len(tail)),
        }
        if cookie:
            headers["Cookie"] = cookie
        os.sync()
        watch = MemoryWatch(server.workers)
        streaming: dict[int, int] = {}
        body = streamed_body(head, block, blocks, tail, lambda: streaming.update(watch.sampled()))
        began = time.perf_counter()
        response = session.request("POST", body, headers)
        page = read_response(session, response, "POST")
        elapsed = time.perf_counter() - began
        peaks = watch.stop()
    finally:
        session.close()
    server.check_workers()
    if server.name == "portal" and CODENAME not in page:
        raise SystemExit("the portal answered the 1 GiB upload without a codename")
    return LargeUpload(
        server.name, round_number, size_mib, elapsed, watch.start_kib, streaming, peaks
    )


def check_stored_blob(
    blob_dir: Path, identity: crypto.Identity, expected_sha256: str, size_mib: int
) -> str:
    """Decrypt the largest blob with the inspectorate's identity and compare it with what was sent.

    Then delete it: the benchmark keeps no 1 GiB file longer than it needs.
    """
    blobs = [path for path in blob_dir.iterdir() if path.is_file()]
    if not blobs:
        raise SystemExit(f"no blob was stored in {blob_dir}")
    blob = max(blobs, key=lambda path: path.stat().st_size)
    digest = hashlib.sha256()

    class Sink:
        def write(self, data: bytes) -> int:
            digest.update(data)
            return len(data)

    with blob.open("rb") as reader:
        crypto.decrypt_stream(reader, Sink(), [identity])
    size = blob.stat().st_size
    blob.unlink()
    if digest.hexdigest() != expected_sha256:
        raise SystemExit(f"the stored blob {blob.name} does not decrypt to the uploaded file")
    overhead = size - size_mib * MIB
    return f"stored as an age file of {size:,} bytes (+{overhead:,}), decrypts to the upload"


# --------------------------------------------------------------------------- setup


def portal_instance(
    workdir: Path, database_url: str | None
) -> tuple[dict[str, str], crypto.Identity]:
    """A throwaway instance, keys folder and database; the environment for both servers."""
    identity = crypto.generate_identity("pq")
    keys = workdir / "keys"
    keys.mkdir()
    (keys / RECIPIENTS_FILE).write_text(f"# load benchmark recipient\n{identity.recipient()}\n")
    instance = workdir / "instance"
    instance.mkdir(mode=0o700)
    url = database_url or sqlite_url(instance / "portal.sqlite3")
    migrate.upgrade(url)
    env = {
        "PORTAL_INSTANCE_DIR": str(instance),
        "PORTAL_KEYS_DIR": str(keys),
        "PORTAL_DATABASE_URL": url,
        "PORTAL_PLAIN_HTTP": "1",
        "PORTAL_SUBMISSIONS_PER_MINUTE": str(SUBMISSIONS_PER_MINUTE),
    }
    return env, identity


def argon2_reference_ms(runs: int = 7) -> float:
    """Median milliseconds of one codename hash at the portal's cost, in this process.

    Every submission pays it once, on one core, holding `HashCost.memory_kib` of memory while it
    runs: a floor under the portal's POST that no bare endpoint has, and the main reason a
    worker's peak memory grows with the number of submissions it handles at once.
    """
    hasher = CodenameHasher(salt=os.urandom(16), cost=HashCost())
    codename = new_codename()
    hasher.derive(codename)
    times = []
    for _ in range(runs):
        began = time.perf_counter_ns()
        hasher.derive(codename)
        times.append(time.perf_counter_ns() - began)
    return statistics.median(times) / 1e6


def describe_database(url: str) -> str:
    if url.startswith("sqlite"):
        return "SQLite (WAL, synchronous=FULL) in a temporary instance folder on disk"
    return "PostgreSQL at " + url.split("@", 1)[-1]


# --------------------------------------------------------------------------- reporting


@dataclass
class Pair:
    """The portal and the bare endpoint under the same load."""

    portal: Measurement
    bare: Measurement

    def throughput_ratio(self) -> float | None:
        if not self.bare.per_second:
            return None
        return self.portal.per_second / self.bare.per_second

    def p50_ratio(self) -> float | None:
        portal, bare = self.portal.post_percentile(50), self.bare.post_percentile(50)
        return portal / bare if portal and bare else None


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


def per_worker(values: dict[int, int]) -> str:
    return " / ".join(mib(values[pid]) for pid in sorted(values))


def error_text(errors: Counter[str]) -> str:
    return str(sum(errors.values()))


def load_table(pairs: list[Pair]) -> str:
    rows = []
    for pair in pairs:
        for measurement in (pair.portal, pair.bare):
            is_portal = measurement is pair.portal
            rows.append(
                [
                    f"{measurement.payload}, {measurement.submitters}",
                    measurement.server,
                    f"{measurement.cycles:,}",
                    f"{measurement.per_second:,.1f}",
                    format_ms(measurement.post_percentile(50)),
                    format_ms(measurement.post_percentile(95)),
                    format_ms(measurement.post_percentile(99)),
                    error_text(measurement.errors),
                    format_ratio(pair.throughput_ratio()) if is_portal else "-",
                    format_ratio(pair.p50_ratio()) if is_portal else "-",
                ]
            )
    header = [
        "report, submitters",
        "server",
        "done",
        "per s",
        "POST p50",
        "POST p95",
        "POST p99",
        "errors",
        "x bare per s",
        "x bare p50",
    ]
    return render_table(header, rows)


def resource_table(pairs: list[Pair]) -> str:
    rows = []
    for pair in pairs:
        for measurement in (pair.portal, pair.bare):
            rows.append(
                [
                    f"{measurement.payload}, {measurement.submitters}",
                    measurement.server,
                    f"{measurement.elapsed:.1f} s",
                    format_ms(percentile(measurement.get_ns, 50)),
                    f"{measurement.server_cpu:.2f}",
                    f"{measurement.client_cpu:.2f}",
                    f"{measurement.other_cpu:.2f}",
                    per_worker(measurement.start_rss_kib),
                    per_worker(measurement.peak_rss_kib),
                ]
            )
    header = [
        "report, submitters",
        "server",
        "measured",
        "GET p50",
        "server CPU",
        "client CPU",
        "others' CPU",
        "RSS at start MiB",
        "peak RSS MiB",
    ]
    return render_table(header, rows)


def large_ratios(uploads: list[LargeUpload]) -> dict[int, float]:
    """Each round's portal MiB/s over the bare endpoint's in the same round."""
    speeds = {(upload.server, upload.round_number): upload.mib_per_s for upload in uploads}
    rounds = sorted({upload.round_number for upload in uploads})
    return {number: speeds["portal", number] / speeds["bare", number] for number in rounds}


def large_table(uploads: list[LargeUpload]) -> str:
    ratios = large_ratios(uploads)
    rows = [
        [
            f"{upload.round_number}, {upload.server}",
            f"{upload.mib_per_s:,.0f}",
            f"{upload.elapsed:.2f} s",
            format_ratio(ratios[upload.round_number]) if upload.server == "portal" else "-",
            per_worker(upload.start_rss_kib),
            per_worker(upload.streaming_rss_kib),
            f"{upload.growth_mib(upload.streaming_rss_kib):.0f}",
            per_worker(upload.peak_rss_kib),
            f"{upload.growth_mib(upload.peak_rss_kib):.0f}",
        ]
        for upload in uploads
    ]
    header = [
        "round, server",
        "MiB/s",
        "time",
        "x bare",
        "RSS at start",
        "peak streaming",
        "growth",
        "peak whole POST",
        "growth",
    ]
    return render_table(header, rows)


def error_notes(pairs: list[Pair]) -> list[str]:
    notes = []
    for pair in pairs:
        for measurement in (pair.portal, pair.bare):
            if measurement.errors:
                reasons = ", ".join(
                    f"{count} x {reason}" for reason, count in measurement.errors.most_common()
                )
                notes.append(
                    f"{measurement.server}, {measurement.payload}, "
                    f"{measurement.submitters} submitters: {reasons}"
                )
            if measurement.unfinished:
                notes.append(
                    f"{measurement.server}, {measurement.payload}, {measurement.submitters} "
                    f"submitters: {measurement.unfinished} still waiting at the hard stop"
                )
    return notes


def summary(pairs: list[Pair]) -> list[str]:
    lines = []
    for pair in pairs:
        ratio = pair.throughput_ratio()
        if ratio:
            lines.append(
                f"{pair.portal.payload}, {pair.portal.submitters} submitters: the portal completes "
                f"{1 / ratio:,.1f}x fewer submissions a second than the bare endpoint; its "
                f"median POST takes {format_ratio(pair.p50_ratio())} as long"
            )
    return lines


# --------------------------------------------------------------------------- main


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--submitters",
        default="1,10,50,200",
        help="comma-separated concurrencies (default 1,10,50,200)",
    )
    parser.add_argument(
        "--duration", type=float, default=15.0, help="seconds of load per text-only scenario"
    )
    parser.add_argument(
        "--attachment-duration",
        type=float,
        default=10.0,
        help="seconds of load per scenario with an attachment",
    )
    parser.add_argument("--attachment-mib", type=int, default=5, help="attachment size in MiB")
    parser.add_argument(
        "--large-mib", type=int, default=1024, help="size of the single large upload in MiB"
    )
    parser.add_argument(
        "--large-rounds", type=int, default=3, help="large uploads to each server (0: none)"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds any one socket operation may take"
    )
    parser.add_argument(
        "--max-cycles",
        type=int,
        default=100_000,
        help="most GET + POST cycles one submitter makes in one scenario",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="portal database (default: SQLite in a temporary instance folder); it is migrated",
    )
    arguments = parser.parse_args(argv)
    arguments.submitter_counts = [int(value) for value in arguments.submitters.split(",")]
    return arguments


def warm_up(servers: dict[str, Server], payloads: list[Payload], timeout: float) -> None:
    """A few seconds of load on each server so that no worker pays first-request costs in a
    measurement (imports, template compilation, the database's first connections)."""
    for payload in payloads:
        for server in servers.values():
            log(f"warm-up: {server.name}, {payload.name}")
            measurement = run_load(
                server, payload, WARMUP_SUBMITTERS, WARMUP_SECONDS, timeout=timeout, max_cycles=50
            )
            if measurement.cycles == 0:
                raise SystemExit(f"{server.name} accepted no submission: {measurement.errors}")


def run_large(
    servers: dict[str, Server],
    arguments: argparse.Namespace,
    blob_dir: Path,
    identity: crypto.Identity,
) -> tuple[list[LargeUpload], str]:
    block = attachment_bytes(MIB)
    blocks = arguments.large_mib
    expected = hashlib.sha256()
    for _ in range(blocks):
        expected.update(block)
    uploads, verdict = [], ""
    for round_number in range(arguments.large_rounds):
        order = SERVERS if round_number % 2 == 0 else SERVERS[::-1]
        for name in order:
            log(f"large upload {round_number + 1}/{arguments.large_rounds}: {name}")
            uploads.append(
                upload_large(
                    servers[name], block, arguments.large_mib, arguments.timeout, round_number + 1
                )
            )
            if name == "portal":
                log("  decrypting the stored blob to check it")
                verdict = check_stored_blob(
                    blob_dir, identity, expected.hexdigest(), arguments.large_mib
                )
    return uploads, verdict


def run_loads(servers: dict[str, Server], arguments: argparse.Namespace) -> list[Pair]:
    """Each load on both servers back to back, the first to go alternating, so that drift in
    the machine's speed falls on both alike."""
    payloads = [
        (Payload("text", None), arguments.duration),
        (
            Payload(
                f"{arguments.attachment_mib} MiB", attachment_bytes(arguments.attachment_mib * MIB)
            ),
            arguments.attachment_duration,
        ),
    ]
    pairs, turn = [], 0
    for payload, duration in payloads:
        for submitters in arguments.submitter_counts:
            results: dict[str, Measurement] = {}
            order = SERVERS if turn % 2 == 0 else SERVERS[::-1]
            turn += 1
            for name in order:
                log(f"{payload.name}, {submitters} submitters, {duration:.0f} s: {name}")
                os.sync()
                results[name] = run_load(
                    servers[name],
                    payload,
                    submitters,
                    duration,
                    timeout=arguments.timeout,
                    max_cycles=arguments.max_cycles,
                )
            pairs.append(Pair(results["portal"], results["bare"]))
    return pairs


@dataclass
class Run:
    """Everything one run measured, and what the reader needs to repeat it."""

    info: list[tuple[str, str]]
    command: str
    max_file_mb: int
    pairs: list[Pair]
    uploads: list[LargeUpload]
    verdict: str
    argon2_ms: float
    elapsed: float = 0.0


def measure(arguments: argparse.Namespace, command: str) -> Run:
    """Start both servers on a throwaway instance, measure, stop them and delete the instance."""
    with tempfile.TemporaryDirectory(prefix="load-bench-") as temporary:
        workdir = Path(temporary)
        env, identity = portal_instance(workdir, arguments.database_url)
        max_file_mb = max(100, arguments.large_mib + 76)
        env["PORTAL_MAX_FILE_MB"] = str(max_file_mb)
        info = machine_info(describe_database(env["PORTAL_DATABASE_URL"]))
        log("timing one Argon2id codename hash in this process")
        argon2_ms = argon2_reference_ms()
        with contextlib.ExitStack() as stack:
            servers = {
                "portal": stack.enter_context(gunicorn("portal", PORTAL_APP, env, workdir)),
                "bare": stack.enter_context(gunicorn("bare", BARE_APP, env, workdir)),
            }
            warm_up(
                servers,
                [Payload("text", None), Payload("1 MiB", attachment_bytes(MIB))],
                arguments.timeout,
            )
            uploads, verdict = (
                run_large(servers, arguments, Path(env["PORTAL_INSTANCE_DIR"]) / "blobs", identity)
                if arguments.large_rounds
                else ([], "")
            )
            pairs = run_loads(servers, arguments)
        info.append(("load average at end", load_average()))
    return Run(info, command, max_file_mb, pairs, uploads, verdict, argon2_ms)


def print_loads(run: Run, arguments: argparse.Namespace) -> None:
    print(
        f"1. Submissions under load: closed loop, {arguments.duration:.0f} s per text-only load "
        f"and {arguments.attachment_duration:.0f} s per {arguments.attachment_mib} MiB load, "
        "portal and bare endpoint back to back"
    )
    print(load_table(run.pairs))
    print("   done: successful GET + POST cycles; per s: those cycles a second (submissions/s);")
    print("   POST p50..p99: the POST alone, from sending it to reading the whole answer;")
    print("   x bare per s: portal/bare throughput (below 1 = fewer); x bare p50: portal/bare")
    print("   median POST (above 1 = slower)")
    for line in summary(run.pairs):
        print(f"   - {line}")
    cost = HashCost()
    print(
        f"   reference: one Argon2id codename hash at the portal's cost ({cost.memory_kib:,} KiB, "
        f"{cost.iterations} pass, {cost.lanes} lane) takes {run.argon2_ms:.0f} ms in the client's"
    )
    print("   process (median of 7, before the servers start): every submission pays it once")
    notes = error_notes(run.pairs)
    if notes:
        print("   errors:")
        for line in notes:
            print(f"   - {line}")
    print()
    print("2. Time measured, CPU and the workers' memory in the same loads")
    print(resource_table(run.pairs))
    print("   measured: from the start to the last successful cycle; server CPU: cores used by")
    print("   gunicorn's master and workers; client CPU: cores used by this benchmark's client;")
    print("   others' CPU: cores used by everything else on the machine (the other server idles):")
    print("   server + client + others near 2 means the two cores were saturated;")
    print("   RSS: each worker's (two workers); peak RSS from VmHWM, reset at the start")


def print_large(run: Run, arguments: argparse.Namespace) -> None:
    print(
        f"3. One {arguments.large_mib} MiB upload streamed with a Content-Length, "
        f"{arguments.large_rounds} rounds to each server, interleaved"
    )
    print(large_table(run.uploads))
    print("   x bare: the portal's MiB/s over the bare endpoint's in the same round (below 1 =")
    print("   slower); time: the POST, to the end of the answer; memory in MiB, per worker;")
    print("   peak streaming: highest RSS sampled (every 100 ms) until the file's last byte was")
    print("   sent; peak whole POST: VmHWM, reset at the start, read after the answer; growth:")
    print("   the largest rise of one worker above its RSS at start")
    streaming = max(upload.growth_mib(upload.streaming_rss_kib) for upload in run.uploads)
    whole = max(upload.growth_mib(upload.peak_rss_kib) for upload in run.uploads)
    verdict = "flat" if streaming < FLAT_MEMORY_MIB else "NOT flat"
    print(
        f"   - memory while streaming {verdict}: a worker grew by at most {streaming:.0f} MiB "
        f"(limit {FLAT_MEMORY_MIB}); over the whole POST by at most {whole:.0f} MiB"
    )
    ratios = list(large_ratios(run.uploads).values())
    print(
        f"   - the portal streams an upload at {format_ratio(statistics.median(ratios))} the bare "
        f"endpoint's speed (median of {len(ratios)} rounds; "
        f"{format_ratio(min(ratios))}..{format_ratio(max(ratios))})"
    )
    print(f"   - the portal answered with its confirmation page and a codename; {run.verdict}")


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    started = time.monotonic()
    run = measure(arguments, shlex.join([Path(sys.executable).name, *sys.argv]))
    run.elapsed = time.monotonic() - started
    print("Machine")
    print(render_pairs([*run.info, ("command", run.command)]))
    print()
    print(
        f"Portal settings for this run: PORTAL_SUBMISSIONS_PER_MINUTE={SUBMISSIONS_PER_MINUTE} "
        f"(default 30 per process), PORTAL_MAX_FILE_MB={run.max_file_mb} (default 100), "
        "PORTAL_PLAIN_HTTP=1; everything else default"
    )
    print()
    print_loads(run, arguments)
    if run.uploads:
        print()
        print_large(run, arguments)
    print()
    print(f"Total run time {run.elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
