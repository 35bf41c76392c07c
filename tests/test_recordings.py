"""The French test recordings are in the repository, intact, and nothing reads from outside it.

A plain clone of the public repository must test with what it holds: `tests/audio-fr/` carries
the recordings, their checksums, transcripts and licence.
"""

from __future__ import annotations

import hashlib
import re
import subprocess

from callbot.audio import read_wav
from conftest import FRENCH_AUDIO, REPO


def listed_checksums() -> dict[str, str]:
    lines = (FRENCH_AUDIO / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    return {name: digest for digest, name in (line.split() for line in lines if line.strip())}


def test_every_recording_is_present_and_unchanged():
    checksums = listed_checksums()
    assert len([name for name in checksums if name.endswith(".wav")]) == 40 and "transcripts.tsv" in checksums
    for name, digest in checksums.items():
        path = FRENCH_AUDIO / name
        assert path.is_file(), f"missing French test recording {path}"
        # a checkout that rewrote it (line endings, an LFS pointer) would feed the tests noise
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{path} differs from SHA256SUMS"
    assert sorted(p.name for p in FRENCH_AUDIO.glob("*.wav")) == sorted(n for n in checksums if n.endswith(".wav"))


def test_recordings_are_8khz_telephone_speech_with_a_transcript_and_their_licence():
    transcripts = dict(line.split("\t", 1) for line in
                       (FRENCH_AUDIO / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[1:])
    assert sorted(transcripts) == sorted(n for n in listed_checksums() if n.endswith(".wav"))
    total_s = 0.0
    for name in transcripts:
        samples, rate = read_wav(FRENCH_AUDIO / name, 8000)
        assert rate == 8000 and len(samples) > 0
        total_s += len(samples) / rate
    assert 140 < total_s < 160  # the 149 s the README and the decoder memory bench speak of
    licence = (FRENCH_AUDIO / "LICENSE.txt").read_text(encoding="utf-8")
    assert "June Wallack" in licence and "Attribution-ShareAlike 3.0" in licence
    assert "7. Termination" in licence  # the full legal text travels with the recordings, as CC-BY-SA asks


def test_nothing_in_the_repository_reads_beside_it():
    """The folders next to a developer's checkout do not exist in a clone: nothing may reach for them."""
    outside = re.compile(r"\.\./shared|\"shared\"\s*/|REPO\.parent|parent\.parent\.parent")
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    offenders = []
    for name in tracked:
        path = REPO / name
        if path.suffix not in {".py", ".md", ".yaml", ".toml", ".cfg", ""} or not path.is_file():
            continue
        if path == REPO / "tests" / "test_recordings.py":
            continue  # the pattern above
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if outside.search(line):
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert not offenders, "reads outside the repository:\n" + "\n".join(offenders)
