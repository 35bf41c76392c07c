"""Real SIP peers for the telephony tests: baresip phones, a Kamailio PBX and SIPp.

Everything listens on 127.0.0.1 only, on ports picked at run time, so tests can run in
parallel.  Every process is started in its own session (process group) and the context
managers kill the whole group on exit, even when a test fails half-way.

Quirks measured with the Debian 12 packages (baresip 1.0.0, Kamailio 5.6.3, SIPp 3.6.1):

* baresip 1.0.0 only knows the commands ``dial``, ``accept``, ``hangup``, ``sndcode`` and
  ``listcalls`` when the ``menu`` module is loaded; ``ctrl_tcp`` merely forwards text commands
  to whatever module registered them.  The ``menu`` module is therefore always loaded.
* The ``aufile`` module of 1.0.0 is a source only (no ``aufile`` player), so what a phone hears
  is recorded by the ``sndfile`` audio filter (``snd_path``), and the player is ALSA's ``null``
  device, which needs no sound card.
* ``sndfile`` names its dumps ``dump-<YYYY-MM-DD-HH-MM-SS>-dec.wav`` (what was heard) and
  ``...-enc.wav`` (what was sent), one pair per call, at the codec's rate (8 kHz for G.711).
  Two calls started in the same second would share a name, hence :meth:`Phone.heard` returns the
  newest file and tests leave a second between calls whose audio they inspect.
* When the ``aufile`` WAV ends, baresip hangs the call up: pad the WAV (:func:`pad_wav`) to
  longer than the call must last.
* ``answermode=auto`` answers straight away and then emits no CALL_INCOMING event (only
  CALL_REMOTE_SDP, CALL_LOCAL_SDP, CALL_ESTABLISHED); ``manual`` emits CALL_INCOMING and needs
  the ``accept`` command.
* Events are only sent to a ctrl_tcp client connected at that moment, never replayed.  An
  account from the ``accounts`` file registers before we can connect and its REGISTER_OK is
  lost, so registering accounts are created with the ``uanew`` command after connecting.
* A keypad key (RFC 4733) arrives as CALL_DTMF_START with ``param`` = the key, then
  CALL_DTMF_END without ``param``.  A refused REGISTER gives REGISTER_FAIL with ``param`` =
  the SIP status (e.g. ``403 Forbidden``); a refused INVITE gives CALL_CLOSED with the status.
* After SIPp's BYE is answered, baresip's CALL_CLOSED can come a moment later: wait for it
  (:meth:`Phone.wait_count`) rather than counting events right away.
* Kamailio refuses an empty ``event_route`` block, and needs ``-Y`` (runtime dir) to run
  unprivileged; ``-DD -E`` keeps it in the foreground logging to stderr (our log file).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import soundfile as sf

HOST = "127.0.0.1"
G711_RATE = 8000
BARESIP_MODULES = Path("/usr/lib/baresip/modules")  # Debian's baresip-core


# --------------------------------------------------------------------------------------------
# Small helpers


def require_program(name: str) -> str:
    """Path of an installed program; raises (so the test FAILS, never skips) when missing."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None)
    if path is None:
        raise RuntimeError(
            f"'{name}' is not installed: the SIP tests need the Debian packages baresip, "
            "kamailio, sip-tester (sipp) and sox (`apt-get install -y baresip kamailio "
            "sip-tester sox`).")
    return path


