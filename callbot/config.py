"""`callbot.yaml`: the one configuration file, validated at load time.

Relative paths in it are relative to the file itself, so a configuration
folder can be moved or copied as a whole.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from callbot.prompts import DEFAULT_PROMPTS, PLACEHOLDERS
from callbot.yamlsource import ERROR, ConfigError, Diagnostic, Location, YamlReader

if TYPE_CHECKING:  # callbot.dated imports this module
    from callbot.dated import CalendarSettings

CONFIG_KEYS = ("commune", "answers", "base", "understanding", "transfer", "prompts", "dialog", "speech", "sip",
               "messages", "calendar", "journal", "metrics", "console")
CONSOLE_KEYS = ("listen", "state", "service", "service_pid_file", "behind_proxy")
JOURNAL_KEYS = ("path", "retention_days", "caller_number")
METRICS_KEYS = ("listen",)
CALENDAR_KEYS = ("hours", "collections", "menus", "school_holidays", "alsace_moselle", "during_office_hours")
SIP_KEYS = ("listen", "workers", "mode", "allow", "registrar", "username", "password", "register_seconds", "codecs", "max_calls",
            "max_call_seconds", "transfer_timeout_seconds", "overflow", "rtp_ports")
MESSAGE_KEYS = ("spool", "retention_days", "email")
EMAIL_KEYS = ("host", "port", "sender", "recipients", "starttls", "username", "password")
CODECS = ("PCMA", "PCMU", "G722")
SPEECH_KEYS = ("vosk_model", "voice", "cache", "phrase_hints", "end_silence_ms")
DIALOG_KEYS = ("no_input_seconds", "max_utterance_seconds", "attempts", "slower_speed", "max_message_seconds",
               "messages")
UNDERSTANDING_KEYS = ("threshold", "margin", "person_requests", "clarify_floor", "clarify_window")
TRANSFER_KEYS = ("reception", "targets")
BASE_KEYS = ("adopt", "disable", "facts")
TARGET_KEYS = ("uri", "description", "hours", "on_call", "context")

# Where `callbot` looks when --config is not given, in this order.
DEFAULT_CONFIG_PATHS = (Path("callbot.yaml"), Path("/etc/callbot/callbot.yaml"))
CONFIG_ENV = "CALLBOT_CONFIG"
EXAMPLE_CONFIG = Path(__file__).parent / "example" / "callbot.yaml"

DEFAULT_THRESHOLD = 0.55
DEFAULT_MARGIN = 0.03
# Clarifying questions (see matcher.clarification_choices), measured on tests/corpus/dev*.tsv
DEFAULT_CLARIFY_FLOOR = 0.40
DEFAULT_CLARIFY_WINDOW = 0.10


@dataclass(frozen=True)
class TransferTarget:
    """A place calls can be handed to (the reception desk, the on-call service)."""

    name: str
    uri: str
    description: str
    hours: str | None = None  # a place of `calendar: hours`: the target takes calls only when it is open
    hours_location: Location | None = None
    on_call: bool = False  # the on-call service: an answer handing over to it is an emergency (`urgence`)
    context: bool = True  # the transfer tells the agent's phone why (X-Callbot-* headers, see sip.py)


@dataclass(frozen=True)
class BaseSettings:
    """Which answers of the common base (callbot/base/) the commune uses, and its facts file."""

    adopt: tuple[tuple[str, Location], ...] | None  # None: every answer of the base
    disable: tuple[tuple[str, Location], ...] = ()
    facts: Path | None = None  # `name: text` lines filling the base's {placeholders}
    location: Location | None = None


@dataclass(frozen=True)
class UnderstandingSettings:
    threshold: float = DEFAULT_THRESHOLD  # below this score the bot does not answer
    margin: float = DEFAULT_MARGIN  # the best answer must lead the runner-up by this much
    person_requests: tuple[str, ...] = ()  # staff's own phrases that mean "a person, please"
    clarify_floor: float = DEFAULT_CLARIFY_FLOOR  # below the threshold but above this: ask "X, or Y?"
    clarify_window: float = DEFAULT_CLARIFY_WINDOW  # the runner-up is offered too when this close to the best


@dataclass(frozen=True)
class DialogSettings:
    no_input_seconds: float = 7.0  # silence after a prompt before the caller is asked again
    max_utterance_seconds: float = 15.0  # a longer utterance is cut and understood as it is
    attempts: int = 3  # no-match or no-input turns in a row before the call goes to a person
    slower_speed: float = 0.8  # speaking rate when the caller asks "plus lentement"
    max_message_seconds: float = 90.0  # longest voice message a caller may leave
    messages: bool = True  # offer a voice message when a transfer fails


@dataclass(frozen=True)
class SpeechSettings:
    vosk_model: Path  # folder of the Vosk model
    voice: Path  # the Piper voice's .onnx file (its .onnx.json beside it)
    cache: Path  # folder of rendered prompts
    phrase_hints: bool = False  # restrict recognition to the answer sheets' words (see README, grammars/)
    end_silence_ms: int = 800  # silence that ends an utterance


def auto_workers() -> int:
    """`workers: auto`, the default: one worker per core (at most 8), each taking 4 calls."""
    return max(1, min(os.cpu_count() or 1, 8))


@dataclass(frozen=True)
class SipSettings:
    host: str = "127.0.0.1"
    port: int = 5080
    mode: str = "direct"  # "direct": accept calls from `allow`; "register": an extension of the PBX
    allow: tuple[str, ...] = ("127.0.0.1",)  # addresses or networks (CIDR) allowed to call in direct mode
    registrar: str = ""  # sip:pbx.example;transport=udp, in register mode
    username: str = ""
    password: str = ""
    register_seconds: int = 300
    codecs: tuple[str, ...] = CODECS  # in order of preference
    max_calls: int = 4  # per process; pjsua2 takes at most 4
    max_call_seconds: float = 600.0
    transfer_timeout_seconds: float = 30.0
    overflow: str | None = None  # a SIP URI to send calls to when full; otherwise 486 Busy Here
    rtp_port_start: int = 40000
    rtp_port_count: int = 1000
    workers: int = field(default_factory=auto_workers)  # SIP worker processes, 4 calls each

    def allows(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(entry, strict=False) for entry in self.allow)


@dataclass(frozen=True)
class EmailSettings:
    """Where voice messages are sent by e-mail (the mairie's own mail server)."""

    host: str
    port: int = 25
    sender: str = "callbot@localhost"
    recipients: tuple[str, ...] = ()
    starttls: bool = False
    username: str = ""
    password: str = ""


@dataclass(frozen=True)
class JournalSettings:
    path: Path  # the SQLite file (in the service's state directory)
    retention_days: int = 30
    caller_number: str = "truncated"  # full | truncated (last two digits hidden) | none


@dataclass(frozen=True)
class MessageSettings:
    spool: Path  # voice messages left by callers, with their metadata
    retention_days: int = 30
    email: EmailSettings | None = None


@dataclass(frozen=True)
class ConsoleSettings:
    """The staff web console (`callbot console`)."""

    listen: tuple[str, int] = ("127.0.0.1", 8080)  # localhost only unless the IT person says otherwise
    state: Path | None = None  # drafts and published versions; default: `console` beside the journal
    service: str = "callbot.service"  # the unit whose main process is told to reload after publishing
    service_pid_file: Path | None = None  # instead of asking systemd: a file holding the service's process id
    behind_proxy: bool = False  # trust X-Forwarded-Proto/For from one reverse proxy (HTTPS there)


DEFAULT_VOSK_MODEL = "models/vosk-model-small-fr-0.22"
DEFAULT_VOICE = "voices/fr_FR-siwis-medium.onnx"
DEFAULT_CACHE = "cache/prompts"


@dataclass(frozen=True)
class Config:
    path: Path
    commune: str
    answers_dir: Path
    understanding: UnderstandingSettings
    targets: dict[str, TransferTarget]
    reception: str | None  # target for explicit requests for a person and keypad 0
    prompts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PROMPTS))
    dialog: DialogSettings = DialogSettings()
    # the loader always fills speech and messages, with their defaults if the file has no such section
    speech: SpeechSettings = SpeechSettings(Path(DEFAULT_VOSK_MODEL), Path(DEFAULT_VOICE), Path(DEFAULT_CACHE))
    sip: SipSettings = SipSettings()
    messages: MessageSettings = MessageSettings(Path("spool/messages"))
    calendar: CalendarSettings | None = None
    during_office_hours: str = "answer"  # or "transfer": straight to the reception while it is open
    journal: JournalSettings | None = None  # no journal unless configured
    metrics_listen: tuple[str, int] | None = None  # Prometheus endpoint, off unless configured
    console: ConsoleSettings = ConsoleSettings()
    base: BaseSettings | None = None  # no common base unless adopted

    def prompt(self, key: str, **values: str) -> str:
        """A prompt's text with its placeholders filled."""
        return self.prompts[key].format(commune=self.commune, **values)


