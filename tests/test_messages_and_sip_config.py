"""Voice message spool, SIP settings and admission rules (no network)."""

import json
import os
import threading
import time
from datetime import datetime, timezone

import numpy as np
import pytest

from callbot.audio import Frame
from callbot.claims import CallClaims
from callbot.config import SipSettings
from callbot.knowledge import load_knowledge
from callbot.messages import MessageSpool
from callbot.sip import SipService, caller_number, mask_number
from conftest import MINIMAL_CONFIG


def test_a_message_is_stored_with_its_metadata(tmp_path):
    spool = MessageSpool(tmp_path / "spool")
    samples = (1000 * np.sin(np.arange(8000 * 3) / 5)).astype("<i2")
    when = datetime(2026, 11, 26, 21, 5, tzinfo=timezone.utc)
    path = spool.store(samples, 8000, "bonjour c est madame martin", "0612345678", "abcd1234", now=when)
    metadata = json.loads(path.read_text("utf-8"))
    assert metadata == {"received": "2026-11-26T21:05:00+00:00", "caller": "0612345678", "seconds": 3.0,
                        "transcript": "bonjour c est madame martin", "audio": "20261126T210500-abcd1234.wav",
                        "call_id": "abcd1234"}
    assert (tmp_path / "spool" / metadata["audio"]).stat().st_size > 3 * 8000 * 2
    assert not list((tmp_path / "spool").glob("*.part"))
    assert spool.messages() == [metadata]


def test_messages_older_than_the_retention_are_deleted(tmp_path):
    spool = MessageSpool(tmp_path, retention_days=30)
    old = spool.store(np.zeros(800, "<i2"), 8000, "ancien", "0100000000", "old")
    new = spool.store(np.zeros(800, "<i2"), 8000, "récent", "0100000001", "new")
    month_ago = time.time() - 31 * 86400
    os.utime(old, (month_ago, month_ago))
    assert spool.purge() == 1
    assert not old.exists() and not old.with_suffix(".wav").exists()
    assert new.exists()


@pytest.mark.parametrize("uri, number", [
    ('"Mme Martin" <sip:0612345678@192.0.2.1>', "0612345678"),
    ("<sip:+33612345678@pbx.local;user=phone>", "+33612345678"),
    ("sip:caller@127.0.0.1:5062", "caller"),
])
def test_caller_number_is_the_user_part(uri, number):
    assert caller_number(uri) == number


def test_logs_show_only_the_last_two_digits():
    assert mask_number("0612345678") == "••••••••78"
    assert mask_number("") == "unknown"


def service(**settings) -> SipService:
    return SipService(SipSettings(**settings), knowledge_source=lambda: None, engines=None, spool=None)


def test_direct_mode_refuses_unknown_peers():
    sip = service(allow=("127.0.0.1", "192.0.2.0/24"))
    assert sip.admit(1, "127.0.0.1:5062") == (200, None)
    assert sip.admit(1, "192.0.2.77:5060") == (200, None)
    assert sip.admit(1, "198.51.100.1:5060") == (403, None)
    assert sip.admit(1, "[::1]:5060") == (403, None)


def test_registered_mode_takes_calls_from_the_pbx_whatever_its_address():
    assert service(mode="register", allow=()).admit(1, "198.51.100.1:5060") == (200, None)


class Busy:
    finished = False


def test_full_line_answers_busy_or_overflows():
    sip = service(max_calls=2)
    sip.calls = {1: Busy(), 2: Busy()}
    assert sip.admit(3, "127.0.0.1:5062") == (486, None)
    sip = service(max_calls=2, overflow="sip:standard@127.0.0.1:5070", workers=1)
    sip.calls = {1: Busy(), 2: Busy()}
    assert sip.admit(3, "127.0.0.1:5062") == (302, "sip:standard@127.0.0.1:5070")


def test_with_several_workers_a_full_worker_leaves_the_overflow_to_the_front():
    sip = service(max_calls=2, overflow="sip:standard@127.0.0.1:5070", workers=3)
    sip.calls = {1: Busy(), 2: Busy()}
    assert sip.admit(3, "127.0.0.1:5062") == (486, None)


def test_a_reloading_worker_leaves_new_calls_to_the_others():
    sip = service(workers=2)
    reloading = [True]
    sip.refusing_calls = lambda: reloading[0]
    assert sip.admit("a@pbx", "127.0.0.1:5062") == (486, None)
    reloading[0] = False
    assert sip.admit("b@pbx", "127.0.0.1:5062") == (200, None)


def test_workers_sharing_an_extension_answer_each_forked_call_once():
    claims = CallClaims()
    first, second = (SipService(SipSettings(mode="register", workers=2, max_calls=2), knowledge_source=lambda: None,
                                engines=None, spool=None, claims=claims) for _ in range(2))
    assert first.admit("abc@pbx", "192.0.2.1:5060") == (200, None)
    assert second.admit("abc@pbx", "192.0.2.1:5060") == (486, None)  # the same INVITE, forked: already taken
    second.calls = {1: Busy(), 2: Busy()}
    assert second.admit("def@pbx", "192.0.2.1:5060") == (486, None)  # full: it does not claim the call
    assert first.admit("def@pbx", "192.0.2.1:5060") == (200, None)


