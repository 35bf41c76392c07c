#!/usr/bin/env python3
"""Soak: thousands of SIP calls of every kind into `callbot serve`, to find what breaks after hundreds.

    python scripts/bench_soak.py [--calls 2000] [--workers 2] [--concurrency 4] [--seed 1] [--keep]

Starts `callbot serve` on the PyPI test models in direct mode on 127.0.0.1,
with `workers` worker processes and Python's faulthandler on (a crash prints
every thread's stack into the log), then one SIPp caller per worker keeping
`concurrency` calls in progress until `calls` calls have been made. Every
call offers PCMA and is one of these kinds, drawn at random (seeded):

- barge: streams a French recording from the first moment (over the greeting)
  and hangs up 5 s after the ACK, still talking;
- early: says nothing and hangs up during the greeting (1.5 s);
- ask: waits for the greeting, asks a question, hears the reply, hangs up;
- transfer: presses 0 (RFC 4733), accepts the REFER (202, NOTIFY 200), hangs up;
- message: presses 0, declines the REFER (603), leaves a message, hangs up.

Ends with one `RESULT` line: calls attempted, completed and failed (SIPp's
count), worker restarts and crashes (the supervisor's log), calls left
active (answered but never released), the journal's calls, PSS after warm-up
and at the end, the mean time from an INVITE to the worker's first response
and to its 200 OK per worker (SIPp's clock), and each worker's open file
descriptors and threads at the start and at the end. Exit status 1 on any
failed call, crash or call left active.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_latency import (FRENCH_AUDIO, Service, children, free_udp_block, memory_mib,  # noqa: E402
                           pypi_test_models)

KINDS = ("barge", "early", "ask", "transfer", "message")
DEFAULT_MIX = "barge=40,early=15,ask=15,transfer=15,message=15"  # the crashing load, and the rest
CALLER_SPEECH = "agent-pass.wav"  # a short French sentence, streamed by the callers (A-law)
CALLER_MESSAGE = "vm-intro.wav"  # a longer one, as a voice message
DTMF_0 = Path("/usr/share/sip-tester/dtmf_2833_0.pcap")  # shipped by Debian's sip-tester
WARM_UP_CALLS = 100  # memory is read after this many calls, once the decoders and caches are warm
RTP_PORTS_PER_WORKER = 200
CALLER_PORTS = 10  # per SIPp caller: its SIP port, then its audio (RTP and RTCP)
SAMPLE_EVERY_S = 15.0
CALL_TIMEOUT_S = 90  # a call that is not over by then has failed


@dataclass
class ProcessFigures:
    fds: int
    threads: int

    @classmethod
    def of(cls, pid: int) -> "ProcessFigures":
        try:
            fds = len(os.listdir(f"/proc/{pid}/fd"))
            threads = int(re.search(r"^Threads:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.M).group(1))
        except (OSError, AttributeError):
            return cls(-1, -1)
        return cls(fds, threads)


@dataclass
class Samples:
    """Memory of the whole service over the run, and the workers' descriptors and threads."""

    pss: list[tuple[int, float]] = field(default_factory=list)  # (calls finished so far, MiB)
    start: dict[int, ProcessFigures] = field(default_factory=dict)  # worker number -> figures
    end: dict[int, ProcessFigures] = field(default_factory=dict)


def parse_mix(text: str) -> dict[str, float]:
    mix = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        if name.strip() not in KINDS:
            raise SystemExit(f"--mix: unknown call kind {name!r} (kinds: {', '.join(KINDS)})")
        mix[name.strip()] = float(weight)
    total = sum(mix.values())
    return {name: weight / total for name, weight in mix.items() if weight > 0}


def to_alaw(wav: Path, out: Path, pad_s: float = 0.0) -> Path:
    subprocess.run(["sox", str(wav), "-t", "raw", "-r", "8000", "-c", "1", "-e", "a-law", str(out),
                    "pad", "0", str(pad_s)], check=True)
    return out


# -- the SIPp scenario -------------------------------------------------------------------------------------------

HEADERS = """      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: caller <sip:0612345678@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      Contact: sip:0612345678@[local_ip]:[local_port]
      Max-Forwards: 70"""

INVITE = """  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: caller <sip:0612345678@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:0612345678@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
      a=ptime:20
    ]]>
  </send>
  <recv response="100" optional="true" rtd="1"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="2" start_rtd="1" rrs="true"/>
"""

ACK = """  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
{headers}
      CSeq: 1 ACK
      Content-Length: 0
    ]]>
  </send>
"""


def stream(path: Path) -> str:
    return f'  <nop><action><exec rtp_stream="{path},1,8"/></action></nop>\n'


def pause(ms: int) -> str:
    return f'  <pause milliseconds="{ms}"/>\n'