def find_config(explicit: str | None) -> Path:
    """The configuration file to use: --config, then $CALLBOT_CONFIG, then the default paths."""
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    for candidate in DEFAULT_CONFIG_PATHS:
        if candidate.is_file():
            return candidate
    raise ConfigError([Diagnostic(
        Location(str(DEFAULT_CONFIG_PATHS[-1]), 1, 1), ERROR, "no configuration file found",
        f"pass --config FILE, set {CONFIG_ENV}, or copy {EXAMPLE_CONFIG} to /etc/callbot/callbot.yaml")])


def load_config(path: Path, diagnostics: list[Diagnostic]) -> Config | None:
    """Read and validate callbot.yaml. Problems go to `diagnostics`; returns None on any error."""
    reader = YamlReader(path, diagnostics)
    root = reader.parse()
    if root is None:
        return None
    if isinstance(root, yaml.ScalarNode) and root.value == "":
        reader.error(Location(str(path), 1, 1), "the configuration file is empty", f"start from {EXAMPLE_CONFIG}")
        return None
    keys = reader.mapping(root, "the configuration", CONFIG_KEYS, required=("commune", "answers"))
    if keys is None:
        return None
    commune = reader.text(keys["commune"], "`commune`") if "commune" in keys else None
    answers = reader.text(keys["answers"], "`answers` (the folder of answer sheets)") if "answers" in keys else None
    understanding = _understanding(reader, keys.get("understanding"))
    targets, reception = _transfer(reader, keys.get("transfer"))
    prompts = _prompts(reader, keys.get("prompts"))
    dialog = _dialog(reader, keys.get("dialog"))
    speech = _speech(reader, keys.get("speech"), path.parent)
    sip = _sip(reader, keys.get("sip"))
    messages = _messages(reader, keys.get("messages"), path.parent)
    calendar, office_policy = _calendar(reader, keys.get("calendar"), path.parent)
    journal = _journal(reader, keys["journal"], path.parent) if "journal" in keys else None
    metrics = _metrics(reader, keys["metrics"]) if "metrics" in keys else None
    console = _console(reader, keys["console"], path.parent) if "console" in keys else ConsoleSettings()
    base = _base(reader, keys["base"], path.parent) if "base" in keys else None
    if any(d.severity == ERROR for d in diagnostics) or commune is None or answers is None:
        return None
    return Config(path, commune, (path.parent / answers), understanding, targets, reception, prompts, dialog, speech,
                  sip, messages, calendar, office_policy, journal, metrics, console, base)