SIP_CASES = [
    ("sip:\n  listen: 0.0.0.0:5060\n  mode: register\n  registrar: sip:192.0.2.1\n  username: bot\n  password: s3cret\n", None),
    ("sip:\n  listen: \"5060\"\n", "`listen` must be ADDRESS:PORT"),
    ("sip:\n  mode: pbx\n", "`mode` must be `direct` or `register`"),
    ("sip:\n  mode: register\n", "`sip: mode: register` needs `registrar`"),
    ("sip:\n  allow: [192.0.2.300]\n", "`192.0.2.300` is not an IP address or network"),
    ("sip:\n  codecs: [PCMA, opus]\n", "unknown codec `OPUS`"),
    ("sip:\n  max_calls: 8\n", "`max_calls` is 8, outside 1..4"),
    ("sip:\n  rtp_ports: 40000\n", "`rtp_ports` must be a range like 40000-40999"),
    ("sip:\n  overflow: 0199001234\n", "`overflow` must be a SIP URI"),
    ("messages:\n  retention_days: 0\n", "`retention_days` is 0, outside 1..365"),
    ("messages:\n  email:\n    host: smtp.mairie.example\n    recipients: [accueil]\n", "`accueil` is not an e-mail address"),
    ("messages:\n  email:\n    recipients: [a@b.example]\n", "`email`: missing key `host`"),
]


@pytest.mark.parametrize("extra, error", SIP_CASES)
def test_sip_settings_are_validated(make_config, extra, error):
    knowledge, diagnostics = load_knowledge(make_config(MINIMAL_CONFIG + extra))
    errors = [str(d) for d in diagnostics if d.severity == "error"]
    if error is None:
        assert errors == [] and knowledge.config.sip.mode == "register" and knowledge.config.sip.port == 5060
    else:
        assert any(error in e for e in errors), errors


@pytest.mark.parametrize("extra, expected", [("", os.cpu_count()), ("sip:\n  workers: auto\n", os.cpu_count()),
                                             ("sip:\n  workers: 3\n", 3)])
def test_workers_default_to_one_per_core(make_config, extra, expected):
    knowledge, diagnostics = load_knowledge(make_config(MINIMAL_CONFIG + extra))
    assert not diagnostics and knowledge.config.sip.workers == min(expected, 8)


class SmtpSink:
    """A minimal SMTP server on 127.0.0.1 that keeps what it receives."""

    def __init__(self):
        import socketserver
        import threading

        self.mails: list[bytes] = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 test\r\n")
                while line := self.rfile.readline():
                    command = line.strip().upper()
                    if command.startswith((b"EHLO", b"HELO")):
                        self.wfile.write(b"250 test\r\n")
                    elif command == b"DATA":
                        self.wfile.write(b"354 go\r\n")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data += chunk
                        sink.mails.append(data)
                        self.wfile.write(b"250 ok\r\n")
                    elif command == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_messages_are_e_mailed_with_their_recording(tmp_path):
    from callbot.config import EmailSettings

    sink = SmtpSink()
    email = EmailSettings("127.0.0.1", sink.port, "callbot@mairie.example", ("accueil@mairie.example",))
    spool = MessageSpool(tmp_path, email=email)
    spool.store(np.zeros(8000, "<i2"), 8000, "rappelez moi au zéro six", "0612345678", "mail1")
    spool.sending[0].join(10)
    sink.server.shutdown()
    assert len(sink.mails) == 1
    mail = sink.mails[0].decode("utf-8", "replace")
    assert "To: accueil@mairie.example" in mail and "0612345678" in mail
    assert 'filename="' in mail and "audio/wav" in mail


def test_an_unreachable_mail_server_keeps_the_message(tmp_path):
    from callbot.config import EmailSettings
    from peers import free_port

    spool = MessageSpool(tmp_path, email=EmailSettings("127.0.0.1", free_port("tcp"), recipients=("a@b.example",)))
    spool.store(np.zeros(800, "<i2"), 8000, "allô", "0100000000", "nomail")
    spool.sending[0].join(40)
    assert len(spool.messages()) == 1


def test_audio_frames_are_read_fast_and_exactly():
    import pjsua2

    from callbot.sip import _vector_bytes, frame_reader

    assert frame_reader() is _vector_bytes  # the fast path passed its own check on this build
    pcm = np.arange(-160, 160, dtype="<i2").tobytes()
    frame = pjsua2.MediaFrame()
    frame.buf = pjsua2.ByteVector(pcm)
    assert frame_reader()(frame.buf) == pcm == bytes(frame.buf)


class BurstSession:
    """A call that speaks or stays quiet, for the worker loop without a line."""

    def __init__(self, speaking: bool):
        self.busy, self.ended, self.ticks = speaking, False, 0

    def start(self):
        pass

    def tick(self, frame):
        self.ticks += 1
        level = 1000 if self.busy else 0
        return Frame(np.full(160, level, dtype="<i2").tobytes(), 8000, frame.start_ms)

    def time_limit(self):
        pass


@pytest.mark.parametrize("speaking", [False, True])
def test_a_worker_catching_up_queues_no_silence_backlog(speaking):
    from callbot.sip import OUTBOX_PRIMING_FRAMES, _call_loop, _Worker

    worker = _Worker()
    for _ in range(30):  # the worker stalled for 600 ms: the caller's frames piled up
        worker.inbox.put(bytes(320))
    session = BurstSession(speaking)
    worker.control.put(lambda s: None)
    stopper = threading.Timer(0.3, worker.stopping.set)
    stopper.start()
    _call_loop(session, worker, 8000, 600_000)
    assert session.ticks >= 30
    if speaking:  # the bot's speech is never dropped
        assert worker.outbox.qsize() == OUTBOX_PRIMING_FRAMES + session.ticks
    else:  # silence beyond the priming is: the next reply starts without 600 ms of delay
        assert worker.outbox.qsize() <= OUTBOX_PRIMING_FRAMES
