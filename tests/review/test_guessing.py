"""Guessing online: no lock-out for anyone to abuse, no password judged without the code, and
nothing in the answer's timing or in concurrent attempts to help a guesser."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal.accounts import passwords
from portal.crypto import scrypt
from portal.models import AuditEntry, Role
from portal.services.audit import AuditAction
from tests.review.conftest import PASSWORD, Account, Clock, reviewer_row, sign_in
from tests.support.pages import csrf_token

WRONG_CODE = "000000"
ATTEMPTS = 30
CONCURRENT = 8


def _attempt(client: FlaskClient, username: str, password: str, code: str) -> TestResponse:
    page = client.get("/sign-in")
    return client.post(
        "/sign-in",
        data={
            "csrf_token": csrf_token(page),
            "username": username,
            "password": password,
            "code": code,
        },
    )


def _signed_in(response: TestResponse) -> bool:
    return response.status_code == 302 and response.headers["Location"] == "/"


def _without_token(page: TestResponse) -> str:
    return re.sub(r'value="[^"]+"', 'value=""', page.text)


def _other_code(account: Account, clock: Clock) -> str:
    right = account.code(clock.now)
    return WRONG_CODE if right != WRONG_CODE else "111111"


def test_someone_who_knows_only_a_username_cannot_keep_its_owner_out(
    review_app: Flask,
    make_account,
    clock: Clock,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    # Given an attacker's many failed attempts on an account
    account = make_account("ivy", Role.INSPECTOR)
    attacker = review_app.test_client()
    for number in range(ATTEMPTS):
        refused = _attempt(attacker, "ivy", f"guess number {number}", _other_code(account, clock))
        assert not _signed_in(refused)
    assert reviewer_row(session, "ivy").failed_sign_ins == ATTEMPTS

    # When the owner signs in at once, then they get in, and every failure was recorded
    assert _signed_in(sign_in(review_app.test_client(), account, clock))
    assert reviewer_row(session, "ivy").failed_sign_ins == 0
    failures = session.scalar(
        select(func.count()).where(AuditEntry.action == AuditAction.SIGN_IN_FAILED)
    )
    assert failures == ATTEMPTS


def test_a_password_is_judged_only_together_with_a_right_code(
    review_app: Flask,
    make_account,
    clock: Clock,  # type: ignore[no-untyped-def]
) -> None:
    # Given the right password and a wrong one, each sent with a wrong code
    account = make_account("ivy", Role.INSPECTOR)
    client = review_app.test_client()
    right = _attempt(client, "ivy", PASSWORD, _other_code(account, clock))
    wrong = _attempt(client, "ivy", "not the password at all", _other_code(account, clock))

    # Then neither signs in, and the answers are the same page: the right one is not revealed
    assert not _signed_in(right) and not _signed_in(wrong)
    assert right.status_code == wrong.status_code == 200
    assert _without_token(right) == _without_token(wrong)


class WorkCounter:
    """Counts the slow derivations a sign-in makes: Argon2id (verifications, decoys) and scrypt
    (keyring unwraps, decoys)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.counts: Counter[str] = Counter()
        for module, name, kind in [
            (passwords, "verify_password", "argon2id"),
            (passwords, "dummy_verify", "argon2id"),
            (scrypt, "_derive_key", "scrypt"),
        ]:
            monkeypatch.setattr(module, name, self._counting(getattr(module, name), kind))

    def _counting(self, function: Callable[..., Any], kind: str) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.counts[kind] += 1
            return function(*args, **kwargs)

        return counted

    def taken(self) -> dict[str, int]:
        taken, self.counts = dict(self.counts), Counter()
        return taken


def test_every_answer_costs_the_same_work_whatever_was_wrong(
    review_app: Flask,
    make_account,  # type: ignore[no-untyped-def]
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an account, and a count of the slow work each sign-in does
    account = make_account("ivy", Role.INSPECTOR)
    work = WorkCounter(monkeypatch)
    client = review_app.test_client()
    cases = {
        "no such account": ("nobody", PASSWORD, WRONG_CODE),
        "wrong code, right password": ("ivy", PASSWORD, _other_code(account, clock)),
        "wrong code, wrong password": ("ivy", "a wrong password!", _other_code(account, clock)),
        "right code, wrong password": ("ivy", "a wrong password!", account.code(clock.now)),
    }
    spent = {}
    for name, (username, password, code) in cases.items():
        assert not _signed_in(_attempt(client, username, password, code))
        spent[name] = work.taken()
    clock.advance(seconds=30)
    assert _signed_in(_attempt(client, "ivy", PASSWORD, account.code(clock.now)))
    spent["everything right"] = work.taken()

    # Then each did one Argon2id and one scrypt derivation: the time tells nothing
    assert all(taken == {"argon2id": 1, "scrypt": 1} for taken in spent.values()), spent


def _together(attempts: list[Callable[[], TestResponse]]) -> list[TestResponse]:
    """Send the attempts at the same moment, each on a thread of its own."""
    start = threading.Barrier(len(attempts))
    results: list[TestResponse | None] = [None] * len(attempts)

    def run(index: int) -> None:
        start.wait()
        results[index] = attempts[index]()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


def _ready(
    review_app: Flask, username: str, password: str, code: str
) -> Callable[[], TestResponse]:
    """A sign-in with its form already fetched, ready to post."""
    client = review_app.test_client()
    token = csrf_token(client.get("/sign-in"))
    data = {"csrf_token": token, "username": username, "password": password, "code": code}
    return lambda: client.post("/sign-in", data=data)


def test_one_code_sent_many_times_at_once_signs_in_once(
    review_app: Flask,
    make_account,
    clock: Clock,  # type: ignore[no-untyped-def]
) -> None:
    account = make_account("ivy", Role.INSPECTOR)
    code = account.code(clock.now)
    answers = _together([_ready(review_app, "ivy", PASSWORD, code) for _ in range(CONCURRENT)])
    assert sum(_signed_in(answer) for answer in answers) == 1


def test_concurrent_wrong_guesses_are_all_counted(
    review_app: Flask,
    make_account,
    clock: Clock,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    account = make_account("ivy", Role.INSPECTOR)
    code = _other_code(account, clock)
    attempts = [_ready(review_app, "ivy", f"wrong guess {n}", code) for n in range(2 * CONCURRENT)]
    answers = _together(attempts)
    assert not any(_signed_in(answer) for answer in answers)
    assert reviewer_row(session, "ivy").failed_sign_ins == 2 * CONCURRENT