def require_config(path: Path) -> Config:
    diagnostics: list[Diagnostic] = []
    config = load_config(path, diagnostics)
    if config is None:
        raise ConfigError(diagnostics)
    return config


def _understanding(r: YamlReader, node: yaml.Node | None) -> UnderstandingSettings:
    if node is None:
        return UnderstandingSettings()
    keys = r.mapping(node, "`understanding`", UNDERSTANDING_KEYS) or {}
    threshold = r.number(keys["threshold"], "`threshold`", 0.0, 1.0) if "threshold" in keys else None
    margin = r.number(keys["margin"], "`margin`", 0.0, 1.0) if "margin" in keys else None
    phrases = r.text_list(keys["person_requests"], "`person_requests`") if "person_requests" in keys else []
    floor = r.number(keys["clarify_floor"], "`clarify_floor`", 0.0, 1.0) if "clarify_floor" in keys else None
    window = r.number(keys["clarify_window"], "`clarify_window`", 0.0, 1.0) if "clarify_window" in keys else None
    return UnderstandingSettings(
        DEFAULT_THRESHOLD if threshold is None else threshold,
        DEFAULT_MARGIN if margin is None else margin,
        tuple(v for v, _ in phrases or ()),
        DEFAULT_CLARIFY_FLOOR if floor is None else floor,
        DEFAULT_CLARIFY_WINDOW if window is None else window,
    )


