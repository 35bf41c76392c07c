#!/usr/bin/env python3
"""Download, verify and install the French speech models callbot needs.

    python3 scripts/install_models.py [--vosk small|large] [--voice siwis-medium|siwis-low|tom-medium]
                                      [--models-dir DIR] [--voices-dir DIR] [--mirror DIR]
                                      [--force] [--allow-unverified] [--timeout SECONDS] [--list]

Installs one Vosk speech recognition model (a zip extracted into --models-dir)
and one Piper voice (an .onnx and its .onnx.json copied into --voices-dir).
Every file is checked against the checksums in CATALOGUE below before it is
put in place; a model that fails a check is deleted, never half-installed.

Without network access, copy the files (same names, in one flat folder) onto a
USB stick from another machine and pass that folder as --mirror DIR.

Uses the Python standard library only, so it runs on a bare server before
callbot's virtual environment exists. Exit code 0 on success, 1 on failure.
The upstream base URLs can be overridden with the environment variables
CALLBOT_VOSK_BASE_URL and CALLBOT_PIPER_BASE_URL (for a local mirror server).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import socket
import stat
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

# Everything the installer knows about the models. Adding a model or a voice is
# one entry under "models". Each file has the name it keeps on disk and in a
# --mirror folder, its path under the base URL, and what is known to verify it:
# "size" (bytes), "md5", "sha256" (None when unknown), or "check" for a content
# check when no checksum is published.
CATALOGUE: dict = {
    "vosk": {
        "title": "Vosk speech recognition model",
        "base_url": "https://alphacephei.com/vosk/models",
        "base_url_env": "CALLBOT_VOSK_BASE_URL",
        "install": "unzip",  # the zip holds one top folder, extracted into --models-dir
        "default": "small",
        "models": {
            "small": {
                "description": "French, small (for a modest server; the default)",
                "folder": "vosk-model-small-fr-0.22",
                "approx_size": "41 MB",
                "licence": "Apache-2.0",
                "files": [
                    {
                        "name": "vosk-model-small-fr-0.22.zip",
                        "path": "vosk-model-small-fr-0.22.zip",
                        "size": None,
                        # md5 as recorded by third parties; upstream publishes no sha256.
                        "md5": "8873b1234503f6edd55f54bfff31cf3e",
                        "sha256": None,
                    },
                ],
            },
            "large": {
                "description": "French, large (more accurate; needs several GB of memory)",
                "folder": "vosk-model-fr-0.22",
                "approx_size": "1.4 GB",
                "licence": "Apache-2.0",
                "files": [
                    {
                        "name": "vosk-model-fr-0.22.zip",
                        "path": "vosk-model-fr-0.22.zip",
                        "size": None,
                        "md5": None,  # no checksum known: needs --allow-unverified
                        "sha256": None,
                    },
                ],
            },
        },
    },
    "voice": {
        "title": "Piper voice",
        "base_url": "https://huggingface.co/rhasspy/piper-voices/resolve/main",
        "base_url_env": "CALLBOT_PIPER_BASE_URL",
        "install": "files",  # the files are copied as they are into --voices-dir
        "default": "siwis-medium",
        "models": {
            "siwis-medium": {
                "description": "French female voice, medium quality (the default)",
                "approx_size": "63 MB",
                "licence": "CC-BY-4.0 (trained on the SIWIS French speech synthesis dataset)",
                "files": [
                    {
                        "name": "fr_FR-siwis-medium.onnx",
                        "path": "fr/fr_FR/siwis/medium/fr_FR-siwis-medium.onnx",
                        "size": 63_201_294,
                        "md5": None,
                        "sha256": "641d1ab097da2b81128c076810edb052b385decc8be3381814802a64a73baf99",
                    },
                    {
                        "name": "fr_FR-siwis-medium.onnx.json",
                        "path": "fr/fr_FR/siwis/medium/fr_FR-siwis-medium.onnx.json",
                        "check": "piper-config",
                    },
                ],
            },
            "siwis-low": {
                "description": "French female voice, low quality (lighter and faster)",
                "approx_size": "28 MB",
                "licence": "CC-BY-4.0 (trained on the SIWIS French speech synthesis dataset)",
                "files": [
                    {
                        "name": "fr_FR-siwis-low.onnx",
                        "path": "fr/fr_FR/siwis/low/fr_FR-siwis-low.onnx",
                        "size": 28_130_791,
                        "md5": None,
                        "sha256": "a7b7dcaf87229b32af8275cb1a719371234ea677bc0313d2289d5c50ab0ac53d",
                    },
                    {
                        "name": "fr_FR-siwis-low.onnx.json",
                        "path": "fr/fr_FR/siwis/low/fr_FR-siwis-low.onnx.json",
                        "check": "piper-config",
                    },
                ],
            },
            "tom-medium": {
                "description": "French male voice, medium quality",
                "approx_size": "64 MB",
                "licence": "see https://huggingface.co/rhasspy/piper-voices/blob/main/fr/fr_FR/tom/medium/MODEL_CARD",
                "files": [
                    {
                        "name": "fr_FR-tom-medium.onnx",
                        "path": "fr/fr_FR/tom/medium/fr_FR-tom-medium.onnx",
                        "size": 63_511_038,
                        "md5": None,
                        "sha256": "bf65074ccdeeeeaa832e75edb1c0a513c01c9a972bdf085ff8a6e71ea234fd41",
                    },
                    {
                        "name": "fr_FR-tom-medium.onnx.json",
                        "path": "fr/fr_FR/tom/medium/fr_FR-tom-medium.onnx.json",
                        "check": "piper-config",
                    },
                ],
            },
        },
    },
}

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODELS_DIR = REPO / "models"
DEFAULT_VOICES_DIR = REPO / "voices"
DEFAULT_TIMEOUT = 60.0  # seconds without any data before a download is abandoned
CHUNK = 1024 * 1024
MARKER = ".callbot-install.json"  # written into an installed Vosk folder: what was installed, for later checks
USER_AGENT = "callbot-install-models/1 (+python urllib)"


class InstallError(Exception):
    """A failure with a message meant for the administrator."""


# ---------------------------------------------------------------- output


def say(message: str = "") -> None:
    print(message, flush=True)


def human(size: int) -> str:
    if size >= 1_000_000_000:
        return f"{size / 1e9:.2f} GB"
    if size >= 1_000_000:
        return f"{size / 1e6:.1f} MB"
    if size >= 1_000:
        return f"{size / 1e3:.1f} kB"
    return f"{size} bytes"


class Progress:
    """A percentage on stderr: refreshed in place on a terminal, a line every 10 % otherwise."""

    def __init__(self, label: str, total: int | None, stream=None):
        self.label = label
        self.total = total if total and total > 0 else None
        self.stream = stream if stream is not None else sys.stderr
        try:
            self.tty = self.stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self.done_bytes = 0
        self.last_step = -1  # last 10 % step printed (non-terminal)
        self.last_refresh = 0.0
        self.last_mb_line = 0  # non-terminal, unknown total: a line every 100 MB

    def update(self, count: int) -> None:
        self.done_bytes += count
        if self.tty:
            now = time.monotonic()
            if now - self.last_refresh >= 0.1:
                self.last_refresh = now
                self.stream.write("\r" + self._text() + "   ")
                self.stream.flush()
        elif self.total:
            step = min(10, self.done_bytes * 10 // self.total)
            while self.last_step < step:
                self.last_step += 1
                if self.last_step > 0:
                    self.stream.write(f"  {self.label}: {self.last_step * 10}%\n")
            self.stream.flush()
        elif self.done_bytes // 100_000_000 > self.last_mb_line:
            self.last_mb_line = self.done_bytes // 100_000_000
            self.stream.write(f"  {self.label}: {human(self.done_bytes)}\n")
            self.stream.flush()

    def _text(self) -> str:
        if self.total:
            percent = min(100, self.done_bytes * 100 // self.total)
            return f"  {self.label}: {percent:3d}% ({human(self.done_bytes)} of {human(self.total)})"
        return f"  {self.label}: {human(self.done_bytes)}"

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\r" + self._text() + "   \n")
        elif not self.total:
            self.stream.write(f"  {self.label}: {human(self.done_bytes)} done\n")
        self.stream.flush()


# ---------------------------------------------------------------- catalogue helpers


def base_url(kind: dict) -> str:
    return os.environ.get(kind["base_url_env"]) or kind["base_url"]


def file_url(kind: dict, spec: dict) -> str:
    return base_url(kind).rstrip("/") + "/" + spec["path"].lstrip("/")


def is_verifiable(spec: dict) -> bool:
    return bool(spec.get("md5") or spec.get("sha256") or spec.get("check"))


def print_catalogue(catalogue: dict) -> None:
    for kind_name, kind in catalogue.items():
        say(f"{kind['title']}s (--{kind_name} NAME, default {kind['default']}):")
        say(f"  base URL: {base_url(kind)}   (override with ${kind['base_url_env']})")
        for name, model in kind["models"].items():
            say(f"  {name}: {model['description']}, about {model['approx_size']}")
            say(f"      licence: {model['licence']}")
            for spec in model["files"]:
                say(f"      {spec['name']}")
                say(f"          {file_url(kind, spec)}")
                known = []
                if spec.get("size"):
                    known.append(f"{spec['size']:,} bytes")
                if spec.get("sha256"):
                    known.append(f"sha256 {spec['sha256']}")
                if spec.get("md5"):
                    known.append(f"md5 {spec['md5']}")
                if spec.get("check") == "piper-config":
                    known.append("no checksum known; checked as a Piper voice configuration")
                if not known:
                    known.append("NO CHECKSUM KNOWN (install needs --allow-unverified)")
                say("          " + "; ".join(known))
        say()


# ---------------------------------------------------------------- fetching


def open_remote(url: str, timeout: float):
    """An open HTTP response and its announced length (None when not announced)."""
    host = urllib.parse.urlsplit(url).hostname or url
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (https/http URLs from the catalogue)
    except urllib.error.HTTPError as error:
        hint = " (the file may have moved upstream: check the URL, or use --mirror DIR)" if error.code == 404 else ""
        raise InstallError(f"HTTP error {error.code} {error.reason} when downloading {url}{hint}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        raise InstallError(
            f"cannot reach {host} ({reason}) to download {url}. Check this server's internet access "
            f"(or its proxy: https_proxy), or copy the files from another machine onto a USB stick "
            f"and use --mirror DIR"
        ) from None
    length = response.headers.get("Content-Length")
    try:
        total = int(length) if length is not None else None
    except ValueError:
        total = None
    return response, total


def fetch(spec: dict, kind: dict, dest_dir: Path, mirror: Path | None, timeout: float) -> tuple[Path, dict]:
    """Download (or copy from the mirror) one file to DEST_DIR/<name>.part, hashing it on the way.

    Checks the size as early as it can. Returns the .part path and the
    computed hashes; on any failure the .part file is deleted.
    """
    name = spec["name"]
    part = dest_dir / (name + ".part")
    expected_size = spec.get("size")
    if mirror is not None:
        source_path = mirror / name
        if not source_path.is_file():
            raise InstallError(f"the mirror folder {mirror} has no file {name} (expected {source_path})")
        total = source_path.stat().st_size
        if expected_size is not None and total != expected_size:
            raise InstallError(f"size mismatch for {name} in the mirror: expected {expected_size:,} bytes, "
                               f"got {total:,} bytes; the copy is damaged or not the right file")
        say(f"Copying {name} from {source_path} ({human(total)})")
        source = open(source_path, "rb")  # noqa: SIM115 (closed below)
        where = str(source_path)
    else:
        url = file_url(kind, spec)
        say(f"Downloading {url}")
        source, total = open_remote(url, timeout)
        if expected_size is not None and total is not None and total != expected_size:
            source.close()
            raise InstallError(f"size mismatch for {name}: expected {expected_size:,} bytes, the server announces "
                               f"{total:,} bytes ({url}); not downloading it")
        where = urllib.parse.urlsplit(url).hostname or url

    md5 = hashlib.md5()  # noqa: S324 (only to compare with a published md5)
    sha256 = hashlib.sha256()
    received = 0
    progress = Progress(name, total)
    try:
        with source, open(part, "wb") as out:
            while True:
                try:
                    chunk = source.read(CHUNK)
                except (OSError, http.client.HTTPException) as error:
                    raise InstallError(f"the download of {name} from {where} was interrupted ({error}); "
                                       f"try again, or use --mirror DIR") from None
                if not chunk:
                    break
                out.write(chunk)
                md5.update(chunk)
                sha256.update(chunk)
                received += len(chunk)
                if expected_size is not None and received > expected_size:
                    raise InstallError(f"size mismatch for {name}: expected {expected_size:,} bytes, "
                                       f"received more; stopped")
                progress.update(len(chunk))
        progress.finish()
        if total is not None and received != total:
            raise InstallError(f"the download of {name} from {where} is incomplete: {received:,} of {total:,} bytes; "
                               f"try again, or use --mirror DIR")
        if expected_size is not None and received != expected_size:
            raise InstallError(f"size mismatch for {name}: expected {expected_size:,} bytes, got {received:,} bytes")
    except BaseException:
        remove(part)
        raise
    return part, {"md5": md5.hexdigest(), "sha256": sha256.hexdigest(), "size": received}


# ---------------------------------------------------------------- verifying


def check_piper_config(path: Path, name: str | None = None) -> None:
    """A Piper .onnx.json must be JSON with an "audio" object holding "sample_rate"."""
    name = name or path.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise InstallError(f"{name} is not a valid Piper voice configuration: not JSON ({error})") from None
    audio = data.get("audio") if isinstance(data, dict) else None
    if not isinstance(audio, dict) or "sample_rate" not in audio:
        raise InstallError(f"{name} is not a valid Piper voice configuration: "
                           f'no "audio" object with a "sample_rate"')
    rate = audio["sample_rate"]
    if not isinstance(rate, int) or isinstance(rate, bool) or rate <= 0:
        raise InstallError(f"{name} is not a valid Piper voice configuration: sample_rate {rate!r} is not "
                           f"a positive whole number")


def verify(part: Path, spec: dict, hashes: dict, allow_unverified: bool) -> None:
    """Check a fetched file against the catalogue; deletes it and raises on a mismatch."""
    name = spec["name"]
    try:
        for algorithm in ("sha256", "md5"):
            expected = spec.get(algorithm)
            if expected and hashes[algorithm] != expected.lower():
                raise InstallError(f"checksum mismatch for {name}: expected {algorithm} {expected}, "
                                   f"got {hashes[algorithm]}; the file was deleted. Try again, or check the "
                                   f"file in the mirror")
        if spec.get("check") == "piper-config":
            check_piper_config(part, name)
    except BaseException:
        remove(part)
        raise
    if spec.get("sha256"):
        say(f"  {name}: sha256 verified ({hashes['sha256']})")
    elif spec.get("md5"):
        say(f"  {name}: md5 verified ({hashes['md5']})")
        say(f"  {name}: no published sha256; the sha256 computed here is {hashes['sha256']} "
            f"(record it to check future copies)")
    elif spec.get("check"):
        say(f"  {name}: no checksum known; content checked ({hashes['size']:,} bytes, sha256 {hashes['sha256']})")
    else:
        assert allow_unverified
        say(f"  WARNING: {name} is UNVERIFIED: no checksum is known for it (--allow-unverified).")
        say(f"  {name}: sha256 computed here {hashes['sha256']}, md5 {hashes['md5']} (record them)")


def file_hashes(path: Path) -> dict:
    md5 = hashlib.md5()  # noqa: S324
    sha256 = hashlib.sha256()
    size = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            md5.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
    return {"md5": md5.hexdigest(), "sha256": sha256.hexdigest(), "size": size}


def installed_file_problem(path: Path, spec: dict) -> str | None:
    """Why an installed file is not the catalogue's one, or None when it checks out."""
    if not path.is_file():
        return f"{path.name} is missing"
    if spec.get("size") is not None and path.stat().st_size != spec["size"]:
        return f"{path.name} has the wrong size"
    if spec.get("sha256") or spec.get("md5"):
        hashes = file_hashes(path)
        for algorithm in ("sha256", "md5"):
            if spec.get(algorithm) and hashes[algorithm] != spec[algorithm].lower():
                return f"{path.name} has the wrong {algorithm}"
    if spec.get("check") == "piper-config":
        try:
            check_piper_config(path)
        except InstallError as error:
            return str(error)
    return None


