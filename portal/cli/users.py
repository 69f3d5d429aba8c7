"""`portal users`: reviewer accounts from the command line (add, revoke, list).

The command line holds no reviewer session, so creating an account takes the inspectorate's
identity from the recovery file and its passphrase (the passphrase from --passphrase-file, the
PORTAL_RECOVERY_PASSPHRASE variable, or a prompt). `portal keys recover` creates an
administrator the same way, through `add_account` and `recovery_options` here.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import click
from sqlalchemy import select

from portal.accounts import passwords, totp
from portal.cli.common import CLI_ACTOR, database_session, given_passphrase, settings_from_env
from portal.config import Settings
from portal.crypto.keys import AnyIdentity
from portal.custody import epochs, recovery
from portal.custody.host_key import load_or_create as load_or_create_host_key
from portal.models import Reviewer, Role
from portal.services import reviewers, transaction
from portal.services.audit import AuditAction, record

ISSUER = "Probation concerns review"

_RECOVERY_OPTIONS = [
    click.option(
        "--passphrase-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Read the recovery passphrase from this file (else PORTAL_RECOVERY_PASSPHRASE, "
        "else a prompt).",
    ),
    click.option(
        "--recovery-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help=f"The recovery file (default: the keys folder's {recovery.RECOVERY_FILE}).",
    ),
]


def recovery_options(command: click.decorators.FC) -> click.decorators.FC:
    """Add --passphrase-file and --recovery-file, the options of every command that opens the
    recovery file, so `users add` and `keys recover` cannot drift apart."""
    for option in reversed(_RECOVERY_OPTIONS):
        command = option(command)
    return command


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def _policy(settings: Settings) -> reviewers.AccountPolicy:
    return reviewers.AccountPolicy(
        password_cost=settings.password_cost, keyring_work_factor=settings.keyring_work_factor
    )


def recovery_identity(
    settings: Settings, passphrase: str | None, recovery_file: Path | None
) -> AnyIdentity:
    passphrase = passphrase or click.prompt("Recovery passphrase", hide_input=True)
    return recovery.recover_identity(
        recovery_file or settings.keys_dir / recovery.RECOVERY_FILE, passphrase
    )


def add_account(
    settings: Settings,
    *,
    username: str,
    role: Role,
    passphrase: str | None,
    recovery_file: Path | None,
    enrolled: bool,
    action: AuditAction,
) -> None:
    """Create an account; print its enrolment code, or (enrolled) its password and TOTP key."""
    identity = recovery_identity(settings, passphrase, recovery_file)
    host_key = load_or_create_host_key(settings.instance_dir)
    with database_session(settings) as session:
        # The recovery identity is epoch 1's (`portal keys init` made it): the first account
        # starts epoch 1 from it; its grants open every live epoch.
        epochs.start_first_epoch(session, identity, today=_now().date())
        try:
            reviewer, code = reviewers.create_account(
                session,
                username=username,
                role=role,
                epoch_keys=epochs.keys_held(session, identity, reviewer_id=None),
                policy=_policy(settings),
                host_key=host_key,
                now=_now(),
            )
        except reviewers.AccountError as error:
            raise click.ClickException(str(error)) from None
        enrolment: tuple[str, bytes] | None = None
        if enrolled:
            keyring = reviewers.open_keyring(reviewer, code, host_key)
            if keyring is None:  # pragma: no cover - the code was just made for it
                raise click.ClickException("the new account's keys did not open")
            password = passwords.generate_passphrase(username=reviewer.username)
            reviewers.enrol_without_confirmation(
                reviewer, keyring, password=password, policy=_policy(settings), host_key=host_key
            )
            enrolment = (password, keyring.totp_secret)
        record(
            session,
            actor=CLI_ACTOR,
            action=action,
            subject=reviewer.username,
            detail={"role": role.value, "enrolled": enrolled},
            now=_now(),
        )
        username = reviewer.username
        transaction.finish(session)
    if enrolment is None:
        click.echo(f"Created the {role.value} account {username!r}. Enrolment code, shown")
        click.echo("only this once (it works once and expires in 7 days):")
        click.echo(f"\n    {code}\n")
        click.echo("They set up their account at the review site's /enrol page.")
        return
    password, totp_secret = enrolment
    click.echo(f"Created and enrolled the {role.value} account {username!r}.")
    click.echo("Shown only this once:")
    click.echo(f"    username:  {username}")
    click.echo(f"    password:  {password}")
    click.echo(f"    TOTP key:  {totp.secret_text(totp_secret)}")
    click.echo(
        "    TOTP URI:  " + totp.provisioning_uri(totp_secret, account=username, issuer=ISSUER)
    )
    click.echo("Add the key to an authenticator app; sign in with a code from it.")


@click.group()
def users() -> None:
    """Reviewer accounts: add, revoke, list."""


@users.command("add")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    default=Role.INSPECTOR.value,
    show_default=True,
)
@click.option(
    "--enrolled",
    is_flag=True,
    help="Enrol at once with a generated password, and print it and the TOTP key (for the "
    "first account of a development portal, or automation).",
)
@recovery_options
def users_add(
    username: str,
    role: str,
    enrolled: bool,
    passphrase_file: Path | None,
    recovery_file: Path | None,
) -> None:
    """Create a reviewer account and print its one-time enrolment code."""
    add_account(
        settings_from_env(),
        username=username,
        role=Role(role),
        passphrase=given_passphrase(passphrase_file),
        recovery_file=recovery_file,
        enrolled=enrolled,
        action=AuditAction.ACCOUNT_CREATED,
    )


@users.command("revoke")
@click.argument("username")
def users_revoke(username: str) -> None:
    """Revoke an account: its keys and sessions are deleted at once."""
    with database_session(settings_from_env()) as session:
        reviewer = session.scalar(select(Reviewer).where(Reviewer.username == username))
        if reviewer is None or reviewer.revoked_at is not None:
            raise click.ClickException(f"there is no active account {username!r}")
        reviewers.revoke(session, reviewer, now=_now())
        record(
            session,
            actor=CLI_ACTOR,
            action=AuditAction.ACCOUNT_REVOKED,
            subject=reviewer.username,
            now=_now(),
        )
        transaction.finish(session)
    click.echo(f"Revoked {username!r}: its keys, grants and sessions are deleted.")
    click.echo("Rotate the keys now (`portal keys rotate`): a copy of its keyring taken earlier")
    click.echo("still opens the epochs it held, but none made after them.")


@users.command("grant")
@click.argument("username")
@recovery_options
def users_grant(username: str, passphrase_file: Path | None, recovery_file: Path | None) -> None:
    """Give an account the key epochs it lacks, from the recovery file: for an account from
    before key epochs whose owner first signed in after a rotation."""
    settings = settings_from_env()
    identity = recovery_identity(settings, given_passphrase(passphrase_file), recovery_file)
    with database_session(settings) as session:
        reviewer = session.scalar(select(Reviewer).where(Reviewer.username == username))
        if reviewer is None or reviewer.revoked_at is not None:
            raise click.ClickException(f"there is no active account {username!r}")
        if reviewer.recipient is None:
            raise click.ClickException(
                f"{username!r} has no key of its own yet: it gets one when its owner next signs in"
            )
        granted = epochs.grant_missing(
            session, reviewer, epochs.keys_held(session, identity, reviewer_id=None)
        )
        if granted:
            record(
                session,
                actor=CLI_ACTOR,
                action=AuditAction.KEYS_GRANTED,
                subject=reviewer.username,
                detail={"epochs": ",".join(map(str, granted))},
                now=_now(),
            )
        transaction.finish(session)
    if granted:
        click.echo(f"Granted {username!r} key epoch(s) {', '.join(map(str, granted))}.")
    else:
        click.echo(f"{username!r} already holds every live key epoch it may.")


@users.command("list")
def users_list() -> None:
    """List the accounts: username, role and state."""
    with database_session(settings_from_env()) as session:
        accounts = session.scalars(select(Reviewer).order_by(Reviewer.username)).all()
        for account in accounts:
            state = (
                "revoked"
                if account.revoked_at
                else "active"
                if account.active
                else "waiting to enrol"
            )
            click.echo(f"{account.username}\t{account.role.value}\t{state}")