def _base(r: YamlReader, node: yaml.Node, folder: Path) -> BaseSettings | None:
    keys = r.mapping(node, "`base`", BASE_KEYS, required=("adopt",))
    if keys is None or "adopt" not in keys:
        return None
    adopt_node = keys["adopt"]
    adopt: tuple[tuple[str, Location], ...] | None = None
    if not (isinstance(adopt_node, yaml.ScalarNode) and adopt_node.value == "all"):
        items = r.text_list(adopt_node, "`base: adopt` (`all`, or a list of answer ids)")
        adopt = tuple((v, r.location(item)) for v, item in items or ())
    disable = tuple((v, r.location(item)) for v, item in r.text_list(keys["disable"], "`base: disable`") or ()) \
        if "disable" in keys else ()
    facts = None
    if "facts" in keys:
        text = r.text(keys["facts"], "`base: facts`")
        if text is not None:
            facts = (folder / text).resolve()
            if not facts.is_file():
                r.error(keys["facts"], f"`base: facts`: file {facts} not found",
                        "copy callbot/base/facts-modele.yaml next to callbot.yaml and fill it in")
    return BaseSettings(adopt, disable, facts, r.location(node))


def _transfer(r: YamlReader, node: yaml.Node | None) -> tuple[dict[str, TransferTarget], str | None]:
    if node is None:
        return {}, None
    keys = r.mapping(node, "`transfer`", TRANSFER_KEYS) or {}
    targets: dict[str, TransferTarget] = {}
    if "targets" in keys:
        target_nodes = keys["targets"]
        if not isinstance(target_nodes, yaml.MappingNode):
            r.error(target_nodes, "`targets` must be a mapping of target names", "see the example configuration")
        else:
            for name_node, value in target_nodes.value:
                target = _target(r, name_node, value)
                if target is not None:
                    targets[target.name] = target
    reception = r.text(keys["reception"], "`reception`") if "reception" in keys else None
    if reception is not None and reception not in targets:
        r.error(keys["reception"], f"`reception` names `{reception}`, which is not a target",
                f"use one of: {', '.join(targets) or 'add a target under `targets:` first'}")
        reception = None
    return targets, reception


def _target(r: YamlReader, name_node: yaml.Node, node: yaml.Node) -> TransferTarget | None:
    name = r.text(name_node, "a transfer target's name")
    if name is None:
        return None
    keys = r.mapping(node, f"target `{name}`", TARGET_KEYS, required=("uri",))
    if keys is None or "uri" not in keys:
        return None
    uri = r.text(keys["uri"], f"`uri` of target `{name}`")
    if uri is not None and not uri.startswith(("sip:", "sips:", "tel:")):
        r.error(keys["uri"], f"`uri` of target `{name}` must be a SIP address", "write it like sip:accueil@192.0.2.10")
        return None
    description = r.text(keys["description"], f"`description` of target `{name}`") if "description" in keys else name
    hours = r.text(keys["hours"], f"`hours` of target `{name}`") if "hours" in keys else None
    location = r.location(keys["hours"]) if "hours" in keys else None
    flags = {}
    for key in ("on_call", "context"):
        value = r.boolean(keys[key], f"`{key}` of target `{name}`") if key in keys else None
        if value is not None:
            flags[key] = value
    if uri is not None and "?" in uri and flags.get("context", True):
        r.error(keys["uri"], f"`uri` of target `{name}` already carries headers (after `?`)",
                "remove them, or set `context: false` under the target: the bot adds its own X-Callbot-* headers")
        return None
    return TransferTarget(name, uri, description or name, hours, location, **flags) if uri else None


_PLACEHOLDER = re.compile(r"{([^{}]*)}")


