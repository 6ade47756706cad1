"""ruff (lint and format) and mypy stay clean on the code, as configured in pyproject.toml.

Each check runs the tool as CI would, from the repository root, and fails with the tool's
own report. A check is skipped (saying which tool is missing) where the tool is not
installed: ``pip install -e ".[test]"`` installs both.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run_module(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[test]')")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_lint_is_clean():
    result = _run_module("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    result = _run_module("ruff", "format", "--check", "--no-cache", ".")
    assert result.returncode == 0, "run `ruff format` on these files:\n" + result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_is_clean():
    # files, exclusions and per-module overrides come from [tool.mypy] in pyproject.toml
    result = _run_module("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
