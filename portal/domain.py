"""What a report can say: the choices offered on the forms and shown to inspectors.

Values are the stable strings stored inside a report's ciphertext; labels are English and marked
for translation (the public site is offered in English and Welsh). Both sites read this module,
so a report always shows with the words the submitter chose from.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

Choices = tuple[tuple[str, object], ...]
"""(stored value, label) pairs, in the order the form shows them."""

# The 12 probation regions of England and Wales.
REGIONS: Choices = (
    ("north-east", _l("North East")),
    ("north-west", _l("North West")),
    ("yorkshire-and-the-humber", _l("Yorkshire and the Humber")),
    ("greater-manchester", _l("Greater Manchester")),
    ("east-midlands", _l("East Midlands")),
    ("west-midlands", _l("West Midlands")),
    ("east-of-england", _l("East of England")),
    ("wales", _l("Wales")),
    ("south-west", _l("South West")),
    ("south-central", _l("South Central")),
    ("kent-surrey-and-sussex", _l("Kent, Surrey and Sussex")),
    ("london", _l("London")),
)

# Risk of serious harm levels.
ROSH_LEVELS: Choices = (
    ("low", _l("Low")),
    ("medium", _l("Medium")),
    ("high", _l("High")),
    ("very-high", _l("Very high")),
)

MAPPA_LEVELS: Choices = (
    ("none", _l("Not a MAPPA case")),
    ("1", _l("Level 1")),
    ("2", _l("Level 2")),
    ("3", _l("Level 3")),
    ("unknown", _l("I do not know")),
)

ROLE_GRADES: Choices = (
    ("pso", _l("Probation services officer (PSO)")),
    ("po", _l("Probation officer (PO)")),
    ("pqip", _l("PQiP trainee")),
    ("spo", _l("Senior probation officer (SPO)")),
    ("other", _l("Other")),
)

# Above 110% for four consecutive weeks counts as excessive in the workload measurement tool.
WORKLOAD_DURATIONS: Choices = (
    ("under-4-weeks", _l("Less than 4 weeks")),
    ("4-weeks-to-3-months", _l("4 weeks to 3 months")),
    ("3-to-6-months", _l("3 to 6 months")),
    ("6-to-12-months", _l("6 to 12 months")),
    ("over-12-months", _l("More than 12 months")),
)

WORKLOAD_CONSEQUENCES: Choices = (
    ("contacts-missed", _l("Contacts with people on probation missed for weeks")),
    ("breaches-late", _l("Breaches not actioned within six days")),
    ("police-checks", _l("Domestic abuse checks with the police not done")),
    ("safeguarding-checks", _l("Safeguarding checks not done")),
    ("other", _l("Something else")),
)

YES_NO_UNKNOWN: Choices = (
    ("yes", _l("Yes")),
    ("no", _l("No")),
    ("unknown", _l("I do not know")),
)

YES_NO: Choices = (
    ("yes", _l("Yes")),
    ("no", _l("No")),
)

MONTHS: Choices = (
    ("1", _l("January")),
    ("2", _l("February")),
    ("3", _l("March")),
    ("4", _l("April")),
    ("5", _l("May")),
    ("6", _l("June")),
    ("7", _l("July")),
    ("8", _l("August")),
    ("9", _l("September")),
    ("10", _l("October")),
    ("11", _l("November")),
    ("12", _l("December")),
)


# Each answer a report can hold, with the English wording inspectors read it under, and the
# choices its stored value comes from (None: free text or a number).
QUESTIONS: dict[str, tuple[str, Choices | None]] = {
    "rosh_assessed": ("RoSH level assessed", ROSH_LEVELS),
    "rosh_pressed": ("RoSH level pressed to record", ROSH_LEVELS),
    "mappa_level": ("MAPPA level", MAPPA_LEVELS),
    "pressed_by": ("Who applied the pressure (role)", None),
    "how": ("How the pressure was applied", None),
    "reason": ("Stated or implied reason", None),
    "when_month": ("Month it happened", MONTHS),
    "when_year": ("Year it happened", None),
    "case_current": ("Case still current", YES_NO_UNKNOWN),
    "grade": ("Role grade", ROLE_GRADES),
    "caseload": ("Caseload", None),
    "capacity": ("Workload tool capacity (%)", None),
    "duration": ("For how long", WORKLOAD_DURATIONS),
    "consequences": ("Consequences", WORKLOAD_CONSEQUENCES),
    "consequences_other": ("Other consequences", None),
    "raised": ("Raised internally", YES_NO),
    "raised_outcome": ("What happened when it was raised", None),
    "account": ("Account in their own words", None),
}


def label_of(choices: Choices, value: str) -> object:
    """The label for a stored value, or the value itself if the catalogue no longer has it."""
    return dict(choices).get(value, value)
