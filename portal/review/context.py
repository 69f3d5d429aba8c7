"""What the review site's views need, built once with the app."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from flask import Flask, current_app
from sqlalchemy.orm import Session

from portal import crypto
from portal.custody.bindings import BindingKey
from portal.custody.bindings import binding_key as derive_binding_key
from portal.custody.epochs import current_epoch
from portal.custody.host_key import HostKey
from portal.services.blobs import BlobStore
from portal.services.inbox import Deadlines
from portal.services.review_sessions import SessionPolicy
from portal.services.reviewers import AccountPolicy

_EXTENSION = "portal.review"


def utc_now() -> datetime.datetime:
    """Now, in UTC, without a time zone (as the review tables store it)."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class ReviewContext:
    recipients: Sequence[crypto.Recipient]
    """The inspectorate's public recipients: replies and notes are encrypted to them."""
    blobs: BlobStore
    keys_dir: Path
    """Where a rotation writes the recipients file for the submission host."""
    host_key: HostKey
    """The review-host key: it seals keyrings, TOTP secrets and sessions (DESIGN decision 3)."""
    accounts: AccountPolicy
    sessions: SessionPolicy
    deadlines: Deadlines
    clock: Callable[[], datetime.datetime] = utc_now
    """Now, in naive UTC; tests replace it to reach timeouts and TOTP steps."""


def sealing_recipients(session: Session) -> Sequence[crypto.Recipient]:
    """What replies and notes are sealed to: the current key epoch's recipient, or, before the
    first epoch has started, the keys folder's recipients."""
    epoch = current_epoch(session)
    if epoch is None:
        return review_context().recipients
    return [_parsed(epoch.recipient)]


@functools.lru_cache(maxsize=8)
def _parsed(recipient: str) -> crypto.Recipient:
    # A post-quantum recipient takes about 2 ms to parse: once per epoch, not per request.
    return crypto.parse_recipient(recipient)


def install(app: Flask, context: ReviewContext) -> None:
    app.extensions[_EXTENSION] = context


def review_context() -> ReviewContext:
    return cast(ReviewContext, current_app.extensions[_EXTENSION])


def current_time() -> datetime.datetime:
    """The review site's now (naive UTC), from its context's clock."""
    return review_context().clock()


def binding_key() -> BindingKey:
    """The review host's key for row bindings (derived from the review-host key)."""
    return derive_binding_key(review_context().host_key)
