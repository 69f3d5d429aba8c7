"""Playwright's sync API and axe-core's binding for the browser tests, or one line saying why
they cannot run.

The test modules import both through here: when either is not installed, the whole module is
skipped with the reason (or, under CI=true, the run fails), instead of a collection error.
"""

from __future__ import annotations

from typing import NoReturn

import pytest

from tests.support.components import IN_CI

_INSTALL = "run make test (pip install -e '.[test]')"


def _missing(package: str) -> NoReturn:  # pragma: no cover - depends on the machine
    reason = f"{package} is not installed: {_INSTALL}"
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: nothing may be skipped, install it)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


try:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        ConsoleMessage,
        Dialog,
        Locator,
        Page,
        Playwright,
        Request,
        expect,
        sync_playwright,
    )
except ImportError:  # pragma: no cover - depends on the machine
    _missing("Playwright")

try:
    from axe_playwright_python.sync_playwright import Axe
except ImportError:  # pragma: no cover - depends on the machine
    _missing("axe-playwright-python")

__all__ = [
    "Axe",
    "Browser",
    "BrowserContext",
    "ConsoleMessage",
    "Dialog",
    "Locator",
    "Page",
    "Playwright",
    "Request",
    "expect",
    "sync_playwright",
]
