"""Reading a report as the review site does (every row checked, bound on first read), without
the review site."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from portal import crypto
from portal.custody.bindings import BindingKey, binding_key
from portal.custody.host_key import HostKey
from portal.models import Report
from portal.services.bindings import CaseReader
from portal.services.casework import Case, Withheld, open_case

TEST_BINDING_KEY = binding_key(HostKey(b"\x07" * 32))
"""A fixed binding key, for tests that read without a review site's host key."""


def case_of(
    session: Session,
    report: Report,
    identities: Sequence[crypto.Identity],
    key: BindingKey = TEST_BINDING_KEY,
) -> Case:
    """`report` as the review site shows it."""
    return open_case(report, CaseReader(session, report, identities, key))


def problems(views: Sequence[object]) -> list[str]:
    """What is wrong with each withheld view among `views`."""
    return [view.problem for view in views if isinstance(view, Withheld)]
