"""Benchmark of the review site's inbox with many reports, against a static page of the same app.

Run with `make bench-inbox`, or `.venv/bin/python benchmarks/inbox_bench.py --help` for the
options. It seeds one database of 10,000 reports and one of 100,000, on SQLite and, when a
server answers, on PostgreSQL, and times requests made in-process through Flask's test client:
the inbox's first page, a filtered page and a deep page, with the app's stylesheet, all sizes'
pages interleaved in the same rounds. The machines the portal is built on have two cores and are
noisy, so every figure is printed as a ratio to that stylesheet, measured in the same rounds;
benchmarks/README.md says why it is the baseline.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import importlib.metadata
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from flask import Flask
from flask.testing import FlaskClient
from report import load_average, machine_basics, render_pairs, render_table
from sqlalchemy import Engine, event, insert
from sqlalchemy.orm import Session

from portal import create_review_app, crypto, db, migrate, request_db
from portal.config import PROJECT_ROOT, Settings, sqlite_url
from portal.custody import epochs
from portal.custody.host_key import load_or_create as load_or_create_host_key
from portal.domain import REGIONS
from portal.models import (
    Outcome,
    Priority,
    Report,
    ReportContent,
    ReportKind,
    ReportStatus,
    Reviewer,
    Role,
)
from portal.recipients import RECIPIENTS_FILE
from portal.review.context import utc_now
from portal.services import reviewers
from portal.services.documents import seal_document
from portal.services.inbox import PAGE_SIZE
from portal.wordlist import random_words

DATABASES = ("sqlite", "postgresql")
STATIC = "static stylesheet"
PAGES: dict[str, str] = {
    STATIC: "/static/portal.css",
    "inbox, first page": "/",
    "inbox, filtered": "/?status=new&region=london&overdue=1",
    "inbox, page 50": "/?page=50",
}
WARMUP_ROUNDS = 3
BATCH_SIZE = 5_000
SEED = 20261125

# The reports' clear columns: shares in percent, or probabilities.
KINDS = {ReportKind.RISK_RATING: 45, ReportKind.WORKLOAD: 45, ReportKind.OTHER: 10}
STATUSES = {
    ReportStatus.NEW: 15,
    ReportStatus.ACKNOWLEDGED: 15,
    ReportStatus.ASSESSING: 20,
    ReportStatus.ESCALATED: 10,
    ReportStatus.REFERRED: 10,
    ReportStatus.CLOSED: 30,
}
PRIORITIES = {Priority.LOW: 20, Priority.NORMAL: 65, Priority.HIGH: 15}
URGENT_SHARE = 0.05
NO_REGION_SHARE = 0.30
ASSIGNED_SHARE = 0.60
FOLLOW_UP_ENDED_SHARE = 0.20
HISTORY_DAYS = 3 * 365
REVIEWER_COUNT = 20

_CSRF_TOKEN = re.compile(r'name="[^"]*csrf_token" type="hidden" value="([^"]+)"')
_MATCHING = re.compile(r'<p class="body">(\d+) report')
_COST = re.compile(r"  \(cost=[^)]*\)")


def log(message: str) -> None:
    """Progress goes to stderr so that stdout holds only the results."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- formatting


def format_ms(nanoseconds: float) -> str:
    milliseconds = nanoseconds / 1e6
    return f"{milliseconds:.3f} ms" if milliseconds < 1 else f"{milliseconds:.2f} ms"


def format_ratio(ratio: float) -> str:
    return f"{ratio:.0f}x" if ratio >= 100 else f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.1f}x"


# --------------------------------------------------------------------------- machine info


def machine_info() -> list[tuple[str, str]]:
    return [
        *machine_basics(),
        ("sqlalchemy", sqlalchemy.__version__),
        ("flask", importlib.metadata.version("flask")),
    ]


# --------------------------------------------------------------------------- databases


def postgres_support() -> ModuleType:
    """tests/support/postgres.py: find a server as the test suite does, make a throwaway database.

    Imported on demand, from the checkout, because the tests are not an installed package.
    """
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    return importlib.import_module("tests.support.postgres")