def _prompts(r: YamlReader, node: yaml.Node | None) -> dict[str, str]:
    prompts = dict(DEFAULT_PROMPTS)
    if node is None:
        return prompts
    keys = r.mapping(node, "`prompts`", tuple(DEFAULT_PROMPTS)) or {}
    for key, value in keys.items():
        text = r.text(value, f"prompt `{key}`")
        if text is None:
            continue
        unknown = set(_PLACEHOLDER.findall(text)) - PLACEHOLDERS[key]
        if unknown:
            allowed = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS[key]))
            r.error(value, f"prompt `{key}` uses unknown placeholder {{{sorted(unknown)[0]}}}",
                    f"this prompt may use {allowed}")
            continue
        if key == "greeting" and not any(w in text.lower() for w in ("automatique", "robot", "assistant vocal")):
            r.warning(value, "the greeting no longer says that callers talk to an automatic assistant",
                      "keep words like « assistant vocal automatique »: the AI Act requires telling callers")
        prompts[key] = text
    return prompts


def _dialog(r: YamlReader, node: yaml.Node | None) -> DialogSettings:
    settings = DialogSettings()
    if node is None:
        return settings
    keys = r.mapping(node, "`dialog`", DIALOG_KEYS) or {}
    limits = {"no_input_seconds": (2, 60), "max_utterance_seconds": (3, 60), "attempts": (1, 5),
              "slower_speed": (0.5, 1.0), "max_message_seconds": (10, 600)}
    values: dict[str, Any] = {}
    for key, (low, high) in limits.items():
        if key in keys:
            value = r.number(keys[key], f"`{key}`", low, high)
            if value is not None:
                values[key] = int(value) if key == "attempts" else value
    if "messages" in keys:
        messages = r.boolean(keys["messages"], "`messages`")
        if messages is not None:
            values["messages"] = messages
    return replace(settings, **values)


def _speech(r: YamlReader, node: yaml.Node | None, base: Path) -> SpeechSettings:
    keys = (r.mapping(node, "`speech`", SPEECH_KEYS) or {}) if node is not None else {}

    def path_of(key: str, default: str) -> Path:
        text = r.text(keys[key], f"`{key}`") if key in keys else None
        return (base / (text or default)).resolve()

    settings = SpeechSettings(path_of("vosk_model", DEFAULT_VOSK_MODEL), path_of("voice", DEFAULT_VOICE),
                              path_of("cache", DEFAULT_CACHE))
    if "phrase_hints" in keys:
        hints = r.boolean(keys["phrase_hints"], "`phrase_hints`")
        if hints is not None:
            settings = replace(settings, phrase_hints=hints)
    if "end_silence_ms" in keys:
        value = r.number(keys["end_silence_ms"], "`end_silence_ms`", 300, 3000)
        if value is not None:
            settings = replace(settings, end_silence_ms=int(value))
    return settings


