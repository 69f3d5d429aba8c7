"""Fixtures for tests in a real browser: the submission site under gunicorn, seen by Chromium.

One gunicorn and one Chromium serve the whole session; each test gets a fresh browser context
(its own cookies, nothing shared) with JavaScript off, as in Tor Browser's safest mode, and a log
of every request the browser made, so each test can prove nothing went to another origin.
The database and the blob folder are the server's own, so tests check what was stored by
decrypting it with the inspectorate's identity, as an inspector's browser never could.

The review site runs under a second gunicorn beside it, on the same instance folder, keys and
database, as on a single host. Reviewers' contexts have JavaScript on, as inspectors' browsers
do, and watch their pages for dialogs and console errors as well as logging every request.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from portal import crypto, db, migrate
from portal.config import PROJECT_ROOT, sqlite_url
from portal.recipients import RECIPIENTS_FILE
from tests.browser.harness import (
    BrowserVisit,
    PageWatch,
    RequestLog,
    ReviewSite,
    ReviewVisit,
    SubmitSite,
)
from tests.support.components import unavailable
from tests.support.gunicorn import gunicorn

if TYPE_CHECKING:
    from tests.browser.playwright_api import Browser, BrowserContext, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
# Without these Chromium tries to reach the internet as it starts, and as root it needs
# --no-sandbox. Playwright gives every launch a fresh, empty --user-data-dir of its own (and
# refuses the flag from us), deleting it when the browser closes.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# A page of this site answers in milliseconds, but a busy 2-core machine can stall for seconds.
ACTION_TIMEOUT_MS = 20_000
WELSH_CATALOGUE = PROJECT_ROOT / "portal" / "translations" / "cy" / "LC_MESSAGES" / "messages"


@pytest.fixture(scope="session")
def browser_keys_dir(
    tmp_path_factory: pytest.TempPathFactory, inspectorate_identity: crypto.HybridIdentity
) -> Path:
    """A keys folder holding the test inspectorate's recipient and nothing else."""
    path = tmp_path_factory.mktemp("browser-keys")
    (path / RECIPIENTS_FILE).write_text(f"# test recipient\n{inspectorate_identity.recipient()}\n")
    return path


@pytest.fixture(scope="session")
def browser_instance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("browser-site") / "instance"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture(scope="session")
def browser_database_url(browser_instance_dir: Path) -> str:
    """A SQLite database in the instance folder, migrated to the newest schema."""
    url = sqlite_url(browser_instance_dir / "portal.sqlite3")
    migrate.upgrade(url)
    return url


def _site_env(keys_dir: Path, instance_dir: Path, database_url: str) -> dict[str, str]:
    """The environment both sites are served with: one instance folder, keys folder and
    database, as on a single host."""
    return {
        "PORTAL_INSTANCE_DIR": str(instance_dir),
        "PORTAL_KEYS_DIR": str(keys_dir),
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_BLOB_DIR": str(instance_dir / "blobs"),
        "PORTAL_PLAIN_HTTP": "1",
        # The global limits protect a real site from floods; this session sends a few dozen
        # reports and codenames within a minute, which is not what is being tested here.
        "PORTAL_SUBMISSIONS_PER_MINUTE": "1000",
        "PORTAL_CODENAME_ATTEMPTS_PER_MINUTE": "1000",
    }