def free_port(kind: Literal["udp", "tcp"] = "udp") -> int:
    """A port of 127.0.0.1 that is free right now (the kernel picks it; we release it at once)."""
    family_type = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, family_type) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def free_udp_range(count: int) -> int:
    """First port of `count` consecutive free UDP ports (for baresip's RTP/RTCP range)."""
    for _ in range(200):
        base = free_port("udp")
        base -= base % 2  # RTP prefers even ports, RTCP takes the odd one after it
        if base + count > 65535:
            continue
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind((HOST, port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free UDP ports on {HOST}")


def _kill_group(proc: subprocess.Popen, grace: float = 3.0) -> None:
    """Stop a process started with start_new_session=True together with all its children.

    The group is signalled while its leader is not yet reaped (a zombie still holds the pid),
    so the group id cannot have been reused by an unrelated process.
    """
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                break
            time.sleep(0.05)
    # Kamailio's children may outlive the main process for a moment: always sweep the group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------------------------
# Audio files


def tone_wav(path: Path, seconds: float, freq: float = 440.0, rate: int = G711_RATE,
             level: float = 0.3) -> Path:
    """Write a mono 16-bit sine tone (a recognisable, clearly non-silent 'voice')."""
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, level * np.sin(2 * np.pi * freq * t), rate, subtype="PCM_16")
    return path


def silence_wav(path: Path, seconds: float, rate: int = G711_RATE) -> Path:
    """Write a mono 16-bit silent WAV (the default microphone of a phone)."""
    sf.write(path, np.zeros(int(seconds * rate), dtype=np.int16), rate, subtype="PCM_16")
    return path


def pad_wav(src: Path, dst: Path, seconds: float, rate: int = G711_RATE) -> Path:
    """Copy `src` to `dst` as mono 16-bit at `rate`, padded with silence to `seconds` long.

    Needed because baresip hangs up when its aufile source reaches the end of the WAV.
    """
    data, src_rate = sf.read(src, dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    if src_rate != rate:
        import soxr  # a project dependency; imported lazily since most WAVs are 8 kHz already

        mono = soxr.resample(mono, src_rate, rate)
    total = max(len(mono), int(seconds * rate))
    padded = np.zeros(total, dtype=np.float32)
    padded[: len(mono)] = mono
    sf.write(dst, padded, rate, subtype="PCM_16")
    return dst


def rms(path: Path) -> float:
    """Root mean square of a WAV, full scale = 1.0."""
    data, _ = sf.read(path, dtype="float32", always_2d=True)
    return float(np.sqrt(np.mean(np.square(data)))) if data.size else 0.0


class _Peer:
    """A peer process used as a context manager: started on entry (stopped again if starting fails), stopped on exit."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# baresip


class Phone(_Peer):
    """baresip 1.0.0 as a headless phone, driven through its ctrl_tcp socket.

    Use as a context manager (``with Phone(tmp_path, "caller") as phone:``).  Every event the
    phone sends is kept, in order, in :attr:`events`.
    """

    MODULES = ("g711.so", "g722.so", "aufile.so", "alsa.so", "sndfile.so", "menu.so")

    def __init__(self, workdir: Path, name: str, *, audio_source: Path | None = None,
                 answer: Literal["manual", "auto"] = "manual",
                 register_to: tuple[str, int] | None = None, password: str | None = None,
                 codecs: tuple[str, ...] = ("PCMA", "PCMU")) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(f"phone name must be a plain SIP user name: {name!r}")
        self.name = name
        self.dir = Path(workdir) / f"phone-{name}-{uuid.uuid4().hex[:6]}"
        self.dir.mkdir(parents=True)
        self.record_dir = self.dir / "heard"
        self.record_dir.mkdir()
        self.log_path = self.dir / "baresip.log"
        self.audio_source = audio_source
        self.answer = answer
        self.register_to = register_to
        self.password = password
        self.codecs = codecs
        self.sip_port = free_port("udp")
        self.ctrl_port = free_port("tcp")
        self.events: list[dict[str, Any]] = []
        self._responses: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._token = 0
        self._account = ""

    # -- identity ---------------------------------------------------------------------------

    @property
    def sip_uri(self) -> str:
        """Where to call this phone directly (without the PBX)."""
        return f"sip:{self.name}@{HOST}:{self.sip_port}"

    # -- configuration ----------------------------------------------------------------------

    def _write_config(self) -> None:
        source = self.audio_source
        if source is None:
            # A silent microphone that outlasts any test call (baresip hangs up at its end).
            source = silence_wav(self.dir / "silence.wav", 120)
        rtp_base = free_udp_range(20)
        modules = "\n".join(f"module {m}" for m in self.MODULES)
        (self.dir / "config").write_text(f"""\
poll_method epoll
sip_listen {HOST}:{self.sip_port}
net_interface {HOST}
call_local_timeout 60
call_max_calls 8
audio_player alsa,null
audio_alert alsa,null
audio_source aufile,{Path(source).resolve()}
rtp_ports {rtp_base}-{rtp_base + 19}
rtp_timeout 0
module_path {BARESIP_MODULES}
{modules}
snd_path {self.record_dir}
module_app account.so
module_app contact.so
module_app ctrl_tcp.so
ctrl_tcp_listen {HOST}:{self.ctrl_port}
""")
        params = [f"answermode={self.answer}", f"audio_codecs={','.join(self.codecs)}"]
        if self.register_to:
            host, port = self.register_to
            aor = f"<sip:{self.name}@{host}:{port}>"
            if self.password is not None:
                params.insert(0, f"auth_pass={self.password}")
            params.insert(1, "regint=300")
        else:
            aor = f"<sip:{self.name}@{HOST}>"
            params.insert(0, "regint=0")
        self._account = aor + ";" + ";".join(params)
        # A registering account is created later with `uanew`, once our control connection
        # is up: from the accounts file it would register before we connect, and baresip
        # does not replay the REGISTER_OK event to a client that connects afterwards.
        (self.dir / "accounts").write_text("" if self.register_to else self._account + "\n")
        (self.dir / "contacts").write_text("")

    # -- life cycle -------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> "Phone":
        """Start baresip and connect to its control socket."""
        binary = require_program("baresip")
        missing = [m for m in (*self.MODULES, "account.so", "contact.so", "ctrl_tcp.so")
                   if not (BARESIP_MODULES / m).is_file()]
        if missing:
            raise RuntimeError(f"baresip modules missing from {BARESIP_MODULES}: {missing}")
        self._write_config()
        log = open(self.log_path, "wb")
        self._proc = subprocess.Popen([binary, "-f", str(self.dir)], stdin=subprocess.DEVNULL,
                                      stdout=log, stderr=subprocess.STDOUT, cwd=self.dir,
                                      start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"baresip {self.name} exited ({self._proc.returncode}):\n"
                                   + _tail(self.log_path))
            try:
                self._sock = socket.create_connection((HOST, self.ctrl_port), timeout=0.5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"baresip {self.name}: no ctrl_tcp socket:\n"
                                       + _tail(self.log_path))
                time.sleep(0.05)
        self._sock.settimeout(None)
        self._reader = threading.Thread(target=self._read_loop, daemon=True,
                                        name=f"ctrl-{self.name}")
        self._reader.start()
        # The ctrl socket is bound before SIP is fully up; a harmless command round trip
        # confirms baresip processes commands.
        self.command("listcalls")
        if self.register_to:
            self.command("uanew", self._account)
        return self

    def stop(self) -> None:
        """Quit baresip (its whole process group) and close the control socket."""
        if self._proc is not None:
            if self._proc.poll() is None and self._sock is not None:
                with contextlib.suppress(OSError):
                    self._send({"command": "quit", "params": "", "token": "quit"})
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=2)
            _kill_group(self._proc)
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None
        if self._reader is not None:
            self._reader.join(timeout=2)


    # -- ctrl_tcp protocol: netstrings ("LEN:JSON,") both ways ------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        assert self._sock is not None, "phone not started"
        body = json.dumps(message).encode()
        self._sock.sendall(str(len(body)).encode() + b":" + body + b",")

    def _read_loop(self) -> None:
        buffer = b""
        sock = self._sock
        assert sock is not None
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._cond.notify_all()
                return
            buffer += chunk
            while True:
                colon = buffer.find(b":")
                if colon < 0:
                    break
                length = int(buffer[:colon])
                if len(buffer) < colon + 1 + length + 1:
                    break
                body = buffer[colon + 1: colon + 1 + length]
                buffer = buffer[colon + 1 + length + 1:]  # drop the trailing ','
                try:
                    message = json.loads(body)
                except ValueError:
                    continue
                with self._cond:
                    if message.get("event"):
                        message["time"] = time.monotonic()
                        self.events.append(message)
                    elif message.get("response"):
                        self._responses[str(message.get("token"))] = message
                    self._cond.notify_all()

    def command(self, command: str, params: str = "", timeout: float = 5.0) -> dict[str, Any]:
        """Run one baresip command and return its response (raises if it reports failure)."""
        with self._cond:
            self._token += 1
            token = str(self._token)
        self._send({"command": command, "params": params, "token": token})
        deadline = time.monotonic() + timeout
        with self._cond:
            while token not in self._responses:
                left = deadline - time.monotonic()
                if left <= 0 or (self._proc is not None and self._proc.poll() is not None):
                    raise TimeoutError(f"baresip {self.name}: no answer to {command!r}:\n"
                                       + _tail(self.log_path))
                self._cond.wait(min(left, 0.2))
            response = self._responses.pop(token)
        if not response.get("ok", False):
            raise RuntimeError(f"baresip {self.name}: {command} {params!r} failed: {response}")
        return response

    # -- phone actions ----------------------------------------------------------------------

    def dial(self, uri: str) -> None:
        """Call `uri` (e.g. another phone's :attr:`sip_uri` or ``pbx.uri_of("agent")``)."""
        self.command("dial", uri)

    def accept(self) -> None:
        """Answer the ringing incoming call (for answer="manual")."""
        self.command("accept")

    def hang_up(self) -> None:
        """Hang up the current call."""
        self.command("hangup")

    def send_digit(self, digit: str) -> None:
        """Press one keypad key during a call; baresip sends it as RFC 4733 telephone-event."""
        if len(digit) != 1 or digit not in "0123456789*#ABCD":
            raise ValueError(f"not a keypad digit: {digit!r}")
        self.command("sndcode", digit)

    # -- events -----------------------------------------------------------------------------

    def wait_for(self, event_type: str | tuple[str, ...], timeout: float = 10.0, *,
                 since: int = 0) -> dict[str, Any]:
        """First event of `event_type` (or of any of several types) at index >= `since`, waiting for it.

        Pass ``since=len(phone.events)`` before an action to ignore earlier events.
        """
        wanted = (event_type,) if isinstance(event_type, str) else event_type
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events[since:]:
                    if event.get("type") in wanted:
                        return event
                left = deadline - time.monotonic()
                dead = self._proc is not None and self._proc.poll() is not None
                if left <= 0 or dead:
                    seen = [(e.get("type"), e.get("param")) for e in self.events]
                    raise TimeoutError(
                        f"baresip {self.name}: no {event_type} within {timeout} s"
                        f"{' (baresip exited)' if dead else ''}; events: {seen}\n"
                        + _tail(self.log_path))
                self._cond.wait(min(left, 0.2))

    def wait_count(self, event_type: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until `count` events of `event_type` have arrived (e.g. CALL_CLOSED of N calls)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [e for e in self.events if e.get("type") == event_type]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or (self._proc is not None and self._proc.poll() is not None):
                    raise TimeoutError(f"baresip {self.name}: {len(found)}/{count} {event_type} "
                                       f"within {timeout} s; events: {self.event_types()}")
                self._cond.wait(min(left, 0.2))

    def event_types(self) -> list[str]:
        """Types of every event received so far, in order."""
        with self._cond:
            return [str(e.get("type")) for e in self.events]

    def wait_registered(self, timeout: float = 10.0) -> dict[str, Any]:
        """Wait for REGISTER_OK; fails fast with the reason when REGISTER_FAIL comes first."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                for event in self.events:
                    if event.get("type") == "REGISTER_OK":
                        return event
                    if event.get("type") == "REGISTER_FAIL":
                        raise RuntimeError(f"{self.name}: registration failed: {event}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: not registered within {timeout} s: "
                                   f"{self.event_types()}\n" + _tail(self.log_path))
            time.sleep(0.05)

    @property
    def registered(self) -> bool:
        """True once a REGISTER_OK event has arrived."""
        return "REGISTER_OK" in self.event_types()

    # -- audio ------------------------------------------------------------------------------

    def heard(self, timeout: float = 5.0) -> Path:
        """WAV of what the phone received during its latest call (call it after CALL_CLOSED).

        sndfile closes (and so finalises) the WAV when the call's audio stream is destroyed,
        which may be a moment after CALL_CLOSED: wait for the file to be readable.
        """
        deadline = time.monotonic() + timeout
        while True:
            dumps = sorted(self.record_dir.glob("dump-*-dec.wav"), key=lambda p: p.stat().st_mtime)
            if dumps:
                try:
                    sf.info(dumps[-1])
                    return dumps[-1]
                except RuntimeError:
                    pass
            if time.monotonic() > deadline:
                raise FileNotFoundError(f"{self.name}: no readable dump-*-dec.wav in "
                                        f"{self.record_dir}: {list(self.record_dir.iterdir())}")
            time.sleep(0.1)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


# --------------------------------------------------------------------------------------------
# Kamailio


def sip_request(port: int, method: str, user: str | None = None, timeout: float = 1.0) -> str | None:
    """Send one bodiless SIP request over UDP to 127.0.0.1:`port`; return the first final
    reply (status >= 200) as text, or None on timeout.  For probes, not for calls."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        local = sock.getsockname()[1]
        call_id = uuid.uuid4().hex
        target = f"{user}@" if user else ""
        to = f"sip:{target}{HOST}:{port}"
        request = (
            f"{method} {to} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {HOST}:{local};branch=z9hG4bK{call_id[:12]};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:probe@{HOST}>;tag={call_id[:8]}\r\n"
            f"To: <{to}>\r\nCall-ID: {call_id}\r\nCSeq: 1 {method}\r\n"
            f"Contact: <sip:probe@{HOST}:{local}>\r\nContent-Length: 0\r\n\r\n").encode()
        sock.sendto(request, (HOST, port))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                reply = sock.recv(65536).decode(errors="replace")
            except socket.timeout:
                return None
            if not reply.startswith("SIP/2.0 1"):  # skip 100 Trying / 180 Ringing
                return reply
        return None

_KAMAILIO_CFG = """\
#!KAMAILIO
# Test PBX written by tests/peers.py: in-memory registrar, digest auth for REGISTER only.
debug=2
log_stderror=yes
memdbg=5
memlog=5
children=2
auto_aliases=no
alias="{host}:{port}"
dns=no
rev_dns=no
use_dns_cache=off
disable_tcp=yes

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "htable.so"

# Contacts live in memory only: nothing to clean up between tests.
modparam("usrloc", "db_mode", 0)
# lookup() adds one branch per registered contact: INVITEs fork in parallel to all workers.
modparam("registrar", "append_branches", 1)
modparam("rr", "enable_full_lr", 1)
modparam("htable", "htable", "users=>size=4;autoexpire=0;")

# The password table is filled once at start-up from the `users` given to Pbx().
# (The xlog also keeps the block non-empty, which Kamailio's parser requires.)
event_route[htable:mod-init] {{
{users}
    xlog("L_INFO", "test PBX: {count} user(s) loaded\n");
}}

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    # Keep-alive / readiness probe (Pbx.start waits for this 200).
    if (is_method("OPTIONS") && uri == myself && $rU == $null) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    # In-dialog requests (ACK, BYE, REFER, NOTIFY, re-INVITE) follow the recorded route.
    if (has_totag()) {{
        if (loose_route()) {{
            t_relay();
            exit;
        }}
        if (is_method("ACK")) {{
            if (t_check_trans()) {{
                t_relay();
            }}
            exit;
        }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    if (is_method("REGISTER")) {{
        # Digest auth against the htable.  Missing/stale credentials get a challenge; a wrong
        # password or an unknown user gets 403 so the phone reports the failure at once.
        pv_auth_check("$td", "$sht(users=>$tU)", "0", "1");
        $var(rc) = $rc;
        if ($var(rc) == -5 || $var(rc) == -4 || $var(rc) == -6) {{
            auth_challenge("$td", "0");
            exit;
        }}
        if ($var(rc) < 0) {{
            xlog("L_NOTICE", "REGISTER of $tU refused: auth result $var(rc)\\n");
            sl_send_reply("403", "Forbidden");
            exit;
        }}
        consume_credentials();
        if (!save("location")) {{
            sl_reply_error();
        }}
        exit;
    }}
    # INVITEs (and everything else out of dialog) from 127.0.0.1 are NOT challenged:
    # the PBX only listens on 127.0.0.1, and tests stay simple.
    if (uri != myself) {{
        sl_send_reply("403", "Relaying forbidden");
        exit;
    }}
    if (is_method("INVITE|SUBSCRIBE|REFER")) {{
        record_route();
    }}
    if (!lookup("location")) {{
        sl_send_reply("404", "Not Found");
        exit;
    }}
    if (!t_relay()) {{
        sl_reply_error();
    }}
    exit;
}}
"""


class Pbx(_Peer):
    """Kamailio 5.6.3 as a test PBX: registrar with digest auth, parallel forking, 404s.

    Use as a context manager; :attr:`port` is its UDP SIP port on 127.0.0.1.
    """

    def __init__(self, workdir: Path, users: dict[str, str]) -> None:
        for user, password in users.items():
            # The names and passwords are written into kamailio.cfg: keep them plain.
            # (They also go into baresip account lines, where ';' '>' would break the syntax.)
            if not (re.fullmatch(r"[A-Za-z0-9_.-]+", user)
                    and re.fullmatch(r"[A-Za-z0-9_.@%+=-]+", password)):
                raise ValueError(f"unsupported user/password: {user!r}")
        self.dir = Path(workdir) / f"kamailio-{uuid.uuid4().hex[:6]}"
        self.run_dir = self.dir / "run"
        self.run_dir.mkdir(parents=True)
        self.cfg_path = self.dir / "kamailio.cfg"
        self.log_path = self.dir / "kamailio.log"
        self.users = dict(users)
        self.port = free_port("udp")
        self._proc: subprocess.Popen | None = None

    def uri_of(self, user: str) -> str:
        """The address of record of `user` on this PBX."""
        return f"sip:{user}@{HOST}:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _write_config(self) -> None:
        users = "\n".join(f'    $sht(users=>{u}) = "{p}";' for u, p in self.users.items())
        self.cfg_path.write_text(_KAMAILIO_CFG.format(host=HOST, port=self.port, users=users,
                                                     count=len(self.users)))

    def start(self, timeout: float = 10.0) -> "Pbx":
        """Start Kamailio in the foreground and wait until it answers an OPTIONS."""
        binary = require_program("kamailio")
        self._write_config()
        log = open(self.log_path, "wb")
        # -DD: stay in the foreground (children are still forked, all in our process group);
        # -E: log to stderr (our log file); -Y: runtime dir we own; small memory pools.
        self._proc = subprocess.Popen(
            [binary, "-f", str(self.cfg_path), "-l", f"udp:{HOST}:{self.port}", "-DD", "-E",
             "-Y", str(self.run_dir), "-w", str(self.dir), "-m", "64", "-M", "8"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while not self._answers_options():
            if self._proc.poll() is not None:
                raise RuntimeError(f"kamailio exited ({self._proc.returncode}):\n"
                                   + _tail(self.log_path))
            if time.monotonic() > deadline:
                raise TimeoutError("kamailio does not answer OPTIONS:\n" + _tail(self.log_path))
        return self

    def _answers_options(self) -> bool:
        try:
            reply = sip_request(self.port, "OPTIONS", timeout=0.3)
        except OSError:  # ICMP port unreachable while it starts
            reply = None
        if reply is None:
            time.sleep(0.1)
        return reply is not None and reply.startswith("SIP/2.0 200")

    def stop(self) -> None:
        """Stop Kamailio and all its children."""
        if self._proc is not None:
            _kill_group(self._proc)



# --------------------------------------------------------------------------------------------
# SIPp

SIPP_BUILTINS = ("uac", "uas", "regexp", "3pcc-C-A", "3pcc-C-B", "3pcc-A", "3pcc-B",
                 "branchc", "branchs", "uac_pcap", "ooc_default")


def sipp_scenario(scenario: str | Path) -> list[str]:
    """SIPp arguments selecting a scenario: a built-in name (``-sn uac``) or an XML file."""
    if str(scenario) in SIPP_BUILTINS:
        return ["-sn", str(scenario)]
    path = Path(scenario)
    if not path.is_file():
        raise FileNotFoundError(f"no SIPp scenario {scenario}")
    return ["-sf", str(path.resolve())]


def run_sipp(args: list[str], timeout: float, cwd: Path) -> subprocess.CompletedProcess:
    """Run sipp on 127.0.0.1 (SIP and media) without reading the keyboard.

    Adds ``-nostdin -i 127.0.0.1 -mi 127.0.0.1`` and a free local SIP port (``-p``) unless the
    caller gave one.  Exit code 0 means every call succeeded.  SIPp runs in its own process
    group, killed if `timeout` expires (then the result has returncode -9).
    """
    binary = require_program("sipp")
    extra = ["-nostdin", "-i", HOST, "-mi", HOST]
    if "-p" not in args:
        extra += ["-p", str(free_port("udp"))]
    if "-mp" not in args:
        extra += ["-mp", str(free_udp_range(10))]
    cmd = [binary, *args, *extra]
    proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc, grace=1)
        out, err = proc.communicate()
    finally:
        _kill_group(proc, grace=1)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