def keypad_0() -> str:
    return f'  <nop><action><exec play_pcap_audio="{DTMF_0}"/></action></nop>\n'


def answer_refer(status: str, notify: bool = True) -> str:
    """Receive the bot's REFER and answer `status`; after a 202, report the transfer's success unless told not to."""
    notify_steps = "" if not (status.startswith("202") and notify) else """  <send retrans="500">
    <![CDATA[
      NOTIFY [next_url] SIP/2.0
{headers}
      CSeq: 2 NOTIFY
      Event: refer
      Subscription-State: terminated;reason=noresource
      Content-Type: message/sipfrag;version=2.0
      Content-Length: [len]

      SIP/2.0 200 OK
    ]]>
  </send>
  <recv response="200" timeout="5000"/>
"""
    return '  <recv request="REFER" timeout="60000"/>\n' + reply(status) + notify_steps


def kind_steps(kind: str, speech: Path, message: Path) -> str:
    if kind == "barge":
        return stream(speech) + pause(5000)
    if kind == "early":
        return pause(1500)
    if kind == "ask":
        return pause(14500) + stream(speech) + pause(9000)
    if kind == "transfer":
        return pause(2500) + keypad_0() + answer_refer("202 Accepted")
    if kind == "message":
        return pause(2500) + keypad_0() + answer_refer("603 Decline") + pause(9000) + stream(message) + pause(6000)
    raise ValueError(kind)


def scenario(mix: dict[str, float], speech: Path, message: Path) -> str:
    """One call, its kind drawn per call: chained chances, so each kind comes with its share of the mix."""
    kinds = list(mix)
    branches, left = [], 1.0
    for kind in kinds[:-1]:
        chance = min(mix[kind] / left, 1.0) if left > 0 else 0.0
        branches.append(f'  <nop next="{kind}" chance="{chance:.4f}"/>\n')
        left -= mix[kind]
    branches.append(f'  <nop next="{kinds[-1]}"/>\n')
    bodies = "".join(f'  <label id="{kind}"/>\n' + kind_steps(kind, speech, message) + '  <nop next="bye"/>\n'
                     for kind in kinds)
    return xml("callbot soak", INVITE + ACK + "".join(branches) + bodies + '  <label id="bye"/>\n' + BYE)


def talking_transfer_scenario(speech: Path) -> str:
    """A caller who talks over the greeting, presses 0 after 8 s, accepts the transfer and hangs up (a burst's
    call: 8 s leave a worker just started time to warm a decoder for each of its four calls)."""
    return xml("talks, keypad 0, transfer", INVITE + ACK + stream(speech) + pause(8000) + keypad_0()
               + answer_refer("202 Accepted") + BYE)


def xml(name: str, steps: str) -> str:
    text = ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n'
            f'<scenario name="{name}">\n' + steps + "</scenario>\n")
    return text.replace("{headers}", HEADERS)


BYE = """  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
{headers}
      CSeq: 3 BYE
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
"""

def reply(status: str) -> str:
    """The caller's response to the request it has just received."""
    return f"""  <send>
    <![CDATA[
      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: sip:0612345678@[local_ip]:[local_port]
      Content-Length: 0
    ]]>
  </send>
"""


WAIT_FOR_BYE = '  <recv request="BYE" timeout="60000"/>\n' + reply("200 OK")


def stopped_call_scenario(state: str, speech: Path, message: Path) -> str:
    """A call left in `state` until the bot hangs up (the service is being stopped); only `unacked` ends alone.

    States: `unacked` (answered, never acknowledged), `dialog` (talking), `transferring` (REFER accepted,
    no outcome yet), `recording` (leaving a message).
    """
    if state == "unacked":
        return xml("answered, never acknowledged", INVITE + pause(15000))
    steps = {
        "dialog": stream(speech) + WAIT_FOR_BYE,
        "transferring": pause(2500) + keypad_0() + answer_refer("202 Accepted", notify=False) + WAIT_FOR_BYE,
        # the message streams from the refusal on: the bot may hang up (stop) any time after it
        "recording": pause(2500) + keypad_0() + answer_refer("603 Decline") + stream(message) + WAIT_FOR_BYE,
    }[state]
    return xml(f"left {state} until the bot hangs up", INVITE + ACK + steps)


# -- the run -----------------------------------------------------------------------------------------------------

