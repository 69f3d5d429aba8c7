"""Signed audit heads on the command line: `portal audit export-head`, and what `portal audit
verify` needs to check signatures and a head given with --head (DESIGN decision 10).

A head is the newest entry's sequence number, hash and signature, with the public key that
checks it. Kept off the review host (the auditor's own records, paper), it shows later whether
entries were cut from the end of the log, which the signed chain alone cannot show.
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.exc import DBAPIError

from portal.cli.common import database_session, require_current_schema, settings_from_env
from portal.custody import audit_signing
from portal.custody.audit_signing import AuditPublicKey, HeadFileError, SignedHead
from portal.custody.host_key import HostKey
from portal.custody.host_key import load_existing as load_existing_host_key
from portal.services import audit as audit_log

# SQLSTATEs of a write refused to a role that may only read: no privilege, read-only transaction.
_READ_ONLY_SQLSTATES = frozenset({"42501", "25006"})


@click.command("export-head")
def export_head() -> None:
    """Print the audit log's newest entry as a signed head (JSON), to keep off the review host.

    Run it on the review host: it checks the whole log and every signature first, and exports
    nothing from a log that does not verify. Give the file back later with
    `portal audit verify --head FILE`; AUDIT.md shows how to check it without the portal.
    """
    settings = settings_from_env()
    require_current_schema(settings.database_url)
    host_key = load_existing_host_key(settings.instance_dir)
    if host_key is None:
        raise click.ClickException(
            "no review-host key here: run this on the review host, where entries are signed"
        )
    public_key = audit_signing.signer(host_key).public_key
    with database_session(settings) as session:
        chain = audit_log.verify_chain(session, public_keys=(public_key,))
    if not chain.ok:
        raise click.ClickException(
            f"the audit log does not verify ({len(chain.problems)} problems): "
            "run `portal audit verify`. No head was exported."
        )
    if chain.head_sequence is None or chain.head_signature is None:
        raise click.ClickException("the audit log is empty: there is no head to export yet")
    head = SignedHead(
        sequence=chain.head_sequence,
        entry_hash=chain.head_hash,
        signature=chain.head_signature,
        public_key=public_key,
    )
    click.echo(head.to_json())


def read_head(path: Path | None) -> SignedHead | None:
    """The signed head in the file given with --head, if one was; a usage error if it is not
    one (its signature is checked with the log, by `verify_chain`)."""
    if path is None:
        return None
    try:
        return SignedHead.from_json(path.read_bytes().decode("utf-8", errors="replace"))
    except HeadFileError as error:
        raise click.BadParameter(
            f"{path} is not a signed head: {error}", param_hint="--head"
        ) from None


def checking_keys(host_key: HostKey | None, head: SignedHead | None) -> list[AuditPublicKey]:
    """The public keys signatures are checked with: this review host's, and the key a head
    kept from an earlier run carries (the host key may have been replaced since). None here
    and no head: the signatures can only be counted."""
    keys = [audit_signing.signer(host_key).public_key] if host_key is not None else []
    if head is not None and head.public_key not in keys:
        keys.append(head.public_key)
    return keys


def signature_summary(chain: audit_log.ChainReport, host_key: HostKey | None) -> str:
    """One line: how many entries are signed, and with what their signatures were checked."""
    counted = f"Signatures: {chain.signed} of {chain.entries} entries signed"
    if not chain.signatures_checked:
        return (
            f"{counted}, NOT checked: no review-host key here. Run this on the review host, "
            "or give --head with a head exported there."
        )
    if host_key is None:
        return f"{counted}, checked with the public key of the head given (no review-host key here)"
    return f"{counted}, checked with this review host's key"


def is_read_only_refusal(error: DBAPIError) -> bool:
    """Whether `error` is the database refusing a write to a role or file that may only be
    read (the auditors' read-only role), rather than a failure to report."""
    sqlstate = getattr(error.orig, "sqlstate", None)
    return sqlstate in _READ_ONLY_SQLSTATES or "readonly database" in str(error.orig)
