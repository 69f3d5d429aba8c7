"""Pages of the public submission site."""

from __future__ import annotations

from flask import Blueprint, render_template

blueprint = Blueprint("submit", __name__)


@blueprint.get("/")
def start() -> str:
    """The start page: who runs the portal and what happens to a report."""
    return render_template("start.html")