def _sip(r: YamlReader, node: yaml.Node | None) -> SipSettings:
    settings = SipSettings()
    if node is None:
        return settings
    keys = r.mapping(node, "`sip`", SIP_KEYS) or {}
    values: dict = {}
    if "listen" in keys:
        listen = r.text(keys["listen"], "`listen`")
        host, _, port = (listen or "").rpartition(":")
        if listen is not None and (not host or not port.isdigit() or not 0 < int(port) < 65536):
            r.error(keys["listen"], f"`listen` must be ADDRESS:PORT, not `{listen}`", "write it like 0.0.0.0:5060")
        elif listen is not None:
            values.update(host=host, port=int(port))
    if "workers" in keys:
        node = keys["workers"]
        if isinstance(node, yaml.ScalarNode) and node.value == "auto":
            values["workers"] = auto_workers()
        else:
            count = r.number(node, "`workers`", 1, 32)
            if count is not None:
                values["workers"] = int(count)
    if "mode" in keys:
        mode = r.text(keys["mode"], "`mode`")
        if mode not in (None, "direct", "register"):
            r.error(keys["mode"], f"`mode` must be `direct` or `register`, not `{mode}`",
                    "direct: calls come straight from allowed addresses; register: the bot is an extension of the PBX")
        elif mode:
            values["mode"] = mode
    if "allow" in keys:
        allowed = []
        for entry, item in r.text_list(keys["allow"], "`allow`") or ():
            try:
                ipaddress.ip_network(entry, strict=False)
                allowed.append(entry)
            except ValueError:
                r.error(item, f"`{entry}` is not an IP address or network", "write it like 192.0.2.10 or 192.0.2.0/24")
        values["allow"] = tuple(allowed)
    for key in ("registrar", "username", "password"):
        if key in keys:
            values[key] = r.text(keys[key], f"`{key}`") or ""
    if values.get("registrar") and not values["registrar"].startswith("sip:"):
        r.error(keys["registrar"], "`registrar` must be a SIP URI", "write it like sip:192.0.2.1 or sip:pbx.mairie.local")
    if values.get("mode") == "register":
        for key in ("registrar", "username", "password"):
            if not values.get(key):
                r.error(node, f"`sip: mode: register` needs `{key}`", f"add `{key}:` under `sip:`")
    for key, low, high in (("register_seconds", 60, 3600), ("max_calls", 1, 4), ("max_call_seconds", 30, 7200),
                           ("transfer_timeout_seconds", 5, 120)):
        if key in keys:
            value = r.number(keys[key], f"`{key}`", low, high)
            if value is not None:
                values[key] = int(value) if key in ("register_seconds", "max_calls") else value
    if "codecs" in keys:
        codecs = [c.upper() for c, _ in r.text_list(keys["codecs"], "`codecs`") or ()]
        unknown = [c for c in codecs if c not in CODECS]
        if unknown or not codecs:
            r.error(keys["codecs"], f"unknown codec `{unknown[0]}`" if unknown else "`codecs` is empty",
                    f"use some of {', '.join(CODECS)}")
        else:
            values["codecs"] = tuple(codecs)
    if "overflow" in keys:
        overflow = r.text(keys["overflow"], "`overflow`")
        if overflow and not overflow.startswith("sip:"):
            r.error(keys["overflow"], "`overflow` must be a SIP URI", "write it like sip:standard@192.0.2.10")
        else:
            values["overflow"] = overflow
    if "rtp_ports" in keys:
        text = r.text(keys["rtp_ports"], "`rtp_ports`") or ""
        first, _, last = text.partition("-")
        if not (first.isdigit() and last.isdigit() and 1024 <= int(first) < int(last) < 65536):
            r.error(keys["rtp_ports"], f"`rtp_ports` must be a range like 40000-40999, not `{text}`",
                    "give the first and last UDP port for audio")
        else:
            values.update(rtp_port_start=int(first), rtp_port_count=int(last) - int(first) + 1)
    return replace(settings, **values)


def _messages(r: YamlReader, node: yaml.Node | None, base: Path) -> MessageSettings:
    keys = (r.mapping(node, "`messages`", MESSAGE_KEYS) or {}) if node is not None else {}
    spool = r.text(keys["spool"], "`spool`") if "spool" in keys else None
    settings = MessageSettings((base / (spool or "spool/messages")).resolve())
    if "retention_days" in keys:
        days = r.number(keys["retention_days"], "`retention_days`", 1, 365)
        if days is not None:
            settings = replace(settings, retention_days=int(days))
    if "email" in keys:
        settings = replace(settings, email=_email(r, keys["email"]))
    return settings


def _email(r: YamlReader, node: yaml.Node) -> EmailSettings | None:
    keys = r.mapping(node, "`email`", EMAIL_KEYS, required=("host", "recipients")) or {}
    if "host" not in keys or "recipients" not in keys:
        return None
    values: dict = {"host": r.text(keys["host"], "`host`") or ""}
    values["recipients"] = tuple(v for v, _ in r.text_list(keys["recipients"], "`recipients`") or ())
    for address, item in r.text_list(keys["recipients"], "`recipients`") or ():
        if "@" not in address:
            r.error(item, f"`{address}` is not an e-mail address", "write it like accueil@mairie.example")
    if "port" in keys:
        port = r.number(keys["port"], "`port`", 1, 65535)
        values["port"] = int(port) if port is not None else 25
    for key in ("sender", "username", "password"):
        if key in keys:
            values[key] = r.text(keys[key], f"`{key}`") or ""
    if "starttls" in keys:
        values["starttls"] = bool(r.boolean(keys["starttls"], "`starttls`"))
    return EmailSettings(**values)


