"""scripts/install_models.py against fake artefacts, from a mirror folder and a local HTTP server (no internet)."""

from __future__ import annotations

import copy
import functools
import hashlib
import http.server
import importlib.util
import io
import json
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "install_models.py"


def load_script():
    spec = importlib.util.spec_from_file_location("install_models", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


im = load_script()

SMALL_ZIP = "vosk-model-small-fr-0.22.zip"
LARGE_ZIP = "vosk-model-fr-0.22.zip"
ONNX = "fr_FR-siwis-medium.onnx"
ONNX_JSON = "fr_FR-siwis-medium.onnx.json"
ONNX_BYTES = b"fake onnx model \x00\x01\x02" * 40
VOICE_CONFIG = {"audio": {"sample_rate": 22050, "quality": "medium"}, "espeak": {"voice": "fr"}}


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def digest(path: Path, algorithm: str) -> str:
    return hashlib.new(algorithm, path.read_bytes()).hexdigest()


@pytest.fixture
def artefacts(tmp_path: Path) -> Path:
    """A flat folder of fake artefacts, usable as a --mirror and served over HTTP."""
    folder = tmp_path / "artefacts"
    folder.mkdir()
    make_zip(folder / SMALL_ZIP, {"vosk-model-small-fr-0.22/": b"",
                                  "vosk-model-small-fr-0.22/am/final.mdl": b"acoustic model" * 50,
                                  "vosk-model-small-fr-0.22/conf/model.conf": b"--sample-frequency=16000\n"})
    make_zip(folder / LARGE_ZIP, {"vosk-model-fr-0.22/am/final.mdl": b"large acoustic model" * 50})
    (folder / ONNX).write_bytes(ONNX_BYTES)
    (folder / ONNX_JSON).write_text(json.dumps(VOICE_CONFIG), encoding="utf-8")
    return folder


def fake_catalogue(artefacts: Path) -> dict:
    """The real catalogue's shape, with the fake files' real checksums (md5 only for the small zip, as upstream)."""
    catalogue = copy.deepcopy(im.CATALOGUE)
    small = catalogue["vosk"]["models"]["small"]["files"][0]
    small["md5"] = digest(artefacts / SMALL_ZIP, "md5")
    assert small["sha256"] is None and catalogue["vosk"]["models"]["large"]["files"][0]["md5"] is None
    onnx = catalogue["voice"]["models"]["siwis-medium"]["files"][0]
    onnx["sha256"] = digest(artefacts / ONNX, "sha256")
    onnx["size"] = len(ONNX_BYTES)
    return catalogue


@pytest.fixture
def catalogue(artefacts: Path) -> dict:
    return fake_catalogue(artefacts)


@pytest.fixture
def dirs(tmp_path: Path) -> list[str]:
    return ["--models-dir", str(tmp_path / "models"), "--voices-dir", str(tmp_path / "voices")]


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """Requests to 127.0.0.1 must not go through a proxy configured on the machine running the tests."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CALLBOT_VOSK_BASE_URL", raising=False)
    monkeypatch.delenv("CALLBOT_PIPER_BASE_URL", raising=False)


class Server:
    """A local HTTP server laid out like the upstream sites, counting the requests it serves."""

    def __init__(self, root: Path):
        self.root = root
        self.requests: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     functools.partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path: Path, artefacts: Path, monkeypatch):
    """Serves the artefacts at the upstream paths and points the env base URLs at it."""
    root = tmp_path / "www"
    (root / "vosk").mkdir(parents=True)
    for name in (SMALL_ZIP, LARGE_ZIP):
        (root / "vosk" / name).write_bytes((artefacts / name).read_bytes())
    voice = root / "piper" / "fr" / "fr_FR" / "siwis" / "medium"
    voice.mkdir(parents=True)
    for name in (ONNX, ONNX_JSON):
        (voice / name).write_bytes((artefacts / name).read_bytes())
    running = Server(root)
    monkeypatch.setenv("CALLBOT_VOSK_BASE_URL", running.url + "/vosk")
    monkeypatch.setenv("CALLBOT_PIPER_BASE_URL", running.url + "/piper/")
    yield running
    running.close()


def leftovers(tmp_path: Path) -> list[str]:
    """Partial downloads and extraction folders left in the install folders."""
    found = []
    for folder in (tmp_path / "models", tmp_path / "voices"):
        if folder.exists():
            found += [p.name for p in folder.iterdir() if p.name.endswith(".part") or p.name.startswith(".")]
    return found


def assert_installed(tmp_path: Path) -> None:
    model = tmp_path / "models" / "vosk-model-small-fr-0.22"
    assert (model / "am" / "final.mdl").read_bytes() == b"acoustic model" * 50
    assert (model / "conf" / "model.conf").is_file()
    assert (tmp_path / "voices" / ONNX).read_bytes() == ONNX_BYTES
    assert json.loads((tmp_path / "voices" / ONNX_JSON).read_text())["audio"]["sample_rate"] == 22050
    assert leftovers(tmp_path) == []


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


# ---------------------------------------------------------------- successful installs


def test_install_from_mirror(tmp_path, artefacts, catalogue, dirs, capsys):
    assert im.main(["--mirror", str(artefacts), *dirs], catalogue=catalogue) == 0
    out = capsys.readouterr()
    assert_installed(tmp_path)
    assert "md5 verified" in out.out
    assert digest(artefacts / SMALL_ZIP, "sha256") in out.out  # the computed sha256, for the admin to record
    assert "sha256 verified" in out.out
    model = tmp_path / "models" / "vosk-model-small-fr-0.22"
    assert "speech:" in out.out
    assert f"  vosk_model: {model}" in out.out
    assert f"  voice: {tmp_path / 'voices' / ONNX}" in out.out
    assert last_line(out.out).startswith("OK:")


def test_install_over_http(tmp_path, server, catalogue, dirs, capsys):
    assert im.main(dirs, catalogue=catalogue) == 0
    out = capsys.readouterr()
    assert_installed(tmp_path)
    assert sorted(server.requests) == sorted([
        f"/vosk/{SMALL_ZIP}",
        f"/piper/fr/fr_FR/siwis/medium/{ONNX}",
        f"/piper/fr/fr_FR/siwis/medium/{ONNX_JSON}",
    ])
    assert f"Downloading {server.url}/vosk/{SMALL_ZIP}" in out.out
    assert f"{SMALL_ZIP}: 100%" in out.err  # stderr is no terminal here: a line every 10 %
    assert f"{SMALL_ZIP}: 50%" in out.err
    assert last_line(out.out).startswith("OK:")


def test_progress_on_a_terminal_refreshes_in_place():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    progress = im.Progress("file.zip", 1000, stream=stream)
    for _ in range(10):
        progress.update(100)
    progress.finish()
    text = stream.getvalue()
    assert text.startswith("\r") and text.endswith("\n")
    assert text.count("\n") == 1
    assert "100%" in text


def test_second_run_skips(tmp_path, server, catalogue, dirs, capsys):
    assert im.main(dirs, catalogue=catalogue) == 0
    capsys.readouterr()
    server.requests.clear()
    assert im.main(dirs, catalogue=catalogue) == 0
    out = capsys.readouterr().out
    assert server.requests == []
    assert "Vosk model small is already installed and verified" in out
    assert "Piper voice siwis-medium is already installed and verified" in out
    assert last_line(out).startswith("OK: nothing to do")
    assert_installed(tmp_path)


def test_force_reinstalls(tmp_path, server, catalogue, dirs, capsys):
    assert im.main(dirs, catalogue=catalogue) == 0
    model = tmp_path / "models" / "vosk-model-small-fr-0.22"
    (model / "stray.txt").write_text("left by hand")
    server.requests.clear()
    assert im.main([*dirs, "--force"], catalogue=catalogue) == 0
    assert len(server.requests) == 3
    assert not (model / "stray.txt").exists()  # the folder was replaced as a whole
    assert_installed(tmp_path)
    assert "already installed" not in capsys.readouterr().out.split("--force")[-1]


def test_damaged_install_is_reinstalled(tmp_path, artefacts, catalogue, dirs, capsys):
    assert im.main(["--mirror", str(artefacts), *dirs], catalogue=catalogue) == 0
    (tmp_path / "models" / "vosk-model-small-fr-0.22" / "am" / "final.mdl").write_bytes(b"truncated")
    (tmp_path / "voices" / ONNX).write_bytes(b"x" * len(ONNX_BYTES))
    capsys.readouterr()
    assert im.main(["--mirror", str(artefacts), *dirs], catalogue=catalogue) == 0
    out = capsys.readouterr().out
    assert "already installed" not in out
    assert "will be replaced" in out
    assert_installed(tmp_path)


# ---------------------------------------------------------------- failures


def test_checksum_mismatch_over_http_deletes_the_file(tmp_path, server, catalogue, dirs, capsys):
    catalogue["vosk"]["models"]["small"]["files"][0]["md5"] = "0" * 32
    assert im.main(dirs, catalogue=catalogue) == 1
    err = capsys.readouterr().err
    line = last_line(err)
    assert line.startswith("FAILED: checksum mismatch for vosk-model-small-fr-0.22.zip")
    assert "expected md5 " + "0" * 32 in line
    assert "got " + digest(server.root / "vosk" / SMALL_ZIP, "md5") in line
    assert not (tmp_path / "models" / "vosk-model-small-fr-0.22").exists()
    assert leftovers(tmp_path) == []


def test_voice_checksum_mismatch_from_mirror_installs_nothing(tmp_path, artefacts, catalogue, dirs, capsys):
    catalogue["voice"]["models"]["siwis-medium"]["files"][0]["sha256"] = "f" * 64
    assert im.main(["--mirror", str(artefacts), *dirs], catalogue=catalogue) == 1
    line = last_line(capsys.readouterr().err)
    assert "checksum mismatch for fr_FR-siwis-medium.onnx" in line
    assert "expected sha256 " + "f" * 64 in line and "got " + digest(artefacts / ONNX, "sha256") in line
    assert list((tmp_path / "voices").iterdir()) == []


def test_size_mismatch_over_http_fails_before_downloading(tmp_path, server, catalogue, dirs, capsys, monkeypatch):
    catalogue["voice"]["models"]["siwis-medium"]["files"][0]["size"] = len(ONNX_BYTES) + 1
    hashed = []
    monkeypatch.setattr(im, "verify", lambda *args: hashed.append(args))
    assert im.main(dirs, catalogue=catalogue) == 1
    line = last_line(capsys.readouterr().err)
    assert line.startswith("FAILED: size mismatch for fr_FR-siwis-medium.onnx")
    assert f"expected {len(ONNX_BYTES) + 1:,} bytes" in line and f"{len(ONNX_BYTES):,} bytes" in line
    assert [args[1]["name"] for args in hashed] == [SMALL_ZIP]  # the .onnx never reached the sha256 check
    assert not (tmp_path / "voices" / ONNX).exists()
    assert leftovers(tmp_path) == []


def test_size_mismatch_in_mirror_fails_fast(tmp_path, artefacts, catalogue, dirs, capsys):
    catalogue["voice"]["models"]["siwis-medium"]["files"][0]["size"] = 5
    assert im.main(["--mirror", str(artefacts), *dirs], catalogue=catalogue) == 1
    line = last_line(capsys.readouterr().err)
    assert "size mismatch for fr_FR-siwis-medium.onnx in the mirror: expected 5 bytes" in line
    assert not (tmp_path / "voices" / ONNX).exists()


@pytest.mark.parametrize("evil", ["vosk-model-small-fr-0.22/../../escaped.txt", "/tmp/escaped-callbot.txt",
                                  "vosk-model-small-fr-0.22/am/../../../escaped.txt"])
def test_zip_slip_is_refused(tmp_path, artefacts, dirs, capsys, evil):
    make_zip(artefacts / SMALL_ZIP, {"vosk-model-small-fr-0.22/am/final.mdl": b"model", evil: b"owned"})
    catalogue = fake_catalogue(artefacts)
    assert im.main(["--mirror", str(artefacts), *dirs], catalogue=catalogue) == 1
    line = last_line(capsys.readouterr().err)
    assert "refusing to extract" in line and "escaped" in line
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "models" / "escaped.txt").exists()
    assert not (tmp_path / "models" / "vosk-model-small-fr-0.22").exists()
    assert leftovers(tmp_path) == []


def test_zip_without_one_top_folder_is_refused(tmp_path, artefacts, dirs, capsys):
    make_zip(artefacts / SMALL_ZIP, {"a/final.mdl": b"model", "b/model.conf": b"conf"})
    assert im.main(["--mirror", str(artefacts), *dirs], catalogue=fake_catalogue(artefacts)) == 1
    assert "expected one top folder, found 2" in last_line(capsys.readouterr().err)
    assert not (tmp_path / "models" / "vosk-model-small-fr-0.22").exists()
    assert leftovers(tmp_path) == []


def test_missing_mirror_file_is_named(tmp_path, artefacts, catalogue, dirs, capsys):
    (artefacts / ONNX_JSON).unlink()
    assert im.main(["--mirror", str(artefacts), *dirs], catalogue=catalogue) == 1
    line = last_line(capsys.readouterr().err)
    assert line.startswith("FAILED:") and ONNX_JSON in line and str(artefacts) in line
    # Checked before anything is copied.
    assert not (tmp_path / "models" / "vosk-model-small-fr-0.22").exists()


@pytest.mark.parametrize("content", ["{not json", json.dumps({"espeak": {"voice": "fr"}}),
                                     json.dumps({"audio": {"quality": "medium"}}), json.dumps([1, 2])])
def test_invalid_voice_config_is_rejected(tmp_path, artefacts, catalogue, dirs, capsys, content):
    (artefacts / ONNX_JSON).write_text(content, encoding="utf-8")
    assert im.main(["--mirror", str(artefacts), *dirs], catalogue=catalogue) == 1
    line = last_line(capsys.readouterr().err)
    assert line.startswith(f"FAILED: {ONNX_JSON} is not a valid Piper voice configuration")
    assert not (tmp_path / "voices" / ONNX).exists()  # the pair is installed together or not at all
    assert not (tmp_path / "voices" / ONNX_JSON).exists()
    assert leftovers(tmp_path) == []


def test_unreachable_server_suggests_mirror(tmp_path, catalogue, dirs, capsys, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The port is closed now: connections are refused.
    monkeypatch.setenv("CALLBOT_VOSK_BASE_URL", f"http://127.0.0.1:{port}/vosk")
    monkeypatch.setenv("CALLBOT_PIPER_BASE_URL", f"http://127.0.0.1:{port}/piper")
    assert im.main([*dirs, "--timeout", "5"], catalogue=catalogue) == 1
    line = last_line(capsys.readouterr().err)
    assert line.startswith("FAILED: cannot reach 127.0.0.1")
    assert "--mirror" in line
    assert leftovers(tmp_path) == []


def test_http_error_is_reported(tmp_path, server, catalogue, dirs, capsys):
    (server.root / "vosk" / SMALL_ZIP).unlink()
    assert im.main(dirs, catalogue=catalogue) == 1
    line = last_line(capsys.readouterr().err)
    assert "HTTP error 404" in line and SMALL_ZIP in line
    assert leftovers(tmp_path) == []


def test_large_model_needs_allow_unverified(tmp_path, server, catalogue, dirs, capsys):
    assert im.main([*dirs, "--vosk", "large"], catalogue=catalogue) == 1
    line = last_line(capsys.readouterr().err)
    assert "no checksum is known for vosk-model-fr-0.22.zip" in line and "--allow-unverified" in line
    assert server.requests == []  # refused before downloading anything
    assert not (tmp_path / "models").exists()


def test_large_model_with_allow_unverified(tmp_path, server, catalogue, dirs, capsys):
    assert im.main([*dirs, "--vosk", "large", "--allow-unverified"], catalogue=catalogue) == 0
    out = capsys.readouterr().out
    assert "UNVERIFIED" in out
    assert digest(server.root / "vosk" / LARGE_ZIP, "sha256") in out
    assert (tmp_path / "models" / "vosk-model-fr-0.22" / "am" / "final.mdl").is_file()
    assert f"vosk_model: {tmp_path / 'models' / 'vosk-model-fr-0.22'}" in out


def test_bad_option_exits_1(capsys):
    assert im.main(["--voice", "nobody"]) == 1
    assert im.main(["--help"]) == 0


def test_list_runs_without_the_venv():
    """--list with a bare interpreter (no site packages, no PYTHONPATH): the script needs the standard library only."""
    result = subprocess.run([sys.executable, "-S", "-I", str(SCRIPT), "--list"], capture_output=True, text=True,
                            timeout=60, cwd="/")
    assert result.returncode == 0, result.stderr
    for expected in ("vosk-model-small-fr-0.22.zip", "fr_FR-siwis-medium.onnx", "fr_FR-tom-medium.onnx",
                     "fr_FR-siwis-low.onnx", "Apache-2.0", "CC-BY-4.0", "MODEL_CARD",
                     "8873b1234503f6edd55f54bfff31cf3e", "NO CHECKSUM KNOWN"):
        assert expected in result.stdout
