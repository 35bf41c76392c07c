"""The draft the staff edit, the versions they publish, and the reload of the running service.

The service reads the live files (the answer sheets and the calendar files of
callbot.yaml). The console never edits them directly: edits go to a draft, a
copy of those files in the console's state folder. Publishing validates the
draft exactly as the service will (the same loader, plus every regression
example, like `callbot check`), copies it over the live files, keeps a copy
as a numbered version, and sends SIGHUP to the service. A refused draft
changes nothing live. Restoring a version publishes its copy again.

Files are addressed by a relative name the console builds from the
configuration (`answers/mairie.yaml`, `data/horaires.yaml`); a name coming
from the browser is only ever looked up among those, never joined to a path.
"""

from __future__ import annotations

import difflib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from callbot.checking import check_behaviour
from callbot.config import Config, load_config
from callbot.knowledge import Knowledge, knowledge_of
from callbot.sheets import sheet_files
from callbot.yamlsource import ERROR, Diagnostic

log = logging.getLogger(__name__)

CALENDAR_FILES = ("hours", "collections", "menus", "school_holidays")


@dataclass(frozen=True)
class DraftCheck:
    knowledge: Knowledge | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == ERROR)


@dataclass(frozen=True)
class PublishResult:
    published: bool
    version: int | None
    check: DraftCheck
    reload_message: str


class ReloadFailed(Exception):
    pass


class Workspace:
    def __init__(self, config_path: Path, state: Path):
        self.config_path = Path(config_path)
        self.state = Path(state)
        self.draft_dir = self.state / "draft"
        self.base_dir = self.state / "base"  # the live files as they were when the draft started
        self.versions_dir = self.state / "versions"
        self.lock = threading.RLock()  # one edit or publication at a time
        self._cached: tuple[tuple, DraftCheck] | None = None

    # -- the files ---------------------------------------------------------
    def config(self) -> Config:
        diagnostics: list[Diagnostic] = []
        config = load_config(self.config_path, diagnostics)
        if config is None:
            from callbot.yamlsource import ConfigError
            raise ConfigError(diagnostics)
        return config

    def live_files(self) -> dict[str, Path]:
        """Relative name -> live path, for every file the console may edit."""
        config = self.config()
        files = {f"answers/{p.name}": p for p in sheet_files(config.answers_dir)} if config.answers_dir.is_dir() else {}
        if config.calendar is not None:
            for key in CALENDAR_FILES:
                path = getattr(config.calendar, key)
                if path is not None:
                    files[f"data/{Path(path).name}"] = Path(path)
        return files

    def ensure_draft(self) -> None:
        """Start a draft from the live files when there is none; follow files edited by hand since.

        `base/` keeps the live files as they were when the draft started. A live
        file changed by hand since then is taken into the draft when the draft
        did not touch it; when both changed, it is a conflict (see `conflicts`).
        """
        with self.lock:
            live = self.live_files()
            if not (self.draft_dir / ".complete").is_file() or not (self.base_dir / ".complete").is_file():
                self._copy_set(live, self.draft_dir)
                self._copy_set(live, self.base_dir)
                return
            for name, path in live.items():
                base, draft = self.base_dir / name, self.draft_dir / name
                if _same(path, base):
                    continue
                if _same(draft, base):
                    for copy in (base, draft):
                        copy.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(path, copy)
                    self._cached = None

    def conflicts(self) -> list[str]:
        """Files changed both by hand (live) and in the draft since the draft started."""
        self.ensure_draft()
        return [name for name, path in self.live_files().items()
                if not _same(path, self.base_dir / name) and not _same(self.draft_dir / name, self.base_dir / name)]

    def draft_path(self, name: str) -> Path:
        """The draft copy of a file named by the console; KeyError for any other name."""
        self.ensure_draft()
        if name not in self.live_files():
            raise KeyError(name)
        return self.draft_dir / name

    def draft_sheets(self) -> list[str]:
        return sorted(n for n in self.live_files() if n.startswith("answers/"))

    def discard_draft(self) -> None:
        with self.lock:
            shutil.rmtree(self.draft_dir, ignore_errors=True)
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self._cached = None

    def _copy_set(self, files: dict[str, Path], folder: Path) -> None:
        partial = folder.with_name(folder.name + ".part")
        shutil.rmtree(partial, ignore_errors=True)
        for name, source in files.items():
            (partial / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, partial / name)
        (partial / ".complete").write_text("", encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(partial, folder)

    # -- checking ----------------------------------------------------------
    def draft_config(self, folder: Path | None = None) -> Config:
        """The configuration with its answers and calendar files taken from the draft (or another copy)."""
        folder = folder or self.draft_dir
        config = self.config()
        calendar = config.calendar
        if calendar is not None:
            moved: dict[str, Any] = {key: folder / "data" / Path(getattr(calendar, key)).name
                                     for key in CALENDAR_FILES if getattr(calendar, key) is not None}
            calendar = replace(calendar, **moved)
        return replace(config, answers_dir=folder / "answers", calendar=calendar)

    def check_draft(self) -> DraftCheck:
        """Load the draft as the service would, and run every check of `callbot check`; cached until a file changes."""
        self.ensure_draft()
        stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(self.draft_dir.rglob("*"))
                      if p.is_file()) + (self.config_path.stat().st_mtime_ns,)
        if self._cached and self._cached[0] == stamp:
            return self._cached[1]
        diagnostics: list[Diagnostic] = []
        knowledge, diagnostics = knowledge_of(self.draft_config(), None, diagnostics)
        if knowledge is not None:
            diagnostics = diagnostics + check_behaviour(knowledge)
        result = DraftCheck(knowledge, tuple(diagnostics))
        self._cached = (stamp, result)
        return result

    def live_knowledge(self) -> Knowledge | None:
        knowledge, _ = knowledge_of(self.config(), None, [])
        return knowledge

    # -- publishing --------------------------------------------------------
    def changes(self) -> list[tuple[str, list[str]]]:
        """(file name, unified diff lines) for every draft file that differs from the live one."""
        self.ensure_draft()
        changed = []
        for name, live in self.live_files().items():
            draft = self.draft_dir / name
            old = live.read_text(encoding="utf-8") if live.is_file() else ""
            new = draft.read_text(encoding="utf-8") if draft.is_file() else ""
            if old != new:
                diff = list(difflib.unified_diff(old.splitlines(), new.splitlines(), "en service", "brouillon",
                                                 lineterm="", n=2))
                changed.append((name, diff[2:]))
        return changed

    def publish(self, store, user: str, note: str, reload: "ServiceReloader") -> PublishResult:
        with self.lock:
            check = self.check_draft()
            if check.knowledge is None or check.errors or self.conflicts():
                return PublishResult(False, None, check, "")
            files = self.live_files()
            if not store.versions():
                # keep what was live before the console's first publication, so that it can be restored too
                first = store.add_version(user, "version en service avant la première publication")
                self._copy_set(files, self.versions_dir / str(first))
            number = store.add_version(user, note)
            self._copy_set({name: self.draft_dir / name for name in files}, self.versions_dir / str(number))
            self._install(self.versions_dir / str(number), files)
            self._copy_set(files, self.base_dir)  # the draft now equals what is live
            return PublishResult(True, number, check, reload.reload())

    def restore(self, store, user: str, number: int, reload: "ServiceReloader") -> PublishResult:
        """Publish an earlier version again (as a new version), and start the draft from it."""
        with self.lock:
            source = self.versions_dir / str(number)
            if not (source / ".complete").is_file():
                raise KeyError(number)
            files = self.live_files()
            knowledge, diagnostics = knowledge_of(self.draft_config(source), None, [])
            check = DraftCheck(knowledge, tuple(diagnostics))
            if check.knowledge is None:
                return PublishResult(False, None, check, "")
            new = store.add_version(user, f"restauration de la version {number}")
            self._copy_set({name: source / name for name in files if (source / name).is_file()},
                           self.versions_dir / str(new))
            self._install(source, files)
            self.discard_draft()
            return PublishResult(True, new, check, reload.reload())

    def _install(self, folder: Path, files: dict[str, Path]) -> None:
        """Copy a checked set over the live files, each replaced atomically."""
        for name, live in files.items():
            source = folder / name
            if not source.is_file():
                continue
            handle, temporary = tempfile.mkstemp(dir=live.parent, prefix=f".{live.name}.", suffix=".part")
            os.close(handle)
            try:
                shutil.copyfile(source, temporary)
                os.chmod(temporary, live.stat().st_mode & 0o777 if live.exists() else 0o640)
                os.replace(temporary, live)
            finally:
                if os.path.exists(temporary):
                    os.unlink(temporary)


