"""A throw-away mairie for the console's tests: the example sheets and calendar, a journal with calls, messages."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import yaml

from conftest import REPO, pypi_test_models
from callbot.journal import CallJournal, JournalTurn
from callbot.messages import MessageSpool

EDITOR, VIEWER = "secretaire", "accueil"
PASSWORD = "correct horse battery"
# what callers asked that the example sheets do not answer: two wordings of one question, and another one
UNANSWERED = ["je voudrais louer la salle des fêtes pour un mariage", "louer la salle des fêtes pour mon mariage",
              "est-ce que la piscine municipale est ouverte"]


def make_mairie(folder: Path, cache: Path, extra: dict | None = None) -> Path:
    """Copy the example configuration into `folder` on the test models; returns callbot.yaml."""
    shutil.copytree(REPO / "callbot" / "example", folder / "mairie")
    path = folder / "mairie" / "callbot.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    model, voice = pypi_test_models()
    config["speech"] = {"vosk_model": str(model), "voice": str(voice), "cache": str(cache)}
    config["messages"] = {"spool": str(folder / "spool"), "retention_days": 30}
    config["journal"] = {"path": str(folder / "journal.sqlite3")}
    config["console"] = {"state": str(folder / "console"), "service_pid_file": str(folder / "callbot.pid")}
    config.update(extra or {})
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def fill_journal(path: Path, now: datetime) -> None:
    journal = CallJournal(path)
    for n, text in enumerate(UNANSWERED + UNANSWERED[:1]):
        journal.record(f"call-{n}", now - timedelta(hours=n + 1), 30.0, "transferred", "0612345678", "accueil",
                       [JournalTurn(text, "nomatch", None, 0.2, 300.0),
                        JournalTurn("quels sont les horaires de la mairie", "answer", "horaires_mairie", 0.9, 250.0)])
    journal.close()


def leave_message(spool: Path, now: datetime, call_id: str = "abc123") -> str:
    rate = 8000
    tone = (np.sin(np.arange(rate) * 2 * np.pi * 440 / rate) * 8000).astype("<i2")
    metadata = MessageSpool(spool).store(tone, rate, "bonjour c'est madame martin rappelez-moi", "0612345678",
                                         call_id, now.astimezone())
    return metadata.stem
