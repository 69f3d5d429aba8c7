"""Sealed documents: padded to a bucket, so lengths say little, and opened back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal import crypto
from portal.services.documents import DocumentError, padded_size, seal_document, unseal_document

IDENTITY = crypto.generate_identity("x25519")


@pytest.mark.parametrize(
    ("length", "bucket"), [(0, 1024), (1024, 1024), (1025, 2048), (5000, 8192), (70_000, 131_072)]
)
def test_lengths_round_up_to_a_power_of_two_of_at_least_1_kib(length: int, bucket: int) -> None:
    assert padded_size(length) == bucket


def test_a_short_and_a_longer_report_in_one_bucket_have_ciphertexts_of_one_size() -> None:
    short = seal_document({"text": "x"}, [IDENTITY.recipient()])
    longer = seal_document({"text": "x" * 900}, [IDENTITY.recipient()])

    assert len(short) == len(longer)


@settings(max_examples=40, deadline=None)
@given(
    document=st.dictionaries(
        st.text(max_size=20),
        st.one_of(st.text(), st.integers(), st.none(), st.lists(st.text(), max_size=4)),
        max_size=8,
    )
)
def test_any_document_opens_back_exactly(document: dict[str, object]) -> None:
    assert unseal_document(seal_document(document, [IDENTITY.recipient()]), [IDENTITY]) == document


@pytest.mark.parametrize("plaintext", [b"\xff\xfe not utf-8", b"[1, 2]", b"not json"])
def test_a_ciphertext_that_holds_no_document_is_refused(plaintext: bytes) -> None:
    with pytest.raises(DocumentError):
        unseal_document(crypto.encrypt(plaintext, [IDENTITY.recipient()]), [IDENTITY])
