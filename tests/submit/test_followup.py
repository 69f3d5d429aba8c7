"""Anonymous follow-up: the codename, and only the codename, opens the conversation."""

from __future__ import annotations

import dataclasses
import datetime
import secrets

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal import create_submit_app, crypto, request_db
from portal.config import Settings
from portal.models import Attachment, Author, Message, Report
from portal.services import transaction
from portal.services.codenames import CodenameHasher
from portal.services.documents import unseal_document
from portal.services.followup import add_message
from portal.submit.context import SubmitContext
from tests.support.pages import codename_in, csrf_token
from tests.support.submitting import Upload, answers_for, post_form

TODAY = datetime.date(2026, 11, 25)


@pytest.fixture
def client(submit_app: Flask) -> FlaskClient:
    return submit_app.test_client()


def submit_report(client: FlaskClient) -> str:
    response = post_form(client, "/report/other", answers_for("other", "follow-up"))
    return codename_in(response)


def inspector_replies(session: Session, identity: crypto.HybridIdentity, text: str) -> Message:
    """A reply written with the same service code the review site uses."""
    report = session.scalars(select(Report)).one()
    message = add_message(
        session,
        report,
        author=Author.INSPECTOR,
        text=text,
        recipients=[identity.recipient()],
        today=TODAY,
    )
    transaction.finish(session)
    return message


def sign_in(client: FlaskClient, codename: str) -> str:
    return post_form(client, "/follow-up", {"codename": codename}).text


def test_a_reply_is_read_with_the_codename_and_only_its_holder_can_decrypt_it(
    client: FlaskClient,
    session: Session,
    submit_app: Flask,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    # Given a report and an inspector's reply to it
    codename = submit_report(client)
    reply = f"Thank you. Which team? {secrets.token_hex(6)} <script>alert(1)</script>"
    message = inspector_replies(session, inspectorate_identity, reply)

    # When the submitter signs in with the codename, typed carelessly
    page = sign_in(client, "  " + codename.upper().replace(" ", "  -") + " ")

    # Then the reply is shown, inert
    assert "Thank you. Which team?" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # And the reply decrypts with the key derived from the codename, and with the inspectorate's
    context: SubmitContext = submit_app.extensions["portal.submit"]
    reply_identity = context.hasher.derive(codename).reply_identity
    assert unseal_document(message.content, [reply_identity])["text"] == reply
    assert unseal_document(message.content, [inspectorate_identity])["text"] == reply
    # But not with a key derived from another codename under the same salt
    other = CodenameHasher(salt=context.hasher.salt, cost=context.hasher.cost).derive(
        submit_report(client)
    )
    with pytest.raises(crypto.NoIdentityMatch):
        unseal_document(message.content, [other.reply_identity])


def test_a_reply_relabelled_in_the_database_is_withheld_from_the_submitter(
    client: FlaskClient, session: Session, inspectorate_identity: crypto.HybridIdentity
) -> None:
    """A database writer who relabels an inspector's reply as the submitter's own words (or
    moves or reorders it) gets a warning shown in its place, never the text and never a 500."""
    codename = submit_report(client)
    message = inspector_replies(session, inspectorate_identity, "genuine reply 5f1c")
    session.execute(update(Message).where(Message.id == message.id).values(author=Author.SUBMITTER))
    session.commit()

    page = sign_in(client, codename)

    assert "genuine reply 5f1c" not in page
    assert "This message cannot be shown" in page


def test_the_submitter_sends_a_message_with_a_file(
    client: FlaskClient, session: Session, inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given a signed-in submitter
    codename = submit_report(client)
    sign_in(client, codename)

    # When they send a message with a file
    response = post_form(
        client,
        "/follow-up/message",
        {"message": "The team is north."},
        [Upload(b"rota", "rota.txt", "text/plain")],
    )

    # Then it is saved for the inspectorate, with its file, and shown in the conversation
    assert response.status_code == 200
    assert "Message sent" in response.text
    message = session.scalars(select(Message)).one()
    assert message.author is Author.SUBMITTER
    assert unseal_document(message.content, [inspectorate_identity])["text"] == "The team is north."
    attachment = session.scalars(select(Attachment)).one()
    assert attachment.message_id == message.id
    page = sign_in(client, codename)
    assert "The team is north." in page
    assert "1 file" in page


@pytest.mark.parametrize(
    "typed",
    ["", "one two three", "abacus " * 8, "<script>" * 8],
    ids=["empty", "too-few-words", "words-not-on-the-list", "markup"],
)
def test_text_that_cannot_be_a_codename_opens_nothing(client: FlaskClient, typed: str) -> None:
    submit_report(client)

    page = sign_in(client, typed)

    assert "Your report" not in page
    assert "There is a problem" in page
    assert client.get("/follow-up/message").status_code == 302


def test_a_valid_but_unknown_codename_opens_nothing(client: FlaskClient, submit_app: Flask) -> None:
    submit_report(client)
    unknown = " ".join(["abacus"] * 8)

    page = sign_in(client, unknown)

    assert "No report matches that codename" in page
    assert "Your report" not in page


def test_codename_attempts_are_limited_for_everyone_together(submit_settings: Settings) -> None:
    # Given a site allowing two codename attempts a minute
    app = create_submit_app(dataclasses.replace(submit_settings, codename_attempts_per_minute=2))
    first, second = app.test_client(), app.test_client()
    wrong = " ".join(["abacus"] * 8)

    # When two browsers try three codenames between them
    statuses = [
        post_form(client, "/follow-up", {"codename": wrong}).status_code
        for client in (first, second, first)
    ]

    # Then the third is refused with the plain 429 page, whoever sent it
    assert statuses == [200, 200, 429]
    request_db.get_engine(app).dispose()


def test_ending_follow_up_makes_the_codename_useless(client: FlaskClient, session: Session) -> None:
    # Given a signed-in submitter
    codename = submit_report(client)
    page = client.post(
        "/follow-up",
        data={"codename": codename, "csrf_token": csrf_token(client.get("/follow-up"))},
    )
    assert "Your report" in page.text

    # When they end follow-up
    response = post_form(client, "/follow-up/end", {})

    # Then the codename's hash and reply key are gone, and the codename opens nothing
    assert "Follow-up has ended" in response.text
    report = session.scalars(select(Report)).one()
    session.refresh(report)
    assert report.codename_hash is None
    assert report.reply_recipient is None
    assert "No report matches that codename" in sign_in(client, codename)
    assert client.get("/follow-up/message").status_code == 302


def test_leaving_forgets_which_report_was_open(client: FlaskClient) -> None:
    sign_in(client, submit_report(client))
    assert client.get("/follow-up/message").status_code == 200

    response = post_form(client, "/follow-up/leave", {}, form_page="/follow-up/message")

    assert "You have left your report" in response.text
    assert client.get("/follow-up/message").status_code == 302


def test_messaging_without_signing_in_leads_to_the_sign_in_page(client: FlaskClient) -> None:
    response = client.get("/follow-up/message")

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/follow-up")