def _calendar(r: YamlReader, node: yaml.Node | None, base: Path):
    from callbot.dated import CalendarSettings

    if node is None:
        return None, "answer"
    keys = r.mapping(node, "`calendar`", CALENDAR_KEYS) or {}
    paths = {}
    for key in ("hours", "collections", "menus", "school_holidays"):
        if key in keys:
            text = r.text(keys[key], f"`calendar: {key}`")
            if text is not None:
                path = (base / text).resolve()
                if not path.is_file():
                    r.error(keys[key], f"`calendar: {key}`: file {path} not found", "check the path (relative to callbot.yaml)")
                paths[key] = path
    alsace = r.boolean(keys["alsace_moselle"], "`alsace_moselle`") if "alsace_moselle" in keys else False
    policy = "answer"
    if "during_office_hours" in keys:
        policy = r.text(keys["during_office_hours"], "`during_office_hours`") or "answer"
        if policy not in ("answer", "transfer"):
            r.error(keys["during_office_hours"], f"`during_office_hours` must be `answer` or `transfer`, not `{policy}`",
                    "answer: the bot answers first; transfer: callers go straight to the reception while it is open")
    return CalendarSettings(**paths, alsace_moselle=bool(alsace)), policy


def _journal(r: YamlReader, node: yaml.Node, base: Path) -> JournalSettings | None:
    keys = r.mapping(node, "`journal`", JOURNAL_KEYS, required=("path",)) or {}
    if "path" not in keys:
        return None
    settings = JournalSettings((base / (r.text(keys["path"], "`path`") or "journal.sqlite3")).resolve())
    if "retention_days" in keys:
        days = r.number(keys["retention_days"], "`retention_days`", 1, 365)
        if days is not None:
            settings = replace(settings, retention_days=int(days))
    if "caller_number" in keys:
        privacy = r.text(keys["caller_number"], "`caller_number`")
        if privacy not in ("full", "truncated", "none"):
            r.error(keys["caller_number"], f"`caller_number` must be full, truncated or none, not `{privacy}`",
                    "truncated keeps all but the last two digits; none keeps no number at all")
        else:
            settings = replace(settings, caller_number=privacy)
    return settings


def _metrics(r: YamlReader, node: yaml.Node) -> tuple[str, int] | None:
    keys = r.mapping(node, "`metrics`", METRICS_KEYS, required=("listen",)) or {}
    return _listen(r, keys["listen"], "127.0.0.1:9105") if "listen" in keys else None


def _listen(r: YamlReader, node: yaml.Node, example: str) -> tuple[str, int] | None:
    listen = r.text(node, "`listen`")
    host, _, port = (listen or "").rpartition(":")
    if listen is None:
        return None
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        r.error(node, f"`listen` must be ADDRESS:PORT, not `{listen}`", f"write {example} (localhost only)")
        return None
    return host, int(port)


def _console(r: YamlReader, node: yaml.Node, base: Path) -> ConsoleSettings:
    keys = r.mapping(node, "`console`", CONSOLE_KEYS) or {}
    settings = ConsoleSettings()
    if "listen" in keys:
        listen = _listen(r, keys["listen"], "127.0.0.1:8080")
        settings = replace(settings, listen=listen) if listen else settings
    if "state" in keys and (text := r.text(keys["state"], "`console: state`")):
        settings = replace(settings, state=(base / text).resolve())
    if "service_pid_file" in keys and (text := r.text(keys["service_pid_file"], "`console: service_pid_file`")):
        settings = replace(settings, service_pid_file=(base / text).resolve())
    if "service" in keys:
        service = r.text(keys["service"], "`console: service`")
        if service and not re.fullmatch(r"[A-Za-z0-9@_.:-]+", service):
            r.error(keys["service"], f"`console: service` is not a unit name: `{service}`", "write e.g. callbot.service")
        elif service:
            settings = replace(settings, service=service)
    if "behind_proxy" in keys:
        proxy = r.boolean(keys["behind_proxy"], "`console: behind_proxy`")
        settings = replace(settings, behind_proxy=bool(proxy))
    return settings
