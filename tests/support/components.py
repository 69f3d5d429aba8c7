"""What to do when a test needs something the machine lacks: skip with a reason, or fail in CI."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Skip the test with `reason`; under CI=true fail it instead, since CI must have everything."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: nothing may be skipped, install it)", pytrace=False)
    pytest.skip(reason)
