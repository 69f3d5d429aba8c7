"""The lock files agree with pyproject.toml, and the check that says so fails when they do not.

Every install comes from requirements/*.txt with hashes enforced, so a lock that has drifted from
pyproject.toml means running code nobody asked for, or missing code somebody did. Each failing
case below edits a copy of the checkout the way a developer might forget to re-lock.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from portal.config import PROJECT_ROOT
from scripts import check_lock

SCRIPT = PROJECT_ROOT / "scripts" / "check_lock.py"
MAIN = "requirements/main.txt"
TEST = "requirements/test.txt"
# The same names as regular expressions, for the expected problems below.
MAIN_RE, TEST_RE = re.escape(MAIN), re.escape(TEST)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of pyproject.toml and the lock files, to edit."""
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path)
    shutil.copytree(PROJECT_ROOT / "requirements", tmp_path / "requirements")
    return tmp_path


def _edit(checkout: Path, file: str, pattern: str, replacement: str) -> None:
    path = checkout / file
    text, count = re.subn(pattern, replacement, path.read_text(), count=1, flags=re.M)
    assert count == 1, f"{pattern!r} not found in {file}: the test needs updating"
    path.write_text(text)


def test_the_lock_files_agree_with_pyproject() -> None:
    assert check_lock.check(PROJECT_ROOT) == []


def test_a_dependency_missing_from_the_lock_fails_make_test(checkout: Path) -> None:
    # Given pyproject.toml with a new dependency that nobody locked
    _edit(checkout, "pyproject.toml", r"^dependencies = \[\n", '\\g<0>    "left-pad-canary>=1",\n')

    # When the check runs as `make test` runs it
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(checkout)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # Then it fails, naming the dependency in both locks
    assert result.returncode == 1
    for lock in (MAIN, TEST):
        assert (
            f"{lock}: left-pad-canary>=1 (project.dependencies) is not in the lock: run `make lock`"
            in result.stderr.splitlines()
        )


@pytest.mark.parametrize(
    ("file", "pattern", "replacement", "problem"),
    [
        pytest.param(
            "pyproject.toml",
            r"^test = \[\n",
            '\\g<0>    "left-pad-canary>=1",\n',
            rf"{TEST_RE}: left-pad-canary>=1 \(project\.optional-dependencies\.test\) is not in",
            id="test extra gains a dependency",
        ),
        pytest.param(
            "pyproject.toml",
            r'"flask>=[\d.]+"',
            '"flask>=99"',
            rf"{MAIN_RE}: flask==[\d.]+ does not satisfy flask>=99 \(project\.dependencies\)",
            id="lower bound raised past the pin",
        ),
        pytest.param(
            "pyproject.toml",
            r'^    "segno>=[\d.]+",\n',
            "",
            rf"{MAIN_RE}: segno is locked as asked for by pyproject\.toml, which no longer",
            id="dependency dropped from pyproject",
        ),
        pytest.param(
            MAIN,
            r"^(segno==[\d.]+) \\\n(?:\s+--hash=\S+(?: \\)?\n)+",
            "\\1\n",
            rf"{MAIN_RE}: line \d+: segno==[\d.]+ has no --hash",
            id="pin without a hash",
        ),
        pytest.param(
            MAIN,
            r"^flask==[\d.]+",
            "flask>=3.1",
            rf"{MAIN_RE}: line \d+: flask is not pinned to one version \(==\)",
            id="requirement not pinned",
        ),
        pytest.param(
            MAIN,
            r"\Z",
            "orphan==1.0 \\\n    --hash=sha256:00\n    # via nothing-locked\n",
            rf"{MAIN_RE}: orphan is locked, but nothing in the lock needs it",
            id="package nothing needs",
        ),
        pytest.param(
            TEST,
            r"^alembic==",
            "--extra-index-url https://index.invalid/simple\n\\g<0>",
            rf"{TEST_RE}: line \d+: an option, where only pinned requirements belong: --extra",
            id="index option",
        ),
        pytest.param(
            TEST,
            r"^gunicorn==[\d.]+",
            "gunicorn==23.0.0",
            rf"{TEST_RE} pins gunicorn==23\.0\.0 but {MAIN_RE} pins ==[\d.]+",
            id="locks pin different versions",
        ),
        pytest.param(
            MAIN,
            r"pip-compile with Python 3\.11",
            "pip-compile with Python 3.13",
            rf"{MAIN_RE}: made for Python 3\.11, but found: 3\.13",
            id="made for another Python",
        ),
    ],
)
def test_each_drift_fails_the_check(
    checkout: Path, file: str, pattern: str, replacement: str, problem: str
) -> None:
    _edit(checkout, file, pattern, replacement)

    problems = check_lock.check(checkout)

    assert any(re.match(problem, line) for line in problems), problems