@contextlib.contextmanager
def empty_database(name: str, workdir: Path) -> Iterator[str]:
    """The URL of an empty database of kind `name`; a PostgreSQL one is dropped afterwards."""
    if name == "sqlite":
        yield sqlite_url(workdir / "portal.sqlite3")
        return
    postgres = postgres_support()
    with postgres.throwaway_database(postgres.find_server_url()) as url:
        yield url


def describe_database(engine: Engine) -> str:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            version = connection.exec_driver_sql("select sqlite_version()").scalar_one()
            return f"SQLite {version}, a file in a temporary directory"
        version = connection.exec_driver_sql("show server_version").scalar_one()
        where = engine.url.host or "the local socket"
        return f"PostgreSQL {version.split()[0]} at {where}, a throwaway database"


def settle(engine: Engine) -> None:
    """Bring PostgreSQL's statistics to where autovacuum would soon have them after a bulk load.

    SQLite is left alone: the portal never runs ANALYZE there, so its planner works without
    statistics in production too.
    """
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")


# --------------------------------------------------------------------------- seeding


@dataclass(frozen=True)
class SealedReport:
    """One real report, sealed once: its bytes stand for every row's content.

    The inbox never decrypts, so a shared ciphertext costs the queries what distinct ones would
    (same length) while keeping seeding fast.
    """

    content: bytes
    reply_recipient: str


def sealed_report(recipients: Sequence[crypto.Recipient]) -> SealedReport:
    document = {
        "version": 1,
        "kind": ReportKind.RISK_RATING.value,
        "urgent": False,
        "region": "london",
        "answers": {
            "rosh_assessed": "high",
            "rosh_pressed": "medium",
            "mappa_level": "2",
            "pressed_by": "Senior probation officer",
            "how": "Told in supervision to rewrite the risk assessment before the panel. " * 6,
            "reason": "Caseload targets and the cost of approved premises. " * 4,
            "when_month": "9",
            "when_year": 2026,
            "case_current": "yes",
            "raised": "no",
            "raised_outcome": "",
            "account": "The assessment was changed after the meeting without new information. "
            * 10,
        },
    }
    reply_identity = crypto.generate_identity("pq")
    return SealedReport(seal_document(document, recipients), str(reply_identity.recipient()))


def pool(shares: dict[Any, int]) -> list[Any]:
    """A list to draw from uniformly that holds each value as often as its share says."""
    return [value for value, share in shares.items() for _ in range(share)]


@dataclass
class ReportMaker:
    """Rows for `reports` with realistic clear columns, reproducibly from a fixed seed."""

    today: datetime.date
    assignees: list[uuid.UUID]
    sealed: SealedReport
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))  # noqa: S311
    kinds: list[ReportKind] = field(default_factory=lambda: pool(KINDS))
    statuses: list[ReportStatus] = field(default_factory=lambda: pool(STATUSES))
    priorities: list[Priority] = field(default_factory=lambda: pool(PRIORITIES))
    regions: list[str] = field(default_factory=lambda: [value for value, _ in REGIONS])

    def row(self) -> dict[str, Any]:
        rng = self.rng
        received = self.today - datetime.timedelta(days=rng.randrange(HISTORY_DAYS))
        status = rng.choice(self.statuses)
        acknowledged = closed = None
        if status is not ReportStatus.NEW:
            acknowledged = min(self.today, received + datetime.timedelta(days=rng.randrange(11)))
        if status is ReportStatus.CLOSED and acknowledged is not None:
            closed = min(self.today, acknowledged + datetime.timedelta(days=rng.randint(1, 180)))
        follow_up = rng.random() >= FOLLOW_UP_ENDED_SHARE
        return {
            "id": uuid.UUID(int=rng.getrandbits(128), version=4),
            "kind": rng.choice(self.kinds),
            "urgent": rng.random() < URGENT_SHARE,
            "received_on": received,
            "status": status,
            "region": None if rng.random() < NO_REGION_SHARE else rng.choice(self.regions),
            "codename_hash": rng.randbytes(32) if follow_up else None,
            "reply_recipient": self.sealed.reply_recipient if follow_up else None,
            "priority": rng.choice(self.priorities),
            "assignee_id": rng.choice(self.assignees) if rng.random() < ASSIGNED_SHARE else None,
            "labels": "",
            "acknowledged_on": acknowledged,
            "closed_on": closed,
            "outcome": rng.choice(list(Outcome)) if closed else None,
        }

    def batches(self, count: int) -> Iterator[list[dict[str, Any]]]:
        for start in range(0, count, BATCH_SIZE):
            yield [self.row() for _ in range(min(BATCH_SIZE, count - start))]


