"""Receiving a file: stripped of metadata, encrypted as it arrives, staged until it is kept.

The submission site feeds uploads into `EncryptingUpload` from Werkzeug's parser; here the
bytes are written directly, in pieces as a parser hands them over.
"""

from __future__ import annotations

import hashlib
import secrets

import pytest

from portal import crypto
from portal.metadata import SNIFF_SIZE
from portal.services.blobs import BlobStore, StorageUnavailable
from portal.services.intake import EncryptingUpload, FileTooLarge, UploadPolicy
from tests.metadata import samples
from tests.services.conftest import MAX_FILE_BYTES, files_in, receive


def test_a_file_is_stored_as_ciphertext_of_exactly_what_was_sent(
    upload_policy: UploadPolicy, blobs: BlobStore, inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given a plain text file with a canary, larger than one piece
    canary = f"canary-{secrets.token_hex(8)}".encode()
    content = b"rota for the week\n" * 600 + canary

    # When it is received and published
    received = receive(upload_policy, content)
    received.blob.publish()

    # Then the blob holds no plaintext, and decrypts to exactly what was sent
    stored = blobs.path_of(received.blob.id).read_bytes()
    assert canary not in stored
    assert crypto.decrypt(stored, [inspectorate_identity]) == content
    assert received.size == len(content)
    assert received.outcome.stripped is False  # nothing to strip from plain text


@pytest.mark.parametrize("piece", [1, SNIFF_SIZE - 1, SNIFF_SIZE, SNIFF_SIZE + 1])
def test_pieces_of_any_size_and_files_shorter_than_the_sniffed_head_arrive_whole(
    upload_policy: UploadPolicy,
    blobs: BlobStore,
    inspectorate_identity: crypto.HybridIdentity,
    piece: int,
) -> None:
    """The format is recognised from the first bytes, gathered over as many writes as it takes;
    a file shorter than that is still passed on at the end."""
    for content in (b"tiny", b"a little longer than the sniffed head"):
        received = receive(upload_policy, content, piece=piece)
        received.blob.publish()
        stored = blobs.path_of(received.blob.id).read_bytes()
        assert crypto.decrypt(stored, [inspectorate_identity]) == content


def test_a_photo_is_stored_without_its_metadata(
    upload_policy: UploadPolicy, blobs: BlobStore, inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given a JPEG carrying GPS EXIF, XMP, a comment, an ICC profile and IPTC
    photo = samples.jpeg()
    assert all(canary in photo for canary in samples.JPEG_CANARIES)  # the test's premise

    # When it is received
    received = receive(upload_policy, photo, "photo.jpg", "image/jpeg", piece=1000)
    received.blob.publish()

    # Then what decrypts is a JPEG with none of them, and the description says so
    cleaned = crypto.decrypt(blobs.path_of(received.blob.id).read_bytes(), [inspectorate_identity])
    assert cleaned.startswith(samples.SOI)
    assert [canary for canary in samples.JPEG_CANARIES if canary in cleaned] == []
    description = received.description()
    assert (description["format"], description["metadata_removed"]) == ("jpeg", True)


def test_a_received_file_stays_hidden_until_it_is_published(upload_policy: UploadPolicy) -> None:
    # Given a file received completely
    received = receive(upload_policy, b"kept only with its row")
    staged = files_in(upload_policy.store)

    # When it is published (as `transaction.finish` does just before the commit)
    received.blob.publish()

    # Then until then it had only a hidden staging name, and now only its real one
    assert staged == [f".{received.blob.id}.age.part"]
    assert files_in(upload_policy.store) == [f"{received.blob.id}.age"]


def test_a_file_over_the_limit_is_refused_and_its_owner_discards_it(
    upload_policy: UploadPolicy,
) -> None:
    # Given an upload that has reached the limit exactly
    upload = EncryptingUpload(upload_policy)
    upload.write(b"x" * (MAX_FILE_BYTES - 1))
    upload.write(b"x")

    # When one more byte arrives
    with pytest.raises(FileTooLarge):
        upload.write(b"x")

    # Then its owner's clean-up leaves nothing of it
    assert files_in(upload_policy.store) != []
    upload.discard_unless_published()
    assert files_in(upload_policy.store) == []


def test_discarding_spares_a_file_already_published(upload_policy: UploadPolicy) -> None:
    """The submission site discards every upload when a request ends: one that was kept with
    its row must survive that."""
    upload = EncryptingUpload(upload_policy)
    upload.write(b"kept")
    received = upload.finish("kept.txt", "text/plain")
    received.blob.publish()

    upload.discard_unless_published()

    assert files_in(upload_policy.store) == [f"{received.blob.id}.age"]


def test_the_description_carries_the_blobs_hash_and_what_the_submitter_said(
    upload_policy: UploadPolicy, blobs: BlobStore
) -> None:
    # Given a file received under a name and a content type
    content = b"minutes of the meeting\n" * 50
    received = receive(upload_policy, content, "minutes.txt", "text/plain")
    received.blob.publish()

    # When its description is made
    description = received.description()

    # Then it names the blob and carries the hash of the bytes on disk (the ciphertext), so a
    # blob swapped for another is caught when read
    on_disk = blobs.path_of(received.blob.id).read_bytes()
    assert description["blob_sha256"] == hashlib.sha256(on_disk).hexdigest()
    assert description["attachment_id"] == str(received.blob.id)
    assert (description["name"], description["content_type"], description["size"]) == (
        "minutes.txt",
        "text/plain",
        len(content),
    )


def test_each_upload_gets_a_blob_of_its_own(upload_policy: UploadPolicy) -> None:
    first = receive(upload_policy, b"same bytes")
    second = receive(upload_policy, b"same bytes")

    assert first.blob.id != second.blob.id
    assert first.blob.sha256 != second.blob.sha256  # fresh keys each time: no equal ciphertexts


def test_a_blob_folder_that_cannot_be_made_is_a_storage_failure(
    upload_policy: UploadPolicy,
) -> None:
    # Given a file standing where the blob folder should be
    upload_policy.store.directory.parent.mkdir(parents=True, exist_ok=True)
    upload_policy.store.directory.write_bytes(b"")

    # When an upload starts, then the submitter can be told the truth: storage is unavailable
    with pytest.raises(StorageUnavailable):
        EncryptingUpload(upload_policy)
