"""The probation reporting portal: two Flask applications built from one package.

`create_submit_app` builds the public submission site and `create_review_app` the inspectors'
review site. Each factory imports its site only when called, so a process serving the public
site never imports review code. Importing this package has no side effects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from portal.config import Settings


def create_submit_app(settings: Settings | None = None) -> Flask:
    """The public submission site; `settings` defaults to the environment's."""
    from portal import submit  # noqa: PLC0415 (kept lazy: see the module docstring)
    from portal.config import Settings  # noqa: PLC0415

    return submit.create_app(settings or Settings.from_env())


def create_review_app(settings: Settings | None = None) -> Flask:
    """The inspectors' review site; `settings` defaults to the environment's."""
    from portal import review  # noqa: PLC0415 (kept lazy: see the module docstring)
    from portal.config import Settings  # noqa: PLC0415

    return review.create_app(settings or Settings.from_env())
