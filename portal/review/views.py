"""Pages of the review site."""

from __future__ import annotations

from flask import Blueprint, render_template

blueprint = Blueprint("review", __name__)


@blueprint.get("/")
def home() -> str:
    """The review area's front page."""
    return render_template("home.html")
