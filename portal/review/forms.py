"""The review site's forms. Validation lives here; the views ask only whether a form is valid."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, Regexp

from portal.models import Outcome, Priority, ReportStatus, Role

USERNAME = Regexp(
    r"^[a-z0-9][a-z0-9._-]{1,62}$",
    message="Use 2 to 63 lower-case letters, digits, dots, hyphens or underscores",
)
TOTP = Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message="Enter the 6-digit code from your app")
LONG_TEXT = 20_000


def _choices(values: list[tuple[str, str]]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in values]


class SignInForm(FlaskForm):
    username = StringField(
        "Username", validators=[InputRequired("Enter your username"), Length(max=64)]
    )
    password = PasswordField(
        "Password", validators=[InputRequired("Enter your password"), Length(max=256)]
    )
    code = StringField(
        "Code from your authenticator app",
        validators=[InputRequired("Enter the code from your authenticator app"), TOTP],
    )


class EnrolForm(FlaskForm):
    username = StringField(
        "Username", validators=[InputRequired("Enter your username"), Length(max=64)]
    )
    code = StringField(
        "Enrolment code",
        validators=[InputRequired("Enter the enrolment code you were given"), Length(max=200)],
    )


class NewPasswordMixin:
    password = PasswordField(
        "New password",
        validators=[InputRequired("Choose a password"), Length(max=256)],
    )
    confirm = PasswordField(
        "New password again",
        validators=[InputRequired("Type the new password again"), Length(max=256)],
    )

    def validate_confirm(self, field: PasswordField) -> None:
        if field.data != self.password.data:
            raise ValidationError("The two passwords are not the same")


class EnrolSetupForm(NewPasswordMixin, FlaskForm):
    code = StringField(
        "Code from your authenticator app",
        validators=[InputRequired("Enter the code your app shows"), TOTP],
    )


class ChangePasswordForm(NewPasswordMixin, FlaskForm):
    current = PasswordField(
        "Current password",
        validators=[InputRequired("Enter your current password"), Length(max=256)],
    )


class NewAccountForm(FlaskForm):
    username = StringField("Username", validators=[InputRequired("Enter a username"), USERNAME])
    role = RadioField(
        "Role",
        choices=_choices(
            [
                (Role.INSPECTOR.value, "Inspector: reads, triages and answers reports"),
                (Role.ADMIN.value, "Administrator: also manages accounts"),
                (Role.AUDITOR.value, "Auditor: the audit log only, never report contents"),
            ]
        ),
        validators=[InputRequired("Choose a role")],
    )


def _text_field(label: str) -> TextAreaField:
    return TextAreaField(
        label,
        validators=[
            InputRequired("Write something first"),
            Length(max=LONG_TEXT, message=f"Keep it to {LONG_TEXT:,} characters"),
        ],
    )


class ReplyForm(FlaskForm):
    text = _text_field("Reply to the submitter")


class NoteForm(FlaskForm):
    text = _text_field("Note for inspectors")


class TriageForm(FlaskForm):
    status = SelectField(
        "Status",
        choices=_choices([(status.value, status.value.capitalize()) for status in ReportStatus]),
        validators=[InputRequired()],
    )
    outcome = SelectField(
        "Outcome (when closing)",
        choices=_choices(
            [
                ("", "None yet"),
                (Outcome.ACTION_TAKEN.value, "Action taken"),
                (Outcome.REFERRED_ELSEWHERE.value, "Referred elsewhere"),
                (Outcome.NO_ACTION.value, "No action needed"),
                (Outcome.NOT_ENOUGH_INFORMATION.value, "Not enough information"),
                (Outcome.DUPLICATE.value, "Duplicate"),
            ]
        ),
        validators=[Optional()],
    )
    priority = SelectField(
        "Priority",
        choices=_choices([(priority.value, priority.value.capitalize()) for priority in Priority]),
        validators=[InputRequired()],
    )
    assignee = SelectField("Assigned to", validators=[Optional()])
    labels = StringField(
        "Labels",
        description="Separate labels with commas.",
        validators=[Optional(), Length(max=200)],
    )


class LinkForm(FlaskForm):
    reference = StringField(
        "Reference of a related report",
        validators=[InputRequired("Enter a report reference"), Length(max=64)],
    )


class ConfirmForm(FlaskForm):
    """A form with nothing but its CSRF token, for buttons that change something."""
