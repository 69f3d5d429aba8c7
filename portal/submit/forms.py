"""The public site's forms. Validation lives here; the views only ask whether a form is valid.

Every text field has a length limit and refuses characters no person types (NUL and other control
characters, and the replacement character left by invalid UTF-8), so hostile input is answered
with an error beside the field rather than stored or crashed on.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    Field,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal import domain
from portal.models import ReportKind
from portal.services.codenames import CODENAME_WORDS

SHORT_TEXT = 200
MEDIUM_TEXT = 5_000
LONG_TEXT = 20_000
_UNTYPEABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
FIRST_YEAR = 2010


def readable_text(_form: FlaskForm, field: Field) -> None:
    if field.data and _UNTYPEABLE.search(field.data):
        raise ValidationError(
            _l("This contains characters that cannot be read. Retype it without them.")
        )


def _required(message: object) -> InputRequired:
    return InputRequired(message=message)


def _text(label: object, limit: int, *, required: object | None = None, **kwargs: Any) -> Any:
    validators = [_required(required) if required else Optional()]
    validators += [
        Length(max=limit, message=_l("This must be %(max)d characters or fewer.")),
        readable_text,
    ]
    field_class = StringField if limit <= SHORT_TEXT else TextAreaField
    return field_class(label, validators=validators, filters=[_strip], **kwargs)


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _choices(choices: domain.Choices) -> list[SelectChoice]:
    """The domain's choices, their English labels translated when the form is rendered."""
    return [SelectChoice(value, _l(label)) for value, label in choices]


class WholeNumberField(IntegerField):
    """A number question whose "not a number" message is the portal's own, in both languages."""

    data: int | None

    def process_formdata(self, valuelist: list[str]) -> None:
        if valuelist and valuelist[0].strip():
            try:
                self.data = int(valuelist[0].strip())
            except ValueError:
                self.data = None
                raise ValueError(_l("Enter a whole number, like 42")) from None


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ChooseKindForm(FlaskForm):
    kind = RadioField(
        _l("What do you want to report?"),
        choices=[
            SelectChoice(ReportKind.RISK_RATING.value, _l("Pressure to lower a risk rating")),
            SelectChoice(ReportKind.WORKLOAD.value, _l("A workload that cannot be managed safely")),
            SelectChoice(ReportKind.OTHER.value, _l("Something else")),
        ],
        validators=[_required(_l("Select what you want to report"))],
    )


def _raised_internally() -> Any:
    """Both kinds of report ask whether the matter was raised inside the organisation. A
    function, not a mixin, so each form keeps the question where it reads best (a mixin's fields
    would come first, and the error summary follows the order of the fields)."""
    return RadioField(
        _l("Did you raise this inside your organisation?"),
        choices=_choices(domain.YES_NO),
        validators=[_required(_l("Select whether you raised it"))],
    )


def _raised_outcome() -> Any:
    return _text(_l("What happened when you raised it? (optional)"), MEDIUM_TEXT)


class ReportForm(FlaskForm):
    """What every report asks; each kind adds its own questions."""

    kind: ReportKind
    region = SelectField(
        _l("Probation region (optional)"),
        choices=[SelectChoice("", _l("I prefer not to say")), *_choices(domain.REGIONS)],
        validators=[Optional()],
    )
    urgent = RadioField(
        _l("Is someone at immediate risk of serious harm?"),
        choices=_choices(domain.YES_NO),
        validators=[_required(_l("Select yes if someone is at immediate risk"))],
    )
    account = _text(_l("Tell us what happened"), LONG_TEXT)
    attachments = MultipleFileField(_l("Files (optional)"))

    # The questions that go into the sealed report, in the order an inspector reads them.
    answer_fields: tuple[str, ...] = ("account",)

    def answers(self) -> dict[str, Any]:
        return {name: self[name].data for name in self.answer_fields}


