"""Short control phrases of a conversation: repeat, slower, yes, no, goodbye.

They are recognised before the answer matcher because they are about the
conversation, not about a topic ("répétez s'il vous plaît", "non merci au
revoir"). Rules work on the canonical text (lower case, no accents).
"""

from __future__ import annotations

import re
from enum import Enum

from callbot.understanding.person import canonical_text, without_politeness


class Control(Enum):
    REPEAT = "repeat"
    SLOWER = "slower"
    GOODBYE = "goodbye"
    YES = "yes"
    NO = "no"


_POLITE = r"(?:(?:oui|non|euh|bon|alors|pardon|excusez moi|s il vous plait|svp|madame|monsieur|merci|beaucoup) ?)*"
_RULES: tuple[tuple[Control, re.Pattern], ...] = tuple((control, re.compile(pattern)) for control, pattern in (
    (Control.SLOWER, r"\b(?:plus lentement|moins vite|trop vite|parlez lentement|doucement|pas si vite)\b"),
    (Control.REPEAT, r"\b(?:repete[rz]?|repeter|redire|redites|pas (?:bien )?compris|pas (?:bien )?entendu|"
                     r"recommence[rz]?|encore une fois)\b|^" + _POLITE + r"(?:comment|hein|quoi|pardon)$"),
    (Control.GOODBYE, r"^" + _POLITE + r"(?:au revoir|bonne (?:journee|soiree)|c est tout|ce sera tout|ca sera tout|"
                      r"c est bon|ca ira|rien d autre|pas d autre question|j ai pas d autre question|"
                      r"je n ai pas d autre question|ca va aller|c est parfait)\b"),
    (Control.NO, r"^" + r"(?:euh )?(?:non|pas du tout|non merci|nan|aucune?|c est tout)(?: merci| beaucoup| madame| monsieur| c est tout| ca ira)*$"),
    (Control.YES, r"^(?:euh )?(?:oui|ouais|ouai|bien sur|d accord|volontiers|tout a fait|exactement|oui oui|"
                  r"s il vous plait|je veux bien|avec plaisir|ok|okay|affirmatif)(?: \w+){0,3}$"),
))


def detect_control(text: str) -> Control | None:
    """The conversational control a transcript expresses, if it is one."""
    words, plain = canonical_text(text), without_politeness(text)
    for control, pattern in _RULES:
        if pattern.search(words) or (plain and pattern.search(plain)):
            return control
    return None
