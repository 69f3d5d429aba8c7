"""What the submission site's views need, built once with the app: keys, hasher, limits."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from flask import Flask, abort, current_app

from portal import crypto
from portal.services.codenames import CodenameHasher
from portal.submit.throttle import RateLimiter

_EXTENSION = "portal.submit"


@dataclass(frozen=True)
class SubmitContext:
    recipients: Sequence[crypto.Recipient]
    hasher: CodenameHasher
    submissions: RateLimiter
    codename_attempts: RateLimiter
    max_files: int
    max_file_bytes: int


def install(app: Flask, context: SubmitContext) -> None:
    app.extensions[_EXTENSION] = context


def submit_context() -> SubmitContext:
    return cast(SubmitContext, current_app.extensions[_EXTENSION])


def take_submission_slot() -> None:
    """Count one submission against the global limit, or answer with the plain 429 page."""
    if not submit_context().submissions.allow():
        abort(429)


def utc_today() -> datetime.date:
    """Today's date in UTC: the only time a report or message keeps (DESIGN decision 4)."""
    return datetime.datetime.now(datetime.UTC).date()