@pytest.fixture(scope="session")
def submit_site(
    tmp_path_factory: pytest.TempPathFactory,
    browser_keys_dir: Path,
    browser_instance_dir: Path,
    browser_database_url: str,
    inspectorate_identity: crypto.HybridIdentity,
) -> Iterator[SubmitSite]:
    """The submission site served by real gunicorn over plain HTTP on loopback."""
    env = _site_env(browser_keys_dir, browser_instance_dir, browser_database_url)
    engine = db.make_engine(browser_database_url)
    try:
        with gunicorn("wsgi:submit_app", env, tmp_path_factory.mktemp("browser-logs")) as server:
            yield SubmitSite(
                url=server.url,
                database_url=browser_database_url,
                instance_dir=browser_instance_dir,
                identity=inspectorate_identity,
                engine=engine,
            )
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def review_site(
    tmp_path_factory: pytest.TempPathFactory,
    browser_keys_dir: Path,
    browser_instance_dir: Path,
    browser_database_url: str,
    inspectorate_identity: crypto.HybridIdentity,
) -> Iterator[ReviewSite]:
    """The review site served by its own gunicorn, beside the submission site: the same
    instance folder, keys folder and database, over plain HTTP on loopback. Its costs (Argon2id,
    scrypt) are the defaults, which the environment cannot lower."""
    env = _site_env(browser_keys_dir, browser_instance_dir, browser_database_url)
    engine = db.make_engine(browser_database_url)
    try:
        with gunicorn("wsgi:review_app", env, tmp_path_factory.mktemp("review-logs")) as server:
            yield ReviewSite(url=server.url, identity=inspectorate_identity, engine=engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if importlib.util.find_spec("playwright") is None:
        unavailable("Playwright is not installed: run make test (pip install -e '.[test]')")
    from tests.browser.playwright_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless; never a downloaded browser."""
    if not CHROMIUM.is_file():
        unavailable(f"Chromium is not installed at {CHROMIUM}: apt-get install chromium")
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
    yield chromium
    chromium.close()


def _new_context(browser: Browser, *, javascript: bool) -> BrowserContext:
    context = browser.new_context(java_script_enabled=javascript)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    return context


@pytest.fixture
def visit(browser: Browser, submit_site: SubmitSite) -> Iterator[BrowserVisit]:
    """A fresh browser context with JavaScript off, as a submitter in Tor Browser's safest mode,
    logging every request made from any of its pages."""
    context = _new_context(browser, javascript=False)
    requests = RequestLog(origin=submit_site.origin)
    context.on("request", requests.record)
    yield BrowserVisit(
        context=context, page=context.new_page(), requests=requests, site=submit_site
    )
    context.close()


ReviewVisitOpener = Callable[..., ReviewVisit]
"""Opens a fresh reviewer's context: `open_review_visit()`, or `open_review_visit(bypass_csp=True)`
for a browser that ignores the site's Content-Security-Policy. The caller closes it."""


@pytest.fixture(scope="session")
def open_review_visit(browser: Browser, review_site: ReviewSite) -> ReviewVisitOpener:
    """Reviewers' contexts, with JavaScript on as in any inspector's browser, each logging its
    requests and watching its page for dialogs and console errors. Ignoring the CSP proves
    that what a page holds is inert by itself, not only because the policy forbids script."""

    def open_one(*, bypass_csp: bool = False) -> ReviewVisit:
        context = browser.new_context(java_script_enabled=True, bypass_csp=bypass_csp)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        requests, watch = RequestLog(origin=review_site.origin), PageWatch()
        context.on("request", requests.record)
        page = context.new_page()
        watch.attach(page)
        return ReviewVisit(
            context=context, page=page, requests=requests, watch=watch, site=review_site
        )

    return open_one


@pytest.fixture(scope="session")
def open_submit_visit(browser: Browser, submit_site: SubmitSite) -> Callable[[], BrowserVisit]:
    """Submitters' contexts with JavaScript off, for fixtures wider than one test (the `visit`
    fixture is one test's). The caller closes it."""

    def open_one() -> BrowserVisit:
        context = _new_context(browser, javascript=False)
        requests = RequestLog(origin=submit_site.origin)
        context.on("request", requests.record)
        return BrowserVisit(
            context=context, page=context.new_page(), requests=requests, site=submit_site
        )

    return open_one


@pytest.fixture
def review_visits(open_review_visit: ReviewVisitOpener) -> Iterator[Callable[[], ReviewVisit]]:
    """Opens as many reviewer contexts as a test needs (one per person); closes them after."""
    opened: list[ReviewVisit] = []

    def open_one() -> ReviewVisit:
        opened.append(open_review_visit())
        return opened[-1]

    yield open_one
    for visit in opened:
        visit.context.close()


@pytest.fixture(scope="session")
def scripted_page(browser: Browser) -> Iterator[Page]:
    """One page with JavaScript on, for axe-core only, shared by every axe check.

    With script execution disabled Chromium runs no timers, so axe.run() (injected over the
    DevTools protocol) never settles. The portal's pages have no script of their own and forbid
    any (script-src 'none'), so they render and behave the same with JavaScript on. Sharing the
    page keeps axe's compiled code warm in its renderer, which halves the cost of each check.
    """
    context = _new_context(browser, javascript=True)
    yield context.new_page()
    context.close()


@pytest.fixture
def scripted_visit(scripted_page: Page, submit_site: SubmitSite) -> Iterator[BrowserVisit]:
    """The axe page, with no cookie left from an earlier test and a request log of its own."""
    scripted_page.context.clear_cookies()
    requests = RequestLog(origin=submit_site.origin)
    scripted_page.on("request", requests.record)
    yield BrowserVisit(
        context=scripted_page.context, page=scripted_page, requests=requests, site=submit_site
    )
    scripted_page.remove_listener("request", requests.record)


@pytest.fixture(scope="session")
def welsh_catalogue() -> None:
    """The compiled Welsh catalogue, as fresh as its source: `make test` compiles it."""
    compiled, source = WELSH_CATALOGUE.with_suffix(".mo"), WELSH_CATALOGUE.with_suffix(".po")
    if not compiled.is_file() or (
        source.is_file() and compiled.stat().st_mtime < source.stat().st_mtime
    ):
        unavailable(
            f"the Welsh catalogue {compiled.relative_to(PROJECT_ROOT)} is missing or older than "
            "its .po: run .venv/bin/pybabel compile -d portal/translations -l cy (make test does)"
        )