def write_config(folder: Path, sip_port: int, rtp_port: int, workers: int, cache: Path) -> Path:
    vosk_model, voice = pypi_test_models()
    config = folder / "callbot.yaml"
    config.write_text(
        f"commune: Testville\nanswers: {REPO / 'callbot' / 'example' / 'answers'}\n"
        "dialog:\n  attempts: 5\n"  # the Korean recogniser mostly misunderstands: keep such calls in the dialog
        "transfer:\n  reception: accueil\n  targets:\n"
        "    accueil:\n      uri: sip:accueil@127.0.0.1:9\n      description: Accueil\n"
        "    astreinte:\n      uri: sip:astreinte@127.0.0.1:9\n      description: Astreinte\n"
        f"speech:\n  vosk_model: {vosk_model}\n  voice: {voice}\n  cache: {cache}\n"
        f"sip:\n  listen: 127.0.0.1:{sip_port}\n  workers: {workers}\n  mode: direct\n  allow: [127.0.0.1]\n"
        f"  codecs: [PCMA, PCMU]\n  rtp_ports: {rtp_port}-{rtp_port + RTP_PORTS_PER_WORKER * workers - 1}\n"
        f"messages:\n  spool: {folder / 'spool'}\n"
        f"journal:\n  path: {folder / 'journal.sqlite3'}\n", encoding="utf-8")
    return config


def worker_pids(service: Service) -> dict[int, int]:
    """Worker number -> pid, from the supervisor's log (the latest start of each)."""
    pids = {}
    for match in re.finditer(r"worker (\d+) started \(pid (\d+)", service.log_text()):
        pids[int(match.group(1))] = int(match.group(2))
    if not pids and service.process is not None:  # one process: serve carries the calls itself
        pids[0] = service.process.pid
    return pids


def service_pss(service: Service) -> float:
    return sum(memory_mib(pid).get("pss", 0.0) for pid in [service.process.pid, *children(service.process.pid)])


