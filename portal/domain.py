"""What a report can say: the choices offered on the forms and shown to inspectors.

Values are the stable strings stored inside a report's ciphertext; labels are plain English.
Both sites read this module, so a report always shows with the words the submitter chose from.
Labels are only marked here for the translators (`N_`, which `make translations` extracts);
the public site translates them where it renders them, so this module needs no web framework
and the services that read it stay free of Flask.
"""

from __future__ import annotations

Choices = tuple[tuple[str, str], ...]
"""(stored value, English label) pairs, in the order the form shows them."""


def N_(message: str) -> str:  # noqa: N802 (the gettext convention for a no-op marker)
    """Mark `message` for translation without translating it (gettext's `gettext_noop`)."""
    return message


# The 12 probation regions of England and Wales.
REGIONS: Choices = (
    ("north-east", N_("North East")),
    ("north-west", N_("North West")),
    ("yorkshire-and-the-humber", N_("Yorkshire and the Humber")),
    ("greater-manchester", N_("Greater Manchester")),
    ("east-midlands", N_("East Midlands")),
    ("west-midlands", N_("West Midlands")),
    ("east-of-england", N_("East of England")),
    ("wales", N_("Wales")),
    ("south-west", N_("South West")),
    ("south-central", N_("South Central")),
    ("kent-surrey-and-sussex", N_("Kent, Surrey and Sussex")),
    ("london", N_("London")),
)

# Risk of serious harm levels.
ROSH_LEVELS: Choices = (
    ("low", N_("Low")),
    ("medium", N_("Medium")),
    ("high", N_("High")),
    ("very-high", N_("Very high")),
)

MAPPA_LEVELS: Choices = (
    ("none", N_("Not a MAPPA case")),
    ("1", N_("Level 1")),
    ("2", N_("Level 2")),
    ("3", N_("Level 3")),
    ("unknown", N_("I do not know")),
)

ROLE_GRADES: Choices = (
    ("pso", N_("Probation services officer (PSO)")),
    ("po", N_("Probation officer (PO)")),
    ("pqip", N_("PQiP trainee")),
    ("spo", N_("Senior probation officer (SPO)")),
    ("other", N_("Other")),
)

# Above 110% for four consecutive weeks counts as excessive in the workload measurement tool.
WORKLOAD_DURATIONS: Choices = (
    ("under-4-weeks", N_("Less than 4 weeks")),
    ("4-weeks-to-3-months", N_("4 weeks to 3 months")),
    ("3-to-6-months", N_("3 to 6 months")),
    ("6-to-12-months", N_("6 to 12 months")),
    ("over-12-months", N_("More than 12 months")),
)

WORKLOAD_CONSEQUENCES: Choices = (
    ("contacts-missed", N_("Contacts with people on probation missed for weeks")),
    ("breaches-late", N_("Breaches not actioned within six days")),
    ("police-checks", N_("Domestic abuse checks with the police not done")),
    ("safeguarding-checks", N_("Safeguarding checks not done")),
    ("other", N_("Something else")),
)

YES_NO_UNKNOWN: Choices = (
    ("yes", N_("Yes")),
    ("no", N_("No")),
    ("unknown", N_("I do not know")),
)

YES_NO: Choices = (
    ("yes", N_("Yes")),
    ("no", N_("No")),
)

MONTHS: Choices = (
    ("1", N_("January")),
    ("2", N_("February")),
    ("3", N_("March")),
    ("4", N_("April")),
    ("5", N_("May")),
    ("6", N_("June")),
    ("7", N_("July")),
    ("8", N_("August")),
    ("9", N_("September")),
    ("10", N_("October")),
    ("11", N_("November")),
    ("12", N_("December")),
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


def label_of(choices: Choices, value: str) -> str:
    """The label for a stored value, or the value itself if the catalogue no longer has it."""
    return dict(choices).get(value, value)
