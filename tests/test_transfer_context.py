"""Every transfer tells the agent's phone why: X-Callbot-* headers from the REFER's Refer-To to the agent's INVITE.

The SIP tests run the whole path on 127.0.0.1: a baresip caller talks to `callbot serve`, the bot
transfers (REFER), baresip follows the Refer-To and calls the agent through Kamailio (the PBX),
and SIPp is the agent's phone: its scenario checks the INVITE's headers with regular expressions
and fails the call without them.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from callbot.transfer_context import refer_to
from peers import Pbx, _kill_group, free_port, require_program, run_sipp
from test_sip import Bot, rendered_text

AGENT_PASSWORD = "agent-secret"


# -- the Refer-To value ------------------------------------------------------
def test_refer_to_carries_reason_topic_and_call_as_uri_headers():
    assert refer_to("sip:accueil@192.0.2.10", "demande_personne", None, "ab12cd34") == \
        "<sip:accueil@192.0.2.10?X-Callbot-Reason=demande_personne&X-Callbot-Call=ab12cd34>"
    assert refer_to("sip:astreinte@pbx;transport=udp", "urgence", "urgence_astreinte", "ab12cd34") == \
        "<sip:astreinte@pbx;transport=udp?X-Callbot-Reason=urgence&X-Callbot-Topic=urgence_astreinte" \
        "&X-Callbot-Call=ab12cd34>"


def test_refer_to_escapes_what_a_uri_header_cannot_hold():
    value = refer_to("sip:accueil@pbx", "demande_personne", "État civil & mariage=oui <x>", "ab12cd34")
    topic = re.search(r"X-Callbot-Topic=([^&>]*)", value).group(1)
    assert topic == "%C3%89tat%20civil%20%26%20mariage%3Doui%20%3Cx%3E"


def test_without_context_or_on_a_tel_uri_the_target_is_referred_to_as_it_is():
    assert refer_to("sip:accueil@pbx", "incompris", None, "ab12cd34", context=False) == "<sip:accueil@pbx>"
    assert refer_to("tel:+33199001234", "incompris", None, "ab12cd34") == "<tel:+33199001234>"


# -- the agent's phone: SIPp behind Kamailio -----------------------------------
REGISTER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- Registers the agent's phone (the SIPp UAS on port [agent_port]) to the PBX, with digest auth. -->
<scenario name="register the agent">
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:agent@[remote_ip]:[remote_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:agent@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:agent@[local_ip]:[agent_port]>
      Expires: 300
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:agent@[remote_ip]:[remote_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:agent@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:agent@[local_ip]:[agent_port]>
      [authentication username=agent password=%(password)s]
      Expires: 300
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="200"/>
</scenario>
"""


def agent_scenario(headers: dict[str, str]) -> str:
    """A UAS that answers one call and fails it unless each header matches its regular expression."""
    checks = "\n".join(
        f'      <ereg regexp="{regexp}" search_in="hdr" header="{name}:" check_it="true" assign_to="{var}"/>'
        for var, (name, regexp) in enumerate(headers.items()))
    variables = ",".join(str(n) for n in range(len(headers)))
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="agent phone checking the transfer's context">
  <recv request="INVITE" crlf="true">
    <action>
{checks}
    </action>
  </recv>
  <Reference variables="{variables}"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:agent@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=agent 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
  ]]></send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>
</scenario>
"""


class AgentPhone:
    """SIPp as the agent's phone, registered to the PBX; `result()` is its exit and the INVITE it got."""

    def __init__(self, workdir: Path, pbx: Pbx, headers: dict[str, str]):
        self.dir = workdir / "agent"
        self.dir.mkdir()
        self.pbx = pbx
        self.port = free_port("udp")
        self.scenario = self.dir / "agent.xml"
        self.scenario.write_text(agent_scenario(headers), encoding="iso-8859-1")
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "AgentPhone":
        self.process = subprocess.Popen(
            [require_program("sipp"), "-sf", str(self.scenario), "-p", str(self.port), "-i", "127.0.0.1",
             "-mi", "127.0.0.1", "-mp", str(free_port("udp")), "-m", "1", "-nostdin", "-trace_msg", "-trace_err",
             "-message_file", str(self.dir / "messages.log"), "-error_file", str(self.dir / "errors.log")],
            cwd=self.dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        register = self.dir / "register.xml"
        register.write_text(REGISTER % {"password": AGENT_PASSWORD}, encoding="iso-8859-1")  # no [key] there
        result = run_sipp([f"127.0.0.1:{self.pbx.port}", "-sf", str(register), "-m", "1", "-key", "agent_port",
                           str(self.port)], timeout=20, cwd=self.dir)
        assert result.returncode == 0, f"the agent could not register:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        return self

    def result(self, timeout: float) -> tuple[int, str]:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        _kill_group(self.process, grace=1)
        log = self.dir / "messages.log"
        errors = self.dir / "errors.log"
        details = (log.read_text(errors="replace") if log.exists() else "") + \
            (errors.read_text(errors="replace") if errors.exists() else "")
        return self.process.returncode, details

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            _kill_group(self.process, grace=1)


def target_setting(bot: Bot, target: str, line: str) -> Bot:
    """Adds a setting (`on_call: true`, `context: false`) under a target of the bot's configuration."""
    text = bot.config.read_text(encoding="utf-8")
    marker = f"      description: {target}\n"
    assert marker in text
    bot.config.write_text(text.replace(marker, f"{marker}      {line}\n"), encoding="utf-8")
    return bot


def caller_saying(path: Path, speech: np.ndarray, at_seconds: list[float], total: float) -> Path:
    """A caller's microphone: `speech` (8 kHz) said at each of the given times, silence around."""
    audio = np.zeros(int(total * 8000), np.float32)
    for start in at_seconds:
        begin = int(start * 8000)
        audio[begin:begin + len(speech)] = speech[:len(audio) - begin]
    sf.write(str(path), audio, 8000, subtype="PCM_16")
    return path


def transfer_call_id(bot: Bot, reason: str) -> str:
    found = re.search(rf"call (\w+): transfer to \w+ \({reason}\)", bot.log_text())
    assert found, f"no transfer for {reason} in the bot's log:\n{bot.log_text()[-3000:]}"
    return found.group(1)


def pjsua_call(bot: Bot, *, digits: tuple[str, ...] = (), wav: Path | None = None,
               seconds: float = 40) -> subprocess.CompletedProcess:
    """A pjsua2 caller (tests/pjsua_caller.py) that calls the bot and follows its transfer to the agent."""
    command = [sys.executable, str(Path(__file__).parent / "pjsua_caller.py"), bot.uri, "--seconds", str(seconds)]
    command += [arg for digit in digits for arg in ("--digit", digit)]
    command += ["--wav", str(wav)] if wav else []
    return subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)


