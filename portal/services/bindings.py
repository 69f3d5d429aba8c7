"""Checking a report's sealed rows against their documents and their review-host bindings.

Rows the review site writes (replies, notes) are bound when written. Rows the public site
writes (reports, follow-ups, files) are bound the first time the review site opens them and
their documents check out: trust on first read, in the transaction of the view that records
the opening in the audit log (with `bound`: how many rows it bound). From then on a change,
move, relabelling or replacement of the row fails its binding, and so does removing a binding:
a row left unbound while a later row of its report is bound, a file unbound while its message
or report is bound, or a report unbound after the audit log recorded binding it.

`CaseReader` is what the review site reads a report with; `binding_problems` is the keyless
part `portal audit verify` runs (`portal.services.binding_audit`). Neither raises on tampering:
each row that fails is named, with what failed, and never shown as genuine.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import crypto
from portal.custody.bindings import BindingKey
from portal.models import Attachment, AuditEntry, Message, Note, Report
from portal.services.audit import AuditAction
from portal.services.contexts import (
    Context,
    attachment_context,
    message_context,
    note_context,
    report_context,
)
from portal.services.documents import DocumentError, DocumentMismatch, unseal_document

BOUND_DETAIL = "bound"
"""The audit detail, on the entry of the view that bound rows, saying how many it bound."""

Row = Report | Message | Attachment | Note
RowKey = tuple[str, uuid.UUID]
"""A row, named by its table and id."""


@dataclass(frozen=True)
class _Kind:
    table: str
    context: Callable[[Any], Context]
    ciphertext: Callable[[Any], bytes]
    moved: str
    """What a failed context means for this kind of row, in words."""


_KINDS: dict[type, _Kind] = {
    Report: _Kind(
        "reports", report_context, lambda row: bytes(row.content), "reply recipient changed"
    ),
    Message: _Kind(
        "messages",
        message_context,
        lambda row: bytes(row.content),
        "moved from another report, relabelled or reordered",
    ),
    Attachment: _Kind(
        "attachments",
        attachment_context,
        lambda row: bytes(row.details),
        "moved from another report or message",
    ),
    Note: _Kind(
        "notes",
        note_context,
        lambda row: bytes(row.content),
        "moved from another report, relabelled or reordered",
    ),
}
_REPLACED = "content replaced (copied from another row, or sealed by someone else)"
_MISMATCHES = {
    "report_id": "moved from another report",
    "message_id": "moved from another message, or copied from one",
    "note_id": "copied from another note",
    "attachment_id": "copied from another file's description",
    "position": "reordered (its document names another position)",
    "author": "relabelled (its document names another author)",
    "author_id": "relabelled (its document names another author)",
    "reply_recipient": "reply recipient changed",
}


def row_key(row: Row) -> RowKey:
    return (_KINDS[type(row)].table, row.id)


def bind(row: Row, key: BindingKey) -> None:
    """Give `row` its binding, over its context and ciphertext as they are now."""
    kind = _KINDS[type(row)]
    row.binding = key.bind(kind.table, str(row.id), kind.context(row), kind.ciphertext(row))


def binding_problem(row: Row, key: BindingKey) -> str | None:
    """What no longer matches `row`'s stored binding; None if it matches or it has none.

    A report whose reply recipient is gone (the submitter ended follow-up, which the public
    site may do) is checked on its content only: replies to it are refused anyway.
    """
    if row.binding is None:
        return None
    kind = _KINDS[type(row)]
    check = key.check(
        kind.table, str(row.id), kind.context(row), kind.ciphertext(row), bytes(row.binding)
    )
    follow_up_ended = isinstance(row, Report) and row.reply_recipient is None
    failures = []
    if not (check.context_matches or follow_up_ended):
        failures.append(kind.moved)
    if not check.content_matches:
        failures.append(_REPLACED)
    return "; ".join(failures) or None


def binding_problems(
    report: Report, key: BindingKey, *, recorded_as_bound: bool
) -> dict[RowKey, str]:
    """Every row of `report` (the report, its messages, files and notes) whose binding fails
    or was removed, with what. `recorded_as_bound`: the audit log says the report was bound."""
    problems: dict[RowKey, str] = {}
    rows: list[Row] = [report, *report.messages, *report.attachments, *report.notes]
    for row in rows:
        problem = binding_problem(row, key)
        if problem is not None:
            problems[row_key(row)] = problem
    for row, reason in _removed_bindings(report, recorded_as_bound=recorded_as_bound):
        problems.setdefault(row_key(row), f"binding removed ({reason})")
    return problems


def _removed_bindings(report: Report, *, recorded_as_bound: bool) -> list[tuple[Row, str]]:
    """Unbound rows that the order of binding says were bound once.

    Rows are bound in the order they arrive: a report with its own files, then each message
    with its files, by position; notes by position. So an unbound row before a bound one of the
    same report, or a file unbound while its message (or report) is bound, lost its binding.
    """
    removed: list[tuple[Row, str]] = []
    children: list[Row] = [*report.messages, *report.attachments, *report.notes]
    if report.binding is None:
        if recorded_as_bound:
            removed.append((report, "the audit log records that it was bound"))
        elif any(child.binding is not None for child in children):
            removed.append((report, "rows of this report are bound"))
    sequences: tuple[list[Message] | list[Note], ...] = (report.messages, report.notes)
    for ordered in sequences:
        later_bound = False
        rows: list[Message | Note] = sorted(ordered, key=lambda row: row.position, reverse=True)
        for row in rows:
            if row.binding is not None:
                later_bound = True
            elif later_bound:
                removed.append((row, "a later row of its report is bound"))
    messages = {message.id: message for message in report.messages}
    for attachment in report.attachments:
        parent: Report | Message | None = (
            report if attachment.message_id is None else messages.get(attachment.message_id)
        )
        if attachment.binding is None and parent is not None and parent.binding is not None:
            removed.append((attachment, "the row it came with is bound"))
    return removed


def recorded_as_bound(session: Session, report_id: uuid.UUID) -> bool:
    """Whether the audit log records a view that bound rows of this report."""
    return (
        session.scalar(
            select(AuditEntry.sequence)
            .where(
                AuditEntry.subject == str(report_id),
                AuditEntry.action.in_([action.value for action in _BINDING_ACTIONS]),
                AuditEntry.detail.contains(f'"{BOUND_DETAIL}":'),
            )
            .limit(1)
        )
        is not None
    )


def reports_recorded_as_bound(session: Session) -> set[str]:
    """The ids (as text) of every report the audit log records rows of being bound."""
    return set(
        session.scalars(
            select(AuditEntry.subject)
            .where(AuditEntry.detail.contains(f'"{BOUND_DETAIL}":'))
            .where(AuditEntry.action.in_([action.value for action in _BINDING_ACTIONS]))
            .distinct()
        )
    )


_BINDING_ACTIONS = (
    AuditAction.REPORT_VIEWED,
    AuditAction.REPLY_SENT,
    AuditAction.NOTE_ADDED,
)
"""The actions whose entries may record rows bound (the views that open a whole report)."""


class CaseReader:
    """Opens one report's sealed rows for the review site: each row's binding, then its
    document, checked before anything of it is shown; rows not yet bound that check out are
    bound (when `binding`), and counted in `bound` for the view's audit entry."""

    def __init__(
        self,
        session: Session,
        report: Report,
        identities: Sequence[crypto.Identity],
        key: BindingKey,
        *,
        binding: bool = True,
    ) -> None:
        self._identities = identities
        self._key = key
        self._binding = binding
        recorded = report.binding is None and recorded_as_bound(session, report.id)
        self._problems = binding_problems(report, key, recorded_as_bound=recorded)
        self.bound = 0

    def open(self, row: Row) -> tuple[dict[str, Any] | None, str | None]:
        """`row`'s document and None, or None and what is wrong with the row."""
        problem = self._problems.get(row_key(row))
        if problem is not None:
            return None, problem
        kind = _KINDS[type(row)]
        try:
            document = unseal_document(
                kind.ciphertext(row), self._identities, bound_to=_document_fields(row)
            )
        except crypto.AgeError:
            return None, "its content does not open with the inspectorate's keys"
        except DocumentMismatch as mismatch:
            return None, _MISMATCHES.get(mismatch.field, f"its {mismatch.field} differs")
        except DocumentError:
            return None, "its content is not a document this portal wrote"
        if row.binding is None and self._binding:
            bind(row, self._key)
            self.bound += 1
        return document, None

    def bind_new(self, row: Row) -> None:
        """Bind a row the review site has just written (a reply, a note)."""
        bind(row, self._key)
        self.bound += 1


def _document_fields(row: Row) -> Mapping[str, str | int | None]:
    """The fields the row's document must name: its context, but a reply recipient only while
    follow-up is open (ending it clears the row's, and the document keeps what it was)."""
    context = _KINDS[type(row)].context(row)
    if isinstance(row, Report) and row.reply_recipient is None:
        del context["reply_recipient"]
    return context