def seed_reviewers(engine: Engine, count: int) -> list[uuid.UUID]:
    """Inspector accounts that only hold reports: never signed in, so a dummy password hash."""
    now = utc_now()
    rows = [
        {
            "id": uuid.uuid4(),
            "username": f"inspector-{number:02d}",
            "role": Role.INSPECTOR,
            "password_hash": "benchmark-not-a-password-hash",
            "failed_sign_ins": 0,
            "created_at": now,
        }
        for number in range(1, count + 1)
    ]
    with engine.begin() as connection:
        connection.execute(insert(Reviewer.__table__), rows)
    return [row["id"] for row in rows]


def seed_reports(engine: Engine, maker: ReportMaker, count: int) -> float:
    """Insert `count` more reports in one transaction, in batches; return the seconds it took."""
    started = time.perf_counter()
    with engine.begin() as connection:
        for batch in maker.batches(count):
            connection.execute(insert(Report.__table__), batch)
            contents = [{"report_id": row["id"], "content": maker.sealed.content} for row in batch]
            connection.execute(insert(ReportContent.__table__), contents)
    return time.perf_counter() - started


# --------------------------------------------------------------------------- signing in


@dataclass(frozen=True)
class Admin:
    username: str
    password: str
    totp_secret: bytes

    def code(self) -> str:
        """The code the administrator's authenticator app shows now (RFC 6238, as apps do)."""
        totp = TOTP(self.totp_secret, 6, SHA1(), 30)  # noqa: S303
        return totp.generate(time.time()).decode()


def create_admin(settings: Settings, identity: crypto.HybridIdentity) -> Admin:
    """An enrolled administrator, as `portal users add --enrolled` makes, at production costs."""
    policy = reviewers.AccountPolicy(
        password_cost=settings.password_cost, keyring_work_factor=settings.keyring_work_factor
    )
    username, password = "bench-admin", " ".join(random_words(5))
    # The review-host key the review site loads: its instance folder's, made on first use.
    host_key = load_or_create_host_key(settings.instance_dir)
    engine = db.make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            epochs.start_first_epoch(session, identity, today=utc_now().date())
            reviewer, code = reviewers.create_account(
                session,
                username=username,
                role=Role.ADMIN,
                epoch_keys=epochs.keys_held(session, identity, reviewer_id=None),
                policy=policy,
                host_key=host_key,
                now=utc_now(),
            )
            keyring = reviewers.open_keyring(reviewer, code, host_key)
            if keyring is None:
                raise SystemExit("the new account's enrolment code did not open its keyring")
            reviewers.enrol_without_confirmation(
                reviewer, keyring, password=password, policy=policy, host_key=host_key
            )
            session.commit()
    finally:
        engine.dispose()
    return Admin(username, password, keyring.totp_secret)


def signed_in_client(app: Flask, admin: Admin) -> FlaskClient:
    """A test client speaking HTTPS (the cookies are Secure) that has signed in through the form.

    Later requests reuse its session cookie; each one moves the session's last-seen time on, so
    it stays open while the benchmark keeps asking.
    """
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    form = client.get("/sign-in")
    token = _CSRF_TOKEN.search(form.text)
    if token is None:
        raise SystemExit("the sign-in page has no form")
    client.post(
        "/sign-in",
        data={
            "csrf_token": token.group(1),
            "username": admin.username,
            "password": admin.password,
            "code": admin.code(),
        },
    )
    if client.get("/").status_code != 200:
        raise SystemExit("signing in to the review site failed: the inbox did not answer 200")
    return client


# --------------------------------------------------------------------------- timing


def statement_kind(statement: str) -> str | None:
    """Which of the inbox's two report queries `statement` is: "count", "page" or neither."""
    folded = statement.lower()
    if "from reports" not in folded:
        return None
    if folded.lstrip().startswith("select count(*)"):
        return "count"
    return "page" if "limit" in folded else None