def installed_vosk_problem(target: Path, spec: dict) -> str | None:
    """Why an installed Vosk folder is not a complete install of the catalogue's zip, or None."""
    if not target.is_dir():
        return f"{target} does not exist"
    marker = target / MARKER
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
        files = record["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"{target} was not installed by this script (no {MARKER})"
    if record.get("source") != spec["name"]:
        return f"{target} was installed from {record.get('source')}, not {spec['name']}"
    for algorithm in ("sha256", "md5"):
        if spec.get(algorithm) and record.get(algorithm) != spec[algorithm].lower():
            return f"{target} was installed from a zip with another {algorithm}"
    if not isinstance(files, dict) or not files:
        return f"{MARKER} in {target} lists no files"
    for relative, size in files.items():
        path = target / relative
        if not path.is_file() or path.stat().st_size != size:
            return f"{path} is missing or damaged"
    return None


# ---------------------------------------------------------------- installing


def remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass


def safe_member_path(root: Path, member: str) -> Path:
    """Where a zip member goes under ROOT; refuses anything that would land outside it (zip slip)."""
    if "\\" in member or member.startswith("/") or (len(member) > 1 and member[1] == ":") or "\0" in member:
        raise InstallError(f"refusing to extract {member!r}: an absolute or unusual path in the zip")
    parts = [part for part in member.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise InstallError(f"refusing to extract {member!r}: it would escape the target folder (zip slip)")
    destination = root.joinpath(*parts).resolve() if parts else root.resolve()
    if destination != root.resolve() and root.resolve() not in destination.parents:
        raise InstallError(f"refusing to extract {member!r}: it would escape the target folder (zip slip)")
    return destination


def extract_zip(archive: Path, staging: Path) -> Path:
    """Extract ARCHIVE into STAGING (which must exist, empty); returns its one top folder."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise InstallError(f"{archive.name.removesuffix('.part')} is not a valid zip file ({error})") from None
    with zf:
        members = zf.infolist()
        # Check every path before writing anything.
        tops = set()
        for info in members:
            safe_member_path(staging, info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise InstallError(f"refusing to extract {info.filename!r}: symbolic links are not expected in a model")
            parts = [part for part in info.filename.split("/") if part not in ("", ".")]
            if parts:
                tops.add(parts[0])
                if len(parts) == 1 and not info.is_dir():
                    raise InstallError(f"unexpected zip layout: {info.filename!r} is not inside a top folder")
        if len(tops) != 1:
            raise InstallError(f"unexpected zip layout: expected one top folder, found {len(tops)} "
                               f"({', '.join(sorted(tops)) or 'none'})")
        for info in members:
            destination = safe_member_path(staging, info.filename)
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as source, open(destination, "wb") as out:
                    shutil.copyfileobj(source, out, CHUNK)
            except (zipfile.BadZipFile, OSError, EOFError) as error:
                raise InstallError(f"cannot extract {info.filename} ({error})") from None
    return staging / tops.pop()


def write_marker(folder: Path, spec: dict, hashes: dict) -> None:
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            files[path.relative_to(folder).as_posix()] = path.stat().st_size
    record = {"source": spec["name"], "md5": hashes["md5"], "sha256": hashes["sha256"], "size": hashes["size"],
              "verified": bool(spec.get("md5") or spec.get("sha256")), "files": files,
              "installed": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (folder / MARKER).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def replace_dir(new: Path, target: Path) -> None:
    """Put NEW at TARGET; an existing TARGET is kept aside until NEW is in place."""
    old = target.with_name(f".{target.name}.old")
    remove(old)
    if target.exists() or target.is_symlink():
        os.rename(target, old)
    try:
        os.rename(new, target)
    except OSError:
        if old.exists():
            os.rename(old, target)
        raise
    remove(old)


def install_vosk(kind: dict, model: dict, models_dir: Path, args) -> Path:
    spec = model["files"][0]
    target = models_dir / model["folder"]
    staging = models_dir / f".{model['folder']}.partial"
    remove(staging)  # left over by an install that was killed
    part, hashes = fetch(spec, kind, models_dir, args.mirror, args.timeout)
    try:
        verify(part, spec, hashes, args.allow_unverified)
        say(f"  Extracting {spec['name']} into {models_dir}")
        staging.mkdir()
        top = extract_zip(part, staging)
        write_marker(top, spec, hashes)
        replace_dir(top, target)
    finally:
        remove(part)
        remove(staging)
    return target


def install_files(kind: dict, model: dict, voices_dir: Path, args) -> list[Path]:
    fetched: list[tuple[Path, Path]] = []
    try:
        for spec in model["files"]:
            part, hashes = fetch(spec, kind, voices_dir, args.mirror, args.timeout)
            fetched.append((part, voices_dir / spec["name"]))
            verify(part, spec, hashes, args.allow_unverified)
        for part, final in fetched:  # only once every file checked out
            os.replace(part, final)
    finally:
        for part, _ in fetched:
            remove(part)
    return [final for _, final in fetched]


# ---------------------------------------------------------------- main


def build_parser(catalogue: dict) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="install_models.py",
        description="Download, verify and install callbot's French Vosk model and Piper voice.",
        epilog="Without internet access: copy the files listed by --list onto a USB stick on another "
               "machine, then use --mirror DIR.")
    vosk, voice = catalogue["vosk"], catalogue["voice"]
    parser.add_argument("--vosk", choices=list(vosk["models"]), default=vosk["default"],
                        help=f"Vosk model size (default {vosk['default']})")
    parser.add_argument("--voice", choices=list(voice["models"]), default=voice["default"],
                        help=f"Piper voice (default {voice['default']})")
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR,
                        help=f"where Vosk models go (default {DEFAULT_MODELS_DIR})")
    parser.add_argument("--voices-dir", type=Path, default=DEFAULT_VOICES_DIR,
                        help=f"where Piper voices go (default {DEFAULT_VOICES_DIR})")
    parser.add_argument("--mirror", type=Path, metavar="DIR",
                        help="copy the files from this local folder (same file names, flat) instead of downloading")
    parser.add_argument("--force", action="store_true", help="reinstall even what is already installed and verified")
    parser.add_argument("--allow-unverified", action="store_true",
                        help="install files for which no checksum is known (the large Vosk model)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"network timeout (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--list", action="store_true", help="print the catalogue of models and voices, then exit")
    return parser


def run(args, catalogue: dict) -> None:
    vosk_kind, voice_kind = catalogue["vosk"], catalogue["voice"]
    vosk_model = vosk_kind["models"][args.vosk]
    voice_model = voice_kind["models"][args.voice]
    models_dir = args.models_dir.expanduser().absolute()
    voices_dir = args.voices_dir.expanduser().absolute()
    vosk_target = models_dir / vosk_model["folder"]
    onnx = next(spec for spec in voice_model["files"] if spec["name"].endswith(".onnx"))
    voice_target = voices_dir / onnx["name"]

    if args.mirror is not None:
        args.mirror = args.mirror.expanduser().absolute()
        if not args.mirror.is_dir():
            raise InstallError(f"the mirror folder {args.mirror} does not exist")

    # What needs installing.
    todo = []
    vosk_problem = installed_vosk_problem(vosk_target, vosk_model["files"][0])
    if vosk_problem is None and not args.force:
        say(f"Vosk model {args.vosk} is already installed and verified in {vosk_target}; skipping "
            f"(--force to reinstall)")
    else:
        if vosk_problem is not None and vosk_target.exists():
            say(f"Vosk model {args.vosk}: {vosk_problem}; it will be replaced")
        todo.append(("vosk", vosk_model, args.vosk))
    voice_problems = [problem for spec in voice_model["files"]
                      if (problem := installed_file_problem(voices_dir / spec["name"], spec)) is not None]
    if not voice_problems and not args.force:
        say(f"Piper voice {args.voice} is already installed and verified in {voices_dir}; skipping "
            f"(--force to reinstall)")
    else:
        if voice_problems and any((voices_dir / spec["name"]).exists() for spec in voice_model["files"]):
            say(f"Piper voice {args.voice}: {voice_problems[0]}; it will be replaced")
        todo.append(("voice", voice_model, args.voice))

    # Refuse early what cannot be verified, and check the mirror holds every file needed.
    for kind_name, model, name in todo:
        for spec in model["files"]:
            if not is_verifiable(spec):
                if not args.allow_unverified:
                    raise InstallError(
                        f"no checksum is known for {spec['name']} ({catalogue[kind_name]['title']} {name}), so "
                        f"its download cannot be verified; re-run with --allow-unverified to install it anyway")
                say(f"WARNING: no checksum is known for {spec['name']}; it will be installed UNVERIFIED "
                    f"(--allow-unverified)")
            if args.mirror is not None and not (args.mirror / spec["name"]).is_file():
                raise InstallError(f"the mirror folder {args.mirror} has no file {spec['name']} "
                                   f"(expected {args.mirror / spec['name']})")

    for kind_name, model, name in todo:
        kind = catalogue[kind_name]
        say(f"Installing {kind['title']} {name} ({model['description']}, about {model['approx_size']}, "
            f"licence {model['licence']})")
        if kind["install"] == "unzip":
            models_dir.mkdir(parents=True, exist_ok=True)
            install_vosk(kind, model, models_dir, args)
        else:
            voices_dir.mkdir(parents=True, exist_ok=True)
            install_files(kind, model, voices_dir, args)

    say()
    say(f"Vosk model {args.vosk}:  {vosk_target}")
    say(f"Piper voice {args.voice}: {voice_target}")
    say()
    say("In callbot.yaml:")
    say("speech:")
    say(f"  vosk_model: {vosk_target}")
    say(f"  voice: {voice_target}")
    say()
    installed = [f"{catalogue[kind_name]['title']} {name}" for kind_name, _, name in todo]
    if installed:
        say(f"OK: installed {' and '.join(installed)}; everything is in place.")
    else:
        say("OK: nothing to do; everything was already installed and verified.")


def main(argv: list[str] | None = None, catalogue: dict | None = None) -> int:
    catalogue = CATALOGUE if catalogue is None else catalogue
    parser = build_parser(catalogue)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return 0 if exit_.code in (0, None) else 1
    if args.list:
        print_catalogue(catalogue)
        return 0
    try:
        run(args, catalogue)
    except InstallError as error:
        sys.stdout.flush()
        print(f"FAILED: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        sys.stdout.flush()
        print("\nFAILED: interrupted; nothing half-installed was left in place", file=sys.stderr, flush=True)
        return 1
    except OSError as error:  # a full disk, a folder without write permission...
        sys.stdout.flush()
        print(f"FAILED: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
