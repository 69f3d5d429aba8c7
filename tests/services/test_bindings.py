"""Row bindings without the review site: what they cover, that they survive re-keying, and
that documents version 2 are checked on every field of their row's context."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import crypto
from portal.custody.bindings import BINDING_SIZE, BindingKey, binding_key
from portal.custody.host_key import HostKey
from portal.models import Attachment, Author, Message
from portal.services import rekeying, transaction
from portal.services.bindings import bind, binding_problem
from portal.services.blobs import BlobStore
from portal.services.contexts import attachment_context, message_context
from portal.services.documents import DocumentMismatch, seal_document, unseal_document
from portal.services.followup import add_message
from portal.services.intake import UploadPolicy
from tests.services.conftest import TODAY, StoreReport, receive
from tests.support.casework import TEST_BINDING_KEY

OTHER_KEY = binding_key(HostKey(b"\x08" * 32))


@pytest.fixture
def message(
    stored_report: StoreReport, session: Session, recipients: list[crypto.Recipient]
) -> Message:
    report, _keys = stored_report()
    sent = add_message(
        session, report, author=Author.SUBMITTER, text="hello", recipients=recipients, today=TODAY
    )
    transaction.finish(session)
    return sent


def test_a_binding_is_the_review_hosts_own_and_covers_context_and_content(
    message: Message, recipients: list[crypto.Recipient]
) -> None:
    bind(message, TEST_BINDING_KEY)
    assert message.binding is not None and len(message.binding) == BINDING_SIZE
    assert binding_problem(message, TEST_BINDING_KEY) is None
    assert binding_problem(message, OTHER_KEY) is not None

    message.position = 2
    assert binding_problem(message, TEST_BINDING_KEY) == (
        "moved from another report, relabelled or reordered"
    )
    message.position = 1
    original = message.content
    message.content = seal_document({"version": 2, **message_context(message)}, recipients)
    assert binding_problem(message, TEST_BINDING_KEY) == (
        "content replaced (copied from another row, or sealed by someone else)"
    )
    message.content = original
    assert binding_problem(message, TEST_BINDING_KEY) is None


def test_a_binding_survives_a_header_rewrite(
    message: Message, inspectorate_identity: crypto.HybridIdentity
) -> None:
    """Re-keying rewrites the age header and keeps the payload, which is what is bound."""
    bind(message, TEST_BINDING_KEY)
    successor = crypto.generate_identity()
    moved = crypto.rekey(message.content, [inspectorate_identity], [successor.recipient()])
    assert moved is not None and moved != message.content

    message.content = moved

    assert binding_problem(message, TEST_BINDING_KEY) is None
    assert unseal_document(moved, [successor], bound_to=message_context(message))


def test_a_version_2_document_is_checked_on_every_field_a_version_1_on_those_it_has(
    message: Message, inspectorate_identity: crypto.HybridIdentity
) -> None:
    context = message_context(message)
    with pytest.raises(DocumentMismatch) as relabelled:
        unseal_document(
            message.content, [inspectorate_identity], bound_to=context | {"author": "inspector"}
        )
    assert relabelled.value.field == "author"
    old = seal_document(
        {"version": 1, "message_id": context["message_id"], "text": "hi"},
        [inspectorate_identity.recipient()],
    )
    assert unseal_document(old, [inspectorate_identity], bound_to=context)["text"] == "hi"
    with pytest.raises(DocumentMismatch):
        unseal_document(old, [inspectorate_identity], bound_to=context | {"message_id": "x"})


@pytest.mark.parametrize("key", [TEST_BINDING_KEY, None], ids=["review-host", "elsewhere"])
def test_rekeying_binds_a_resealed_description_again_on_the_review_host_only(
    key: BindingKey | None,
    stored_report: StoreReport,
    session: Session,
    upload_policy: UploadPolicy,
    blobs: BlobStore,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    # Given a bound file description written before descriptions recorded the chunks' hash
    stored_report([receive(upload_policy, b"an old file")])
    attachment = session.scalars(select(Attachment)).one()
    document = unseal_document(attachment.details, [inspectorate_identity])
    del document["chunks_sha256"]
    attachment.details = seal_document(document, [inspectorate_identity.recipient()])
    bind(attachment, TEST_BINDING_KEY)
    transaction.finish(session)

    # When it is moved to a new epoch (sealed again, as it has no chunks' hash)
    successor = crypto.generate_identity()
    move = rekeying.Move(
        old=[inspectorate_identity],
        new=[successor.recipient()],
        readers=[inspectorate_identity],
        bindings=key,
    )
    for _progress in rekeying.batches(session, blobs, move):
        transaction.finish(session)

    # Then on the review host its binding is made again; elsewhere it fails from then on
    assert unseal_document(attachment.details, [successor], bound_to=attachment_context(attachment))
    problem = binding_problem(attachment, TEST_BINDING_KEY)
    assert (problem is None) == (key is not None)
