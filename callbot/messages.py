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
from datetime import datetime
from pathlib import Path

import numpy as np

from callbot.audio import write_wav
from callbot.config import EmailSettings

log = logging.getLogger(__name__)


class MessageSpool:
    def __init__(self, folder: Path, retention_days: int = 30, email: EmailSettings | None = None):
        self.folder = Path(folder)
        self.retention_days = retention_days
        self.email = email
        self._lock = threading.Lock()
        self.sending: list[threading.Thread] = []

    def store(self, samples: np.ndarray, rate: int, transcript: str, caller: str, call_id: str,
              now: datetime | None = None) -> Path:
        """Write the message and its metadata; returns the metadata file."""
        now = now or datetime.now().astimezone()  # the mairie's local time, with its offset from UTC
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = f"{now.strftime('%Y%m%dT%H%M%S')}-{call_id}"
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
        if self.email is not None:
            # mail servers can be slow or down: never hold the call's worker for it; the spool keeps the message
            sender = threading.Thread(target=send_by_email, args=(self.email, metadata, self.folder / f"{stem}.wav"),
                                      name=f"mail-{call_id}", daemon=True)
            sender.start()
            self.sending.append(sender)
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


def send_by_email(settings: EmailSettings, metadata: dict, audio: Path) -> bool:
    """E-mail one message with its recording attached; failures are logged, the spool keeps the message."""
    import smtplib
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["Subject"] = f"Message vocal du {metadata['received'][:16].replace('T', ' à ')} ({metadata['caller'] or 'numéro masqué'})"
    mail["From"] = settings.sender
    mail["To"] = ", ".join(settings.recipients)
    mail.set_content(
        f"Un correspondant a laissé un message sur le répondeur de la mairie.\n\n"
        f"Reçu le : {metadata['received']}\nNuméro : {metadata['caller'] or 'masqué'}\n"
        f"Durée : {metadata['seconds']} s\n\nTranscription automatique (peut contenir des erreurs) :\n"
        f"{metadata['transcript'] or '(rien de reconnu)'}\n")
    mail.add_attachment(audio.read_bytes(), maintype="audio", subtype="wav", filename=audio.name)
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=30) as smtp:
            if settings.starttls:
                smtp.starttls()
            if settings.username:
                smtp.login(settings.username, settings.password)
            smtp.send_message(mail)
        log.info("call %s: message e-mailed", metadata["call_id"])
        return True
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("call %s: message not e-mailed (%s); it stays in the spool", metadata["call_id"], exc)
        return False
