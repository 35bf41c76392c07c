"""Static checks of callbot/: ruff (pyflakes and bugbear rules) and mypy find nothing.

They catch what a test may miss until a caller meets it: a name that no longer exists when a
lambda runs later, an optional setting used as if always there. Versions and rules are pinned in
pyproject.toml, so only a change of the code can make these fail.
"""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def run_tool(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    result = run_tool("ruff", "check", "--no-cache", "--output-format", "concise", "callbot")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing():
    result = run_tool("mypy", "--cache-dir", str(REPO / ".mypy_cache"))  # files and options: pyproject.toml
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
