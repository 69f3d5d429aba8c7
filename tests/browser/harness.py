"""What the browser tests work with: the site under test, a browser visit, its request log."""

from __future__ import annotations

import datetime
import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from portal import crypto
from portal.costs import HashCost
from portal.custody.host_key import HostKey
from portal.custody.host_key import load_or_create as load_or_create_host_key
from portal.models import Attachment, Author, Message, Report, Role
from portal.services import reviewers, transaction
from portal.services.codenames import CodenameHasher, CodenameKeys
from portal.services.documents import unseal_document
from portal.services.followup import add_message
from portal.submit import CODENAME_SALT_FILE
from tests.support.reviewers import enrolled_reviewer, totp_code

if TYPE_CHECKING:
    from tests.browser.playwright_api import (
        BrowserContext,
        ConsoleMessage,
        Dialog,
        Page,
        Request,
    )


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class SubmitSite:
    """The submission site under gunicorn, with the folders and database behind it."""

    url: str
    database_url: str
    instance_dir: Path
    identity: crypto.HybridIdentity
    engine: Engine

    @property
    def origin(self) -> str:
        return origin_of(self.url)

    @property
    def blob_dir(self) -> Path:
        return self.instance_dir / "blobs"

    def blob_path(self, attachment_id: uuid.UUID) -> Path:
        return self.blob_dir / f"{attachment_id}.age"

    def stored_database_bytes(self) -> bytes:
        """Every byte of the SQLite database as it is on disk, write-ahead log included."""
        database = self.instance_dir / "portal.sqlite3"
        return b"".join(
            path.read_bytes()
            for path in (database, database.with_name(f"{database.name}-wal"))
            if path.exists()
        )

    def codename_keys(self, codename: str) -> CodenameKeys:
        """What the site derives from `codename`, with its salt and its (default) cost."""
        salt = (self.instance_dir / CODENAME_SALT_FILE).read_bytes()
        return CodenameHasher(salt=salt, cost=HashCost()).derive(codename)

    def report_id_for(self, codename: str) -> uuid.UUID:
        """The id of the report `codename` opens; fails the test if it opens none."""
        with Session(self.engine) as session:
            report_id = session.scalar(
                select(Report.id).where(Report.codename_hash == self.codename_keys(codename).lookup)
            )
            assert report_id is not None, "no stored report matches the codename the page showed"
            return report_id

    def count_reports(self) -> int:
        with Session(self.engine) as session:
            return len(session.scalars(select(Report.id)).all())

    def unsealed_report(self, report_id: uuid.UUID) -> tuple[Report, dict[str, Any]]:
        """The report row and its content, decrypted with the inspectorate's identity."""
        with Session(self.engine) as session:
            report = session.get_one(Report, report_id, options=[selectinload(Report.sealed)])
            session.expunge_all()
        return report, unseal_document(report.content, [self.identity])

    def attachments_of(self, report_id: uuid.UUID) -> list[tuple[uuid.UUID, dict[str, Any]]]:
        """The report's own attachments (not its messages'): id and decrypted description."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(Attachment).where(
                    Attachment.report_id == report_id, Attachment.message_id.is_(None)
                )
            ).all()
            return [(row.id, unseal_document(row.details, [self.identity])) for row in rows]

    def messages_of(self, report_id: uuid.UUID) -> list[tuple[Author, dict[str, Any]]]:
        """The report's conversation, oldest first, decrypted with the inspectorate's identity."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(Message).where(Message.report_id == report_id).order_by(Message.position)
            ).all()
            return [(row.author, unseal_document(row.content, [self.identity])) for row in rows]

    def add_message(self, report_id: uuid.UUID, author: Author, text: str) -> None:
        """Add to the conversation with the review side's service code, on a session of its
        own: an inspector's reply, or (to set a page up quickly) a submitter's message."""
        with Session(self.engine) as session:
            add_message(
                session,
                session.get_one(Report, report_id),
                author=author,
                text=text,
                recipients=[self.identity.recipient()],
                today=datetime.datetime.now(datetime.UTC).date(),
            )
            transaction.finish(session)