class RiskRatingForm(ReportForm):
    kind = ReportKind.RISK_RATING
    rosh_assessed = RadioField(
        _l("What risk of serious harm level did you assess?"),
        choices=_choices(domain.ROSH_LEVELS),
        validators=[_required(_l("Select the level you assessed"))],
    )
    rosh_pressed = RadioField(
        _l("What level were you pressed to record?"),
        choices=_choices(domain.ROSH_LEVELS),
        validators=[_required(_l("Select the level you were pressed to record"))],
    )
    mappa_level = RadioField(
        _l("MAPPA level (optional)"), choices=_choices(domain.MAPPA_LEVELS), validators=[Optional()]
    )
    pressed_by = _text(
        _l("Who applied the pressure?"),
        SHORT_TEXT,
        required=_l("Enter the role of the person who applied the pressure"),
    )
    how = _text(
        _l("How was the pressure applied?"),
        MEDIUM_TEXT,
        required=_l("Enter how the pressure was applied"),
    )
    reason = _text(_l("What reason was given or implied? (optional)"), MEDIUM_TEXT)
    when_month = SelectField(
        _l("Month"),
        choices=[SelectChoice("", _l("Month")), *_choices(domain.MONTHS)],
        validators=[_required(_l("Select the month it happened"))],
    )
    when_year = WholeNumberField(
        _l("Year"),
        validators=[
            _required(_l("Enter the year it happened")),
            NumberRange(min=FIRST_YEAR, message=_l("Enter a year from 2010 onwards")),
        ],
    )
    case_current = RadioField(
        _l("Is the case still current?"),
        choices=_choices(domain.YES_NO_UNKNOWN),
        validators=[_required(_l("Select whether the case is still current"))],
    )
    raised = _raised_internally()
    raised_outcome = _raised_outcome()

    answer_fields = (
        "rosh_assessed",
        "rosh_pressed",
        "mappa_level",
        "pressed_by",
        "how",
        "reason",
        "when_month",
        "when_year",
        "case_current",
        "raised",
        "raised_outcome",
        "account",
    )

    def validate_when_year(self, field: Field) -> None:
        if field.data and field.data > datetime.datetime.now(datetime.UTC).year:
            raise ValidationError(_l("The year must not be in the future"))


class WorkloadForm(ReportForm):
    kind = ReportKind.WORKLOAD
    grade = RadioField(
        _l("What is your role?"),
        choices=_choices(domain.ROLE_GRADES),
        validators=[_required(_l("Select your role"))],
    )
    caseload = WholeNumberField(
        _l("How many cases do you hold? (optional)"),
        validators=[
            Optional(),
            NumberRange(min=0, max=1000, message=_l("Enter a number from 0 to 1000")),
        ],
    )
    capacity = WholeNumberField(
        _l("What capacity does the workload measurement tool show, in per cent? (optional)"),
        validators=[
            Optional(),
            NumberRange(min=0, max=1000, message=_l("Enter a number from 0 to 1000")),
        ],
    )
    duration = RadioField(
        _l("For how long has your workload been like this?"),
        choices=_choices(domain.WORKLOAD_DURATIONS),
        validators=[_required(_l("Select how long it has been like this"))],
    )
    consequences = MultiCheckboxField(
        _l("What has happened because of it? (optional)"),
        choices=_choices(domain.WORKLOAD_CONSEQUENCES),
        validators=[Optional()],
    )
    consequences_other = _text(_l("Anything else that has happened (optional)"), MEDIUM_TEXT)
    raised = _raised_internally()
    raised_outcome = _raised_outcome()

    answer_fields = (
        "grade",
        "caseload",
        "capacity",
        "duration",
        "consequences",
        "consequences_other",
        "raised",
        "raised_outcome",
        "account",
    )


class OtherForm(ReportForm):
    kind = ReportKind.OTHER
    account = _text(
        _l("Tell us what happened"),
        LONG_TEXT,
        required=_l("Enter what happened"),
    )


REPORT_FORMS: dict[ReportKind, type[ReportForm]] = {
    form.kind: form for form in (RiskRatingForm, WorkloadForm, OtherForm)
}


class CodenameForm(FlaskForm):
    codename = StringField(
        _l("Your codename"),
        validators=[
            _required(_l("Enter your codename")),
            Length(
                max=SHORT_TEXT, message=_l("A codename is %(count)d words", count=CODENAME_WORDS)
            ),
            readable_text,
        ],
    )


class MessageForm(FlaskForm):
    message = _text(_l("Your message"), LONG_TEXT, required=_l("Enter your message"))
    attachments = MultipleFileField(_l("Files (optional)"))


class ConfirmForm(FlaskForm):
    """A form with nothing but its CSRF token, for buttons that change something."""