class QueryClock:
    """Time the database driver spends on the inbox's COUNT and page queries, per request.

    Hooks SQLAlchemy's cursor events on the app's engine: the few microseconds they add fall on
    inbox requests only, well inside the noise. The last statement of each kind is kept, with its
    parameters, to explain its plan.
    """

    def __init__(self, engine: Engine) -> None:
        self.spent: dict[str, int] = {}
        self.statements: dict[str, tuple[str, Any]] = {}
        self._started = 0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def reset(self) -> None:
        self.spent = {}
        self.statements = {}

    def _before(self, *_arguments: object) -> None:
        self._started = time.perf_counter_ns()

    def _after(
        self, _c: object, _cursor: object, statement: str, parameters: Any, *_rest: object
    ) -> None:
        elapsed = time.perf_counter_ns() - self._started
        kind = statement_kind(statement)
        if kind is not None:
            self.spent[kind] = self.spent.get(kind, 0) + elapsed
            self.statements[kind] = (statement, parameters)


@dataclass
class Samples:
    """One page's timings at one size, in nanoseconds, and what it last showed and asked."""

    request: list[int] = field(default_factory=list)
    count: list[int] = field(default_factory=list)
    page: list[int] = field(default_factory=list)
    matching: int | None = None
    statements: dict[str, tuple[str, Any]] = field(default_factory=dict)


def timed_get(client: FlaskClient, path: str) -> tuple[int, str]:
    """Server time of one request, in-process: the app's work and the whole body, no network."""
    started = time.perf_counter_ns()
    response = client.get(path)
    body = response.get_data()
    response.close()
    elapsed = time.perf_counter_ns() - started
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code}, not 200")
    return elapsed, body.decode("utf-8", "replace")


@dataclass
class Instance:
    """One size on one database: its own database, review app and signed-in client."""

    reports: int
    seeding_seconds: float
    engine: Engine
    app: Flask
    client: FlaskClient
    queries: QueryClock
    samples: dict[str, Samples] = field(default_factory=lambda: {name: Samples() for name in PAGES})

    def request(self, name: str, timed: bool) -> None:
        self.queries.reset()
        elapsed, body = timed_get(self.client, PAGES[name])
        if not timed:
            return
        page = self.samples[name]
        page.request.append(elapsed)
        page.count.append(self.queries.spent.get("count", 0))
        page.page.append(self.queries.spent.get("page", 0))
        page.statements = dict(self.queries.statements)
        if matching := _MATCHING.search(body):
            page.matching = int(matching.group(1))


def timed_rounds(instances: list[Instance], rounds: int) -> None:
    """Every page of every size once per round, the first to go rotating from round to round,
    after WARMUP_ROUNDS untimed rounds: all sizes share the machine's ups and downs alike."""
    requests = [(instance, name) for instance in instances for name in PAGES]
    for index in range(WARMUP_ROUNDS + rounds):
        shift = index % len(requests)
        for instance, name in requests[shift:] + requests[:shift]:
            instance.request(name, timed=index >= WARMUP_ROUNDS)


@dataclass
class PageResult:
    median: float
    count: float
    page: float
    matching: int | None


@dataclass
class Phase:
    """One size on one database: how long seeding took and each page's medians."""

    reports: int
    seeding_seconds: float
    pages: dict[str, PageResult]
    plans: dict[str, list[str]]


def phase(instance: Instance) -> Phase:
    pages = {
        name: PageResult(
            statistics.median(page.request),
            statistics.median(page.count),
            statistics.median(page.page),
            page.matching,
        )
        for name, page in instance.samples.items()
    }
    statements = {name: page.statements for name, page in instance.samples.items()}
    plans = query_plans(instance.engine, statements)
    return Phase(instance.reports, instance.seeding_seconds, pages, plans)


# --------------------------------------------------------------------------- one database


@dataclass
class DatabaseRun:
    name: str
    description: str = ""
    content_bytes: int = 0
    phases: list[Phase] = field(default_factory=list)


def write_keys(workdir: Path) -> crypto.HybridIdentity:
    """A keys folder holding only a recipients file, as on the review host."""
    identity = crypto.generate_identity("pq")
    if not isinstance(identity, crypto.HybridIdentity):
        raise SystemExit("generate_identity('pq') did not make a post-quantum identity")
    keys = workdir / "keys"
    keys.mkdir()
    (keys / RECIPIENTS_FILE).write_text(f"# benchmark recipient\n{identity.recipient()}\n")
    return identity


