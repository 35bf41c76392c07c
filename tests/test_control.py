"""Conversation controls: repeat, slower, yes, no, goodbye."""

import pytest

from callbot.understanding.control import Control, detect_control


@pytest.mark.parametrize("text, control", [
    ("répétez s il vous plaît", Control.REPEAT),
    ("vous pouvez répéter", Control.REPEAT),
    ("pardon", Control.REPEAT),
    ("j ai pas bien compris", Control.REPEAT),
    ("plus lentement", Control.SLOWER),
    ("vous parlez trop vite", Control.SLOWER),
    ("vous pouvez répéter plus lentement", Control.SLOWER),
    ("merci au revoir", Control.GOODBYE),
    ("non merci c est tout", Control.GOODBYE),
    ("non merci", Control.NO),
    ("non", Control.NO),
    ("oui", Control.YES),
    ("oui s il vous plaît", Control.YES),
    ("d accord", Control.YES),
    ("je dois faire quoi pour l acte de naissance", None),
    ("quand passent les poubelles", None),
    ("non je voulais savoir pour la cantine de mon fils le mercredi", None),
])
def test_controls(text, control):
    assert detect_control(text) is control
