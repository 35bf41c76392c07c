"""A test caller on pjsua2 that follows the bot's transfer, run as its own process.

Why not baresip here: baresip 1.0.0 follows a REFER but puts the Refer-To's URI headers
(`?X-Callbot-Reason=...`) into the To header of its INVITE instead of sending them as header
fields (RFC 3261 §19.1.5); pjsip sends them as header fields, like SIP phones and PBXs built on it.

    python tests/pjsua_caller.py sip:callbot@127.0.0.1:5080 --digit 3.0:0 --wav caller.wav --seconds 40

Calls the bot, plays the WAV as its microphone, presses keypad digits (RFC 4733) at the given
call times, accepts the bot's REFER, stays one second with the agent, then hangs up and exits.
Prints one line per event: `bot plays FILE`, `bot confirmed`, `transfer <uri>`, `agent confirmed`, `done`.
Exit code 0 only if the transferred call reached the agent.
"""

from __future__ import annotations

import argparse
import sys
import time

import pjsua2 as pj

AFTER_AGENT_ANSWERS_S = 1.0


class Phone(pj.Call):
    def __init__(self, account: pj.Account, name: str):
        super().__init__(account)
        self.owner = account
        self.name = name
        self.confirmed_at: float | None = None
        self.disconnected = False
        self.transferred_to: Phone | None = None
        self.player: pj.AudioMediaPlayer | None = None
        self.wav: str | None = None

    def onCallState(self, prm):
        state = self.getInfo().state
        if state == pj.PJSIP_INV_STATE_CONFIRMED and self.confirmed_at is None:
            self.confirmed_at = time.monotonic()
            print(f"{self.name} confirmed", flush=True)
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True

    def onCallMediaState(self, prm):
        if self.wav and self.player is None:
            info = self.getInfo()  # kept: its `media` vector dies with it
            for index, media in enumerate(info.media):
                if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    self.player = pj.AudioMediaPlayer()
                    self.player.createPlayer(self.wav, pj.PJMEDIA_FILE_NO_LOOP)
                    self.player.startTransmit(self.getAudioMedia(index))
                    print(f"{self.name} plays {self.wav}", flush=True)

    def onCallTransferRequest(self, prm):
        print(f"transfer {prm.dstUri}", flush=True)
        self.transferred_to = Phone(self.owner, "agent")
        prm.newCall = self.transferred_to
        prm.statusCode = 202


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("uri")
    parser.add_argument("--wav")
    parser.add_argument("--digit", action="append", default=[], help="SECONDS:DIGIT after the call is answered")
    parser.add_argument("--seconds", type=float, default=40.0, help="give up after this long")
    args = parser.parse_args()
    digits = sorted((float(s), d) for s, _, d in (item.partition(":") for item in args.digit))

    ep = pj.Endpoint()
    ep.libCreate()
    config = pj.EpConfig()
    config.uaConfig.threadCnt = 0
    config.uaConfig.mainThreadOnly = True
    config.logConfig.level = 2
    config.logConfig.consoleLevel = 2
    ep.libInit(config)
    transport = pj.TransportConfig()
    transport.boundAddress = "127.0.0.1"
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
    ep.libStart()
    ep.audDevManager().setNullDev()
    account = pj.Account()
    account_config = pj.AccountConfig()
    account_config.idUri = "sip:caller@127.0.0.1"
    account.create(account_config)

    call = Phone(account, "bot")
    call.wav = args.wav
    call.makeCall(args.uri, pj.CallOpParam(True))
    deadline = time.monotonic() + args.seconds
    reached = False
    agent = None
    while time.monotonic() < deadline:
        ep.libHandleEvents(20)
        if call.confirmed_at is not None and digits and time.monotonic() - call.confirmed_at >= digits[0][0]:
            call.dialDtmf(digits.pop(0)[1])
        agent = call.transferred_to
        if agent is not None and agent.confirmed_at is not None:
            if time.monotonic() - agent.confirmed_at >= AFTER_AGENT_ANSWERS_S:
                reached = True
                break
        if agent is not None and agent.disconnected:
            break
    for leg in (call, call.transferred_to):
        if leg is not None and not leg.disconnected:
            try:
                leg.hangup(pj.CallOpParam(True))
            except pj.Error:
                pass  # already ending
    for _ in range(50):
        ep.libHandleEvents(20)
    for leg in (call, call.transferred_to):  # every Call goes before libDestroy, or the process aborts
        if leg is not None:
            leg.player = None
    del call, agent
    print("done", flush=True)
    ep.libDestroy()
    return 0 if reached else 1


if __name__ == "__main__":
    sys.exit(main())