@contextlib.contextmanager
def seeded_instance(
    name: str, workdir: Path, size: int, identity: crypto.HybridIdentity, sealed: SealedReport
) -> Iterator[Instance]:
    """A database of `size` reports and a review app on it, signed in as an administrator.

    Every size draws its rows from the same seed, so a smaller database holds exactly the first
    rows of a larger one.
    """
    folder = workdir / f"{size}-reports"
    folder.mkdir()
    with empty_database(name, folder) as url:
        migrate.upgrade(url)
        settings = Settings(
            instance_dir=folder / "instance", keys_dir=workdir / "keys", database_url=url
        )
        engine = db.make_engine(url)
        app = create_review_app(settings)
        try:
            maker = ReportMaker(utc_now().date(), seed_reviewers(engine, REVIEWER_COUNT), sealed)
            log(f"{name}: seeding {size:,} reports")
            seconds = seed_reports(engine, maker, size)
            settle(engine)
            client = signed_in_client(app, create_admin(settings, identity))
            yield Instance(
                size, seconds, engine, app, client, QueryClock(request_db.get_engine(app))
            )
        finally:
            request_db.get_engine(app).dispose()
            engine.dispose()


def benchmark_database(name: str, sizes: list[int], rounds: int) -> DatabaseRun:
    """Seed one database per size, then time the pages of all sizes in the same rounds."""
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="inbox-bench-")))
        identity = write_keys(workdir)
        sealed = sealed_report([identity.recipient()])
        instances = [
            stack.enter_context(seeded_instance(name, workdir, size, identity, sealed))
            for size in sizes
        ]
        log(f"{name}: {rounds} rounds of {len(PAGES)} pages at {len(sizes)} sizes")
        timed_rounds(instances, rounds)
        largest = instances[-1]
        return DatabaseRun(
            name,
            describe_database(largest.engine),
            len(sealed.content),
            [phase(instance) for instance in instances],
        )


def query_plans(
    engine: Engine, statements: dict[str, dict[str, tuple[str, Any]]]
) -> dict[str, list[str]]:
    """The database's plan for the COUNT and page queries of the first and filtered pages.

    PostgreSQL's cost estimates are left out: they differ at every size, the plan's shape is
    what says whether an index is used.
    """
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    plans: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for page in ("inbox, first page", "inbox, filtered"):
            for kind, (statement, parameters) in sorted(statements[page].items()):
                rows = connection.exec_driver_sql(explain + statement, parameters).all()
                plans[f"{page}, {kind} query"] = [_COST.sub("", str(row[-1])) for row in rows]
    return plans


# --------------------------------------------------------------------------- reporting


def phase_rows(phases: list[Phase]) -> list[list[str]]:
    smallest = phases[0]
    rows = []
    for name in PAGES:
        for phase in phases:
            result = phase.pages[name]
            ratio = result.median / phase.pages[STATIC].median
            first = smallest.pages[name].median / smallest.pages[STATIC].median
            rows.append(
                [
                    name,
                    f"{phase.reports:,}",
                    "-" if result.matching is None else f"{result.matching:,}",
                    format_ms(result.median),
                    format_ratio(ratio),
                    "-" if name == STATIC else format_ratio(ratio / first),
                    share(result.count, result.median),
                    share(result.page, result.median),
                ]
            )
    return rows


def share(part: float, whole: float) -> str:
    return "-" if part == 0 else f"{format_ms(part)} {part / whole:4.0%}"


def growth_lines(phases: list[Phase]) -> list[str]:
    """For each inbox page, how its cost relative to the stylesheet grew, and which query grew."""
    if len(phases) < 2:
        return []
    small, large = phases[0], phases[-1]
    lines = []
    for name in list(PAGES)[1:]:
        before, after = small.pages[name], large.pages[name]
        growth = (after.median / large.pages[STATIC].median) / (
            before.median / small.pages[STATIC].median
        )
        replanned = any(
            small.plans.get(title) != plan
            for title, plan in large.plans.items()
            if title.startswith(f"{name},")
        )
        lines.append(
            f"{name}: x static grew {growth:.2f}x from {small.reports:,} to {large.reports:,} "
            f"reports ({large.reports / small.reports:.0f}x the reports); COUNT went "
            f"{format_ms(before.count)} -> {format_ms(after.count)}, page query "
            f"{format_ms(before.page)} -> {format_ms(after.page)}"
            + ("; planned differently at the two sizes (plans below)" if replanned else "")
        )
    return lines


