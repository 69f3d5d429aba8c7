"""The layering rules hold: the import contracts in pyproject.toml, checked by import-linter.

import-linter follows indirect imports and imports made inside functions, so a service that
reached Flask through a helper, or the submission site reaching custody code through a
service, breaks a contract as surely as a direct import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from portal.config import PROJECT_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """Check the contracts of `tree`'s pyproject.toml against the `portal` package in `tree`."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _copy_of_the_portal(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(
        PROJECT_ROOT / "portal", tree / "portal", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_every_import_contract_is_kept(tmp_path: Path) -> None:
    result = _lint_imports(_copy_of_the_portal(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_service_importing_flask_breaks_a_contract(tmp_path: Path) -> None:
    # Given a copy of the portal whose sealed documents reach for the web framework
    tree = _copy_of_the_portal(tmp_path)
    documents = tree / "portal" / "services" / "documents.py"
    documents.write_text(documents.read_text() + "\nfrom flask import current_app  # noqa\n")

    # When the contracts are checked, then the domain contract is broken, naming the import
    result = _lint_imports(tree)
    assert result.returncode != 0
    assert "no web framework and read no configuration BROKEN" in result.stdout
    assert "portal.services.documents -> flask" in result.stdout


def test_the_submission_site_reaching_custody_through_a_service_breaks_a_contract(
    tmp_path: Path,
) -> None:
    # Given a copy of the portal where a service the submission site uses imports custody code
    tree = _copy_of_the_portal(tmp_path)
    intake = tree / "portal" / "services" / "intake.py"
    intake.write_text(intake.read_text() + "\nfrom portal.custody import keyrings  # noqa\n")

    # When the contracts are checked, then the submission-site contract is broken
    result = _lint_imports(tree)
    assert result.returncode != 0
    assert "never imports review or custody code BROKEN" in result.stdout