def _same(a: Path, b: Path) -> bool:
    """Same content, or both missing."""
    if not a.is_file() or not b.is_file():
        return a.is_file() == b.is_file()
    return a.read_bytes() == b.read_bytes()


class ServiceReloader:
    """Tells the running `callbot serve` to reload (SIGHUP to its main process, as `systemctl reload` does).

    The console runs as the same user as the service, so it may signal it
    without privileges; the process id comes from a pid file when configured,
    else from systemd (`systemctl show`, which needs no privileges either).
    """

    def __init__(self, service: str, pid_file: Path | None):
        self.service = service
        self.pid_file = pid_file

    def pid(self) -> int:
        if self.pid_file is not None:
            try:
                return int(self.pid_file.read_text(encoding="utf-8").strip())
            except (OSError, ValueError) as exc:
                raise ReloadFailed(f"le fichier {self.pid_file} ne donne pas le processus du service ({exc})") from exc
        try:
            shown = subprocess.run(["systemctl", "show", "--property", "MainPID", "--value", self.service],
                                   capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ReloadFailed(f"systemctl ne répond pas ({exc})") from exc
        pid = shown.stdout.strip()
        if shown.returncode != 0 or not pid.isdigit() or pid == "0":
            raise ReloadFailed(f"le service {self.service} ne tourne pas")
        return int(pid)

    def reload(self) -> str:
        """A sentence for the staff saying whether the service was told to reload."""
        try:
            os.kill(self.pid(), signal.SIGHUP)
        except (ReloadFailed, ProcessLookupError, PermissionError) as exc:
            log.warning("published, but the service could not be told to reload: %s", exc)
            return (f"Les fichiers sont publiés, mais le service n'a pas pu être prévenu ({exc}) : "
                    f"il prendra la nouvelle version à son prochain redémarrage.")
        return "Le service a été prévenu : les nouveaux appels utilisent cette version dans quelques secondes."
