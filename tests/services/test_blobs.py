"""The blob folder: blobs appear under their real name only when published."""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path

from portal.services.blobs import BlobStore


def test_a_blob_is_hidden_until_published_and_then_readable(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    blob = store.create()
    blob.write(b"age-encryption.org/v1\n...")

    assert not store.path_of(blob.id).exists()
    blob.publish()

    assert b"".join(store.open(blob.id)) == b"age-encryption.org/v1\n..."
    assert [path.name for path in (tmp_path / "blobs").iterdir()] == [f"{blob.id}.age"]
    assert oct((tmp_path / "blobs").stat().st_mode & 0o777) == "0o700"
    assert oct(store.path_of(blob.id).stat().st_mode & 0o777) == "0o600"


def test_discarding_removes_a_blob_wherever_it_is(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    staged, published = store.create(), store.create()
    published.publish()

    staged.discard()
    published.discard()
    published.discard()  # twice is harmless

    assert list((tmp_path / "blobs").iterdir()) == []


def test_orphans_are_the_blobs_no_row_refers_to(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    kept, orphan, left_staged = store.create(), store.create(), store.create()
    kept.publish()
    orphan.publish()
    left_staged.write(b"partial")
    left_staged.finish()
    (tmp_path / "blobs" / "README").write_text("not a blob")

    orphans = store.orphans({kept.id, uuid.uuid4()})

    assert sorted(path.name for path in orphans) == sorted(
        [f"{orphan.id}.age", f".{left_staged.id}.age.part"]
    )


def test_a_committed_blob_keeps_only_the_day_it_arrived(tmp_path: Path) -> None:
    # Given a blob published and then committed with its row
    store = BlobStore(tmp_path / "blobs")
    blob = store.create()
    blob.write(b"ciphertext")
    blob.publish()

    # When its times are blurred, as after the commit
    blob.blur_times()

    # Then neither the file nor its folder says when in the day it was written
    for path in (store.path_of(blob.id), tmp_path / "blobs"):
        modified = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC)
        assert (modified.hour, modified.minute, modified.second) == (0, 0, 0)
        assert modified.date() == datetime.datetime.now(datetime.UTC).date()
