"""Shared fixtures: the example configuration and a factory for throw-away configurations."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from callbot.config import EXAMPLE_CONFIG
from callbot.knowledge import Knowledge, require_knowledge

REPO = Path(__file__).resolve().parent.parent

MINIMAL_CONFIG = """\
commune: Testville
answers: answers
transfer:
  reception: accueil
  targets:
    accueil:
      uri: sip:accueil@127.0.0.1
"""

MINIMAL_SHEET = """\
answers:
  - id: horaires
    questions:
      - Quels sont les horaires de la mairie ?
    answer: La mairie est ouverte du lundi au vendredi.
"""


@pytest.fixture(scope="session")
def example() -> Knowledge:
    return require_knowledge(EXAMPLE_CONFIG)


@pytest.fixture
def make_config(tmp_path: Path):
    """Write a callbot.yaml and answer sheets into a temporary folder; returns the config path."""

    def make(config: str = MINIMAL_CONFIG, sheets: dict[str, str] | None = None) -> Path:
        answers = tmp_path / "answers"
        answers.mkdir(exist_ok=True)
        for name, text in (sheets if sheets is not None else {"base.yaml": MINIMAL_SHEET}).items():
            (answers / name).write_text(textwrap.dedent(text), encoding="utf-8")
        path = tmp_path / "callbot.yaml"
        path.write_text(textwrap.dedent(config), encoding="utf-8")
        return path

    return make


def run_callbot(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run the installed `callbot` command as a user would."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "callbot", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=120)