def run_sipp(folder: Path, index: int, target_port: int, calls: int, concurrency: int, ports: int,
             scenario_path: Path) -> subprocess.Popen:
    """One SIPp caller: its SIP port is `ports`, its audio ports follow."""
    stat = folder / f"sipp-{index}.csv"
    return subprocess.Popen(
        ["sipp", f"127.0.0.1:{target_port}", "-sf", str(scenario_path), "-s", "callbot", "-i", "127.0.0.1",
         "-p", str(ports), "-mi", "127.0.0.1", "-mp", str(ports + 2), "-m", str(calls),
         "-l", str(concurrency), "-r", "20", "-rp", "1000", "-nostdin", "-timeout_error",
         "-recv_timeout", str(CALL_TIMEOUT_S * 1000), "-trace_stat", "-stf", str(stat), "-fd", "5",
         "-trace_err", "-error_file", str(folder / f"sipp-{index}-errors.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=folder)


def sipp_response_ms(folder: Path, index: int) -> tuple[float, float]:
    """SIPp's mean times, over the run, from the INVITE to the worker's first response and to its 200 OK (ms)."""
    path = folder / f"sipp-{index}.csv"
    rows = list(csv.DictReader(path.read_text().splitlines(), delimiter=";")) if path.exists() else []
    if not rows:
        return -1.0, -1.0
    return tuple(_hms_ms(rows[-1].get(f"ResponseTime{n}(C)", "")) for n in (1, 2))


def _hms_ms(value: str) -> float:
    """SIPp writes times as hh:mm:ss:uuuuuu."""
    try:
        hours, minutes, seconds, micros = (int(part) for part in value.split(":"))
    except ValueError:
        return -1.0
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + micros / 1000


def sipp_counts(folder: Path, index: int) -> tuple[int, int]:
    """(successful, failed) calls from SIPp's statistics file."""
    path = folder / f"sipp-{index}.csv"
    if not path.exists():
        return 0, 0
    rows = list(csv.DictReader(path.read_text().splitlines(), delimiter=";"))
    if not rows:
        return 0, 0
    last = rows[-1]
    return int(last.get("SuccessfulCall(C)", 0)), int(last.get("FailedCall(C)", 0))


def journal_calls(folder: Path) -> int:
    path = folder / "journal.sqlite3"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM calls").fetchone()[0]


def sample_while(service: Service, folder: Path, workers: int, samples: Samples, done: threading.Event) -> None:
    while not done.wait(SAMPLE_EVERY_S):
        finished = sum(sum(sipp_counts(folder, i)) for i in range(workers))
        samples.pss.append((finished, service_pss(service)))


def left_active(log: str) -> int:
    """Calls answered (audio connected) and never released, from the workers' log lines."""
    answered = set(re.findall(r"call (\w+): incoming from", log))
    released = set(re.findall(r"call (\w+): released", log))
    return len(answered - released)


def crashes(log: str) -> list[str]:
    return re.findall(r"worker \d+ \(pid \d+\) ended \(([^)]*)\)", log)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4, help="calls in progress per worker (at most 4)")
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"call kinds and weights (default {DEFAULT_MIX})")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "callbot-bench-cache")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (log, journal, SIPp files)")
    args = parser.parse_args()
    for program in ("sipp", "sox"):
        if shutil.which(program) is None:
            sys.exit(f"{program} is needed (scripts/setup --test installs it)")
    if not DTMF_0.exists():
        sys.exit(f"{DTMF_0} is missing (Debian's sip-tester ships it)")
    mix = parse_mix(args.mix)
    folder = Path(tempfile.mkdtemp(prefix="callbot-soak-"))
    try:
        return soak(args, mix, folder)
    finally:
        if args.keep:
            print(f"run folder kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def soak(args, mix: dict[str, float], folder: Path) -> int:
    speech = to_alaw(FRENCH_AUDIO / CALLER_SPEECH, folder / "speech.al")
    message = to_alaw(FRENCH_AUDIO / CALLER_MESSAGE, folder / "message.al")
    scenario_path = folder / "soak.xml"
    scenario_path.write_text(scenario(mix, speech, message), encoding="latin-1")
    sip_ports = args.workers + args.workers % 2  # so the audio ports start even, as RTP wants
    base = free_udp_block(sip_ports + RTP_PORTS_PER_WORKER * args.workers + CALLER_PORTS * args.workers)
    sip_port, bot_rtp = base, base + sip_ports
    callers_base = bot_rtp + RTP_PORTS_PER_WORKER * args.workers
    config = write_config(folder, sip_port, bot_rtp, args.workers, args.cache)
    os.environ["PYTHONFAULTHANDLER"] = "1"  # a crash prints every thread's Python stack into the log
    service = Service(config, args.workers, folder / "serve.log")
    startup = service.start()
    service.wait_cache_filled()  # a first start fills the prompt cache in the background: not during the soak
    print(f"service up in {startup:.1f} s; {args.calls} calls, {args.workers} workers × {args.concurrency}, mix {mix}")
    samples = Samples()
    pids = worker_pids(service)
    samples.start = {number: ProcessFigures.of(pid) for number, pid in pids.items()}
    per_worker = [args.calls // args.workers + (i < args.calls % args.workers) for i in range(args.workers)]
    started = time.monotonic()
    callers = [run_sipp(folder, i, sip_port + i, per_worker[i], args.concurrency, callers_base + CALLER_PORTS * i,
                        scenario_path) for i in range(args.workers)]
    done = threading.Event()
    sampler = threading.Thread(target=sample_while, args=(service, folder, args.workers, samples, done), daemon=True)
    sampler.start()
    for caller in callers:
        caller.wait()
    done.set()
    elapsed = time.monotonic() - started
    time.sleep(3)  # the last calls' workers release them
    pids = worker_pids(service)
    samples.end = {number: ProcessFigures.of(pid) for number, pid in pids.items()}
    pss_end = service_pss(service)
    log = service.log_text()
    service.stop()
    counts = [sipp_counts(folder, i) for i in range(args.workers)]
    completed, failed = sum(c[0] for c in counts), sum(c[1] for c in counts)
    warm = [pss for finished, pss in samples.pss if finished >= WARM_UP_CALLS]
    response = [sipp_response_ms(folder, i) for i in range(args.workers)]
    result = {
        "calls": args.calls, "completed": completed, "failed": failed,
        "worker_restarts": len(crashes(log)), "crashes": ";".join(sorted(set(crashes(log)))) or "none",
        "left_active": left_active(log), "journal_calls": journal_calls(folder),
        "pss_warm_mib": round(warm[0]) if warm else -1, "pss_max_mib": round(max(warm)) if warm else -1,
        "pss_end_mib": round(pss_end), "seconds": round(elapsed),
        "first_response_ms": "/".join(f"{first:.1f}" for first, _ in response),
        "answer_ms": "/".join(f"{answer:.0f}" for _, answer in response),
        "fds": "/".join(f"{samples.start[n].fds}->{samples.end.get(n, ProcessFigures(-1, -1)).fds}"
                        for n in sorted(samples.start)),
        "threads": "/".join(f"{samples.start[n].threads}->{samples.end.get(n, ProcessFigures(-1, -1)).threads}"
                            for n in sorted(samples.start)),
    }
    print("PSS (MiB) by calls finished: " + ", ".join(f"{n}:{round(p)}" for n, p in samples.pss))
    if "Fatal Python error" in log or "Segmentation fault" in log:
        print("a worker crashed; its stacks are in the log" + (f" {service.log_path}" if args.keep else ""))
        print("\n".join(line for line in log.splitlines() if "Fatal" in line or "File " in line)[:6000])
    print("RESULT " + " ".join(f"{key}={value}" for key, value in result.items()))
    ok = failed == 0 and completed == args.calls and result["worker_restarts"] == 0 and result["left_active"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
