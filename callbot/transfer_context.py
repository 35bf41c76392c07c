"""What a transfer tells the agent's phone: why the call comes, about what, and which call it is.

The bot's blind transfer is a REFER; the URI headers of its `Refer-To`
(RFC 3515 §2.1, RFC 3261 §19.1.5) become header fields of the INVITE the
caller's side then sends to the agent, so the PBX can show or route on them:

    Refer-To: <sip:accueil@pbx?X-Callbot-Reason=demande_personne&X-Callbot-Call=ab12cd34>

Nothing personal goes there: no transcript, no caller number (the PBX
already has it), only the dialog's reason, the answer id and the journal's
call id.
"""

from __future__ import annotations

from urllib.parse import quote

REASON_HEADER = "X-Callbot-Reason"
TOPIC_HEADER = "X-Callbot-Topic"
CALL_HEADER = "X-Callbot-Call"
# RFC 3261 hvalue: unreserved and hnv-unreserved characters stay, everything else is %-escaped
_HVALUE_SAFE = "-_.!~*'()[]/?:+$"


def refer_to(uri: str, reason: str, topic: str | None, call_id: str, context: bool = True) -> str:
    """The Refer-To value for a transfer to `uri`, with the X-Callbot-* headers when `context` is on.

    Only `sip:`/`sips:` URIs can carry headers; a `tel:` target is referred to as it is.
    Angle brackets are needed: without them `?` and `;` would belong to the Refer-To field itself.
    """
    if not context or not uri.startswith(("sip:", "sips:")):
        return f"<{uri}>"
    headers = [(REASON_HEADER, reason)]
    if topic:
        headers.append((TOPIC_HEADER, topic))
    headers.append((CALL_HEADER, call_id))
    query = "&".join(f"{name}={quote(value, safe=_HVALUE_SAFE)}" for name, value in headers)
    return f"<{uri}?{query}>"
