"""Voice messages left by callers when nobody could take the call.

Each message is a WAV file and a JSON file of metadata (time, caller number,
duration, transcript) in the spool folder, written atomically so that a crash
never leaves half a message. The caller chose to leave it and the mairie must
be able to call back, so the number is kept in full here; messages are
deleted after `retention_days` (see README, "Personal data").
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from callbot.audio import write_wav

log = logging.getLogger(__name__)


class MessageSpool:
    def __init__(self, folder: Path, retention_days: int = 30):
        self.folder = Path(folder)
        self.retention_days = retention_days
        self._lock = threading.Lock()

    def store(self, samples: np.ndarray, rate: int, transcript: str, caller: str, call_id: str,
              now: datetime | None = None) -> Path:
        """Write the message and its metadata; returns the metadata file."""
        now = now or datetime.now(timezone.utc)
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{call_id}"
        metadata = {
            "received": now.isoformat(timespec="seconds"),
            "caller": caller,
            "seconds": round(len(samples) / rate, 1),
            "transcript": transcript,
            "audio": f"{stem}.wav",
            "call_id": call_id,
        }
        with self._lock:
            self._atomic(self.folder / f"{stem}.wav", lambda path: write_wav(path, samples, rate))
            self._atomic(self.folder / f"{stem}.json",
                         lambda path: path.write_text(json.dumps(metadata, ensure_ascii=False, indent=2), "utf-8"))
        log.info("call %s: message of %.1f s stored", call_id, metadata["seconds"])
        return self.folder / f"{stem}.json"

    def messages(self) -> list[dict]:
        return [json.loads(p.read_text("utf-8")) for p in sorted(self.folder.glob("*.json"))]

    def purge(self, now: float | None = None) -> int:
        """Delete messages older than the retention limit; returns how many."""
        limit = (now or time.time()) - self.retention_days * 86400
        removed = 0
        for metadata in self.folder.glob("*.json"):
            if metadata.stat().st_mtime < limit:
                metadata.with_suffix(".wav").unlink(missing_ok=True)
                metadata.unlink(missing_ok=True)
                removed += 1
        return removed

    def _atomic(self, path: Path, write) -> None:
        handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".part")
        os.close(handle)
        try:
            write(Path(temporary))
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