@dataclass
class RequestLog:
    """The address of every request a browser context or page made, in order."""

    origin: str
    urls: list[str] = field(default_factory=list)

    def record(self, request: Request) -> None:
        self.urls.append(request.url)

    def assert_all_to_portal(self) -> None:
        """Every request went to the portal's own origin, and there were some."""
        assert self.urls, "the browser made no requests at all"
        elsewhere = [url for url in self.urls if origin_of(url) != self.origin]
        assert not elsewhere, f"the browser requested from other origins than {self.origin}: " + (
            ", ".join(elsewhere)
        )


@dataclass(frozen=True)
class BrowserVisit:
    """One test's browser context, the page it works in, and the log of its requests."""

    context: BrowserContext
    page: Page
    requests: RequestLog
    site: SubmitSite

    def goto(self, path: str) -> int:
        """Open `path` on the site; the response's status."""
        response = self.page.goto(self.site.url + path)
        assert response is not None, f"no response for {path}"
        return response.status


@dataclass(frozen=True)
class ReviewerAccount:
    """A reviewer the test created, knowing what the reviewer's authenticator app knows."""

    username: str
    password: str
    totp_secret: bytes

    def code(self, *, steps_ahead: int = 0) -> str:
        """The six digits the app shows now (or `steps_ahead` 30-second steps later: a code is
        accepted once only, and one step of drift is allowed for a second sign-in)."""
        return totp_code(self.totp_secret, time.time() + 30 * steps_ahead)


@dataclass(frozen=True)
class ReviewSite:
    """The review site under gunicorn, sharing the submission site's database and keys."""

    url: str
    identity: crypto.HybridIdentity
    engine: Engine

    @property
    def origin(self) -> str:
        return origin_of(self.url)

    @property
    def instance_dir(self) -> Path:
        """The review site's instance folder: the one its SQLite database is in (both sites
        are served with that folder as PORTAL_INSTANCE_DIR, the database inside it)."""
        database = self.engine.url.database
        assert database, "the browser tests' database is a SQLite file in the instance folder"
        return Path(database).parent

    @property
    def host_key(self) -> HostKey:
        """The review site's review-host key, from its instance folder (as the site loads it)."""
        return load_or_create_host_key(self.instance_dir)

    def create_account(self, role: Role, *, prefix: str = "reviewer") -> ReviewerAccount:
        """An enrolled account, made as `portal users add --enrolled` makes one, at the site's
        own (default) costs."""
        username = f"{prefix}-{uuid.uuid4().hex[:8]}"
        password = f"lantern {secrets.token_hex(4)} meadow orbit"
        policy = reviewers.AccountPolicy()
        with Session(self.engine) as session:
            _reviewer, totp_secret = enrolled_reviewer(
                session,
                username=username,
                role=role,
                password=password,
                identity=self.identity,
                policy=policy,
                host_key=self.host_key,
                now=datetime.datetime.now(datetime.UTC).replace(tzinfo=None),
            )
            session.commit()
        return ReviewerAccount(username, password, totp_secret)


@dataclass
class PageWatch:
    """What a scripted page did that it never should: dialogs opened, errors in its console
    (a Content-Security-Policy violation is one), exceptions thrown by script."""

    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        url = str(message.location.get("url", ""))
        # Chromium asks every site for /favicon.ico by itself; the portal has none (a 404).
        if message.type == "error" and urlsplit(url).path != "/favicon.ico":
            self.console_errors.append(f"{message.text} ({url})")

    def assert_quiet(self) -> None:
        assert not self.dialogs, f"the page opened dialogs: {self.dialogs}"
        assert not self.page_errors, f"script ran and failed: {self.page_errors}"
        assert not self.console_errors, f"the console logged errors: {self.console_errors}"


@dataclass(frozen=True)
class ReviewVisit:
    """A reviewer's browser context (JavaScript on), its page, request log and watch."""

    context: BrowserContext
    page: Page
    requests: RequestLog
    watch: PageWatch
    site: ReviewSite

    def goto(self, path: str) -> int:
        """Open `path` on the review site; the response's status."""
        response = self.page.goto(self.site.url + path)
        assert response is not None, f"no response for {path}"
        return response.status