def check_agent_invite(agent: AgentPhone, bot: Bot, caller: subprocess.CompletedProcess, reason: str,
                       topic: str | None) -> None:
    """The agent's phone took the call; its INVITE names the reason, the topic and the bot's call id, nothing else."""
    returncode, messages = agent.result(15)
    assert caller.returncode == 0, f"the caller did not reach the agent:\n{caller.stdout}{caller.stderr[-3000:]}" \
                                   f"\n{bot.log_text()[-3000:]}"
    assert returncode == 0, f"the agent's INVITE failed its header checks:\n{messages[-4000:]}"
    invite = re.split(r"\r?\n\r?\n", messages[messages.index("INVITE sip:"):])[0]
    context = dict(re.findall(r"^(X-Callbot-[\w-]+): *(.*?)\r?$", invite, re.M))
    expected = {"X-Callbot-Reason": reason, "X-Callbot-Call": transfer_call_id(bot, reason)}
    if topic is not None:
        expected["X-Callbot-Topic"] = topic
    assert context == expected  # and nothing else: no transcript, no caller number


CALL_ID = r"^ *[0-9a-f]{8} *$"


def test_keypad_zero_reaches_the_agent_with_reason_demande_personne(tmp_path, prompt_cache_dir):
    with Pbx(tmp_path, users={"agent": AGENT_PASSWORD}) as pbx, \
            AgentPhone(tmp_path, pbx, {"X-Callbot-Reason": r"^ *demande_personne *$", "X-Callbot-Call": CALL_ID}) as agent, \
            Bot(tmp_path, prompt_cache_dir, {"accueil": pbx.uri_of("agent")},
                extra=f"journal:\n  path: {tmp_path / 'journal.sqlite3'}\n") as bot:
        caller = pjsua_call(bot, digits=("1.0:0",))
        check_agent_invite(agent, bot, caller, "demande_personne", None)
        bot.wait_log("ended (transferred)", 10)
    # the journal keeps why the call went to a person
    journal = sqlite3.connect(tmp_path / "journal.sqlite3")
    assert journal.execute("SELECT outcome, transfer_target, transfer_reason, transfer_topic FROM calls").fetchall() == [
        ("transferred", "accueil", "demande_personne", None)]


def test_without_context_the_agent_gets_no_headers_and_its_checks_fail(tmp_path, prompt_cache_dir):
    with Pbx(tmp_path, users={"agent": AGENT_PASSWORD}) as pbx, \
            AgentPhone(tmp_path, pbx, {"X-Callbot-Reason": r"^ *demande_personne *$"}) as agent, \
            target_setting(Bot(tmp_path, prompt_cache_dir, {"accueil": pbx.uri_of("agent")}), "accueil",
                           "context: false") as bot:
        caller = pjsua_call(bot, digits=("1.0:0",))
        returncode, messages = agent.result(15)
    assert caller.returncode == 0, caller.stdout + caller.stderr[-3000:]  # the transfer itself still works
    assert returncode != 0 and "Failed regexp match: header X-Callbot-Reason: not found" in messages
    assert "X-Callbot" not in messages.split("INVITE sip:")[1].split("Content-Type")[0]


def test_a_caller_not_understood_three_times_reaches_the_agent_with_reason_incompris(tmp_path, prompt_cache_dir,
                                                                                    engines):
    # The suite's recogniser is a Korean model (see README): French speech is never understood, which is the point.
    speech = rendered_text(engines, "Je voudrais commander deux pizzas, s'il vous plaît.")
    wav = caller_saying(tmp_path / "caller.wav", speech, [4.0, 12.0, 20.0], 60)
    with Pbx(tmp_path, users={"agent": AGENT_PASSWORD}) as pbx, \
            AgentPhone(tmp_path, pbx, {"X-Callbot-Reason": r"^ *incompris *$", "X-Callbot-Call": CALL_ID}) as agent, \
            Bot(tmp_path, prompt_cache_dir, {"accueil": pbx.uri_of("agent")}) as bot:
        caller = pjsua_call(bot, wav=wav, seconds=70)
        check_agent_invite(agent, bot, caller, "incompris", None)