def print_run(run: DatabaseRun, rounds: int) -> None:
    sizes = len(run.phases)
    print(
        f"Inbox on {run.description} per size: medians of {rounds} rounds, "
        f"{sizes * len(PAGES)} requests each ({sizes} sizes x {len(PAGES)} pages), interleaved"
    )
    print(
        f"   every report's content: one sealed report of {run.content_bytes:,} bytes, reused; "
        f"each size seeded in one transaction, in batches of {BATCH_SIZE:,}"
    )
    for phase in run.phases:
        rate = phase.reports / max(phase.seeding_seconds, 1e-9)
        print(
            f"   seeding {phase.reports:,} reports took {phase.seeding_seconds:.1f} s, "
            f"{rate:,.0f} a second"
        )
    header = ["page", "reports", "matching", "median", "x static"]
    header += [f"vs {run.phases[0].reports:,}", "COUNT query", "page query"]
    print(render_table(header, phase_rows(run.phases)))
    print("   x static: median time relative to the same app's stylesheet, in the same rounds;")
    print(f"   vs {run.phases[0].reports:,}: x static relative to the same page at that size;")
    print("   COUNT query, page query: median driver time in the request, and its share of it")
    for line in growth_lines(run.phases):
        print(f"   - {line}")
    for line in plan_lines(run.phases):
        print(f"   {line}")


def plan_lines(phases: list[Phase]) -> list[str]:
    """Each query's plan at the largest size, and at a smaller size only where it differs."""
    largest = phases[-1]
    lines = []
    for title, plan in largest.plans.items():
        shown = [largest] + [p for p in phases[:-1] if p.plans.get(title) != plan]
        for phase in shown:
            lines.append(f"plan at {phase.reports:,} reports, {title}:")
            lines += [f"   {step}" for step in phase.plans[title]]
    return lines


# --------------------------------------------------------------------------- main


def comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000",
        help="numbers of reports to time at, one database each (default 10000,100000)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=30,
        help=f"timed rounds of every page at each size, after {WARMUP_ROUNDS} warm-up rounds "
        "(default 30)",
    )
    parser.add_argument(
        "--databases",
        default=",".join(DATABASES),
        help="sqlite, postgresql or both (default both; PostgreSQL is skipped with a reason "
        "if no server answers)",
    )
    arguments = parser.parse_args(argv)
    try:
        arguments.sizes = sorted({int(size) for size in comma_list(arguments.sizes)})
    except ValueError:
        parser.error("--sizes must be whole numbers separated by commas")
    if not arguments.sizes or arguments.sizes[0] < 1:
        parser.error("--sizes must be at least 1")
    if arguments.rounds < 1:
        parser.error("--rounds must be at least 1")
    arguments.databases = comma_list(arguments.databases)
    unknown = set(arguments.databases) - set(DATABASES)
    if unknown or not arguments.databases:
        parser.error(f"--databases takes {' and '.join(DATABASES)}, got {arguments.databases}")
    return arguments


def available(name: str, skipped: list[str]) -> bool:
    """Whether `name` can be benchmarked here; if not, say why in `skipped`."""
    if name != "postgresql":
        return True
    postgres = postgres_support()
    try:
        postgres.find_server_url()
    except postgres.NoServer as error:
        skipped.append(f"PostgreSQL skipped: {error}; PORTAL_TEST_POSTGRES_URL can name one")
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    info = machine_info()
    started = time.perf_counter()
    skipped: list[str] = []
    runs = [
        benchmark_database(name, arguments.sizes, arguments.rounds)
        for name in arguments.databases
        if available(name, skipped)
    ]
    elapsed = time.perf_counter() - started
    info.append(("load average at end", load_average()))

    print("Machine")
    print(render_pairs(info))
    print()
    print(
        f"Pages, each requested in-process through Flask's test client, signed in as an "
        f"administrator ({PAGE_SIZE} reports a page):"
    )
    for name, path in PAGES.items():
        print(f"   {name:<18} {path}")
    for run in runs:
        print()
        print_run(run, arguments.rounds)
    if skipped:
        print()
        for line in skipped:
            print(line)
    print()
    print(f"Total run time {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
