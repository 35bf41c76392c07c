"""Reading YAML written by people, with `file:line:column` diagnostics.

The configuration and the answer sheets are edited by mairie staff, so every
problem must point at the exact place and say how to fix it. PyYAML's node
tree keeps the position of every value; the helpers here walk that tree,
collect every problem instead of stopping at the first, and return plain
Python values for the loaders to freeze into dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import yaml
from rapidfuzz import process

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Location:
    """A position in a file, 1-based like editors show it."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a file, with a hint on how to fix it."""

    location: Location
    severity: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.location}: {self.severity}: {self.message}"
        return f"{text} (fix: {self.hint})" if self.hint else text


class ConfigError(Exception):
    """The configuration or an answer sheet has errors; carries every diagnostic."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = tuple(diagnostics)
        errors = [d for d in self.diagnostics if d.severity == ERROR]
        super().__init__("\n".join(str(d) for d in errors) or "invalid configuration")


def location_of(path: str, node: yaml.Node) -> Location:
    mark = node.start_mark
    return Location(path, mark.line + 1, mark.column + 1)


class YamlReader:
    """Walks one YAML file's node tree, collecting diagnostics as it goes."""

    def __init__(self, path: Path | str, diagnostics: list[Diagnostic]):
        self.path = str(path)
        self.diagnostics = diagnostics

    # -- reporting ---------------------------------------------------------
    def error(self, node: yaml.Node | Location, message: str, hint: str = "") -> None:
        self._report(node, ERROR, message, hint)

    def warning(self, node: yaml.Node | Location, message: str, hint: str = "") -> None:
        self._report(node, WARNING, message, hint)

    def _report(self, where, severity: str, message: str, hint: str) -> None:
        location = where if isinstance(where, Location) else location_of(self.path, where)
        self.diagnostics.append(Diagnostic(location, severity, message, hint))

    def location(self, node: yaml.Node) -> Location:
        return location_of(self.path, node)

    # -- parsing -----------------------------------------------------------
    def parse(self) -> yaml.Node | None:
        """Parse the file into a node tree; report syntax errors and return None."""
        try:
            text = Path(self.path).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            self.error(Location(self.path, 1, 1), f"file is not valid UTF-8 ({exc.reason})",
                       "save the file as UTF-8 in your editor")
            return None
        except OSError as exc:
            self.error(Location(self.path, 1, 1), f"cannot read file: {exc.strerror}",
                       "check the path and the file's permissions")
            return None
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            # an empty file is an empty value, so callers report it like any other wrong type
            return node if node is not None else yaml.ScalarNode("tag:yaml.org,2002:null", "",
                                                                  yaml.Mark(str(self.path), 0, 0, 0, "", 0))
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            problem = exc.problem or "invalid YAML"
            self.error(Location(self.path, line, column), f"YAML syntax: {problem}",
                       _syntax_hint(problem))
            return None
        except yaml.YAMLError as exc:
            self.error(Location(self.path, 1, 1), f"YAML syntax: {exc}", "check the file's indentation")
            return None

    # -- typed access ------------------------------------------------------
    def mapping(self, node: yaml.Node, what: str, allowed: Iterable[str],
                required: Iterable[str] = ()) -> dict[str, yaml.Node] | None:
        """Return the keys of a mapping node; report wrong type, duplicates, unknown and missing keys."""
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what} must be a mapping of `key: value` lines, not {_kind(node)}",
                       "write one `key: value` per line, indented under it")
            return None
        allowed = tuple(allowed)
        keys: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                self.error(key_node, f"{what}: keys must be plain words", "remove the brackets or braces around the key")
                continue
            if key in keys:
                first = self.location(keys[key])
                self.error(key_node, f"{what}: key `{key}` appears twice (first at line {first.line})",
                           "keep only one of the two")
                continue
            if key not in allowed:
                self.error(key_node, f"{what}: unknown key `{key}`", _unknown_key_hint(key, allowed))
                continue
            keys[key] = value_node
        for key in required:
            if key not in keys:
                self.error(node, f"{what}: missing key `{key}`", f"add a `{key}:` line")
        return keys

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node] | None:
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"{what} must be a list, not {_kind(node)}",
                       "write each item on its own line starting with `- `")
            return None
        return list(node.value)

    def text(self, node: yaml.Node, what: str, allow_empty: bool = False) -> str | None:
        """A non-empty string. Numbers are refused so `id: 12` does not silently become text."""
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            self.error(node, f"{what} must be text, not {_kind(node)}",
                       "put the text in double quotes if YAML reads it as something else")
            return None
        value = " ".join(str(node.value).split())
        if not value and not allow_empty:
            self.error(node, f"{what} is empty", "write the text, or remove the line")
            return None
        return value

    def text_list(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node]] | None:
        """A list of non-empty strings; a single string is refused with a hint."""
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str":
            self.error(node, f"{what} must be a list, not a single text",
                       "write it on its own line starting with `- `")
            return None
        items = self.sequence(node, what)
        if items is None:
            return None
        values = []
        for item in items:
            value = self.text(item, f"an item of {what}")
            if value is not None:
                values.append((value, item))
        return values

    def boolean(self, node: yaml.Node, what: str) -> bool | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:bool":
            self.error(node, f"{what} must be true or false, not {_kind(node)}", "write true or false")
            return None
        return bool(yaml.SafeLoader("").construct_object(node))

    def number(self, node: yaml.Node, what: str, low: float, high: float) -> float | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (
                "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
            self.error(node, f"{what} must be a number, not {_kind(node)}", f"write a number between {low} and {high}")
            return None
        value = float(yaml.SafeLoader("").construct_object(node))  # resolves 1e3, 0x10, 1_000 like YAML does
        if not low <= value <= high:
            self.error(node, f"{what} is {value:g}, outside {low:g}..{high:g}", f"write a number between {low:g} and {high:g}")
            return None
        return value


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return {
        "tag:yaml.org,2002:null": "an empty value",
        "tag:yaml.org,2002:bool": f"the yes/no value `{node.value}`",
        "tag:yaml.org,2002:int": f"the number `{node.value}`",
        "tag:yaml.org,2002:float": f"the number `{node.value}`",
        "tag:yaml.org,2002:str": f"the text `{node.value}`",
    }.get(node.tag, f"`{node.value}`")


def did_you_mean(word: str, choices: Iterable[str], listing: str = "use one of") -> str:
    """A fix hint for a word that is not one of `choices`: the closest one, then all of them."""
    choices = tuple(choices)
    guess = process.extractOne(word, choices, score_cutoff=60)
    listed = f"{listing}: {', '.join(choices)}"
    return f"did you mean `{guess[0]}`? {listed}" if guess else listed


def _unknown_key_hint(key: str, allowed: tuple[str, ...]) -> str:
    return did_you_mean(key, allowed, "allowed keys") if allowed else "remove this key"


def _syntax_hint(problem: str) -> str:
    if "tab" in problem or "'\\t'" in problem:
        return "indent with spaces, not tabs"
    if "expected ',' or ']'" in problem or "expected ',' or '}'" in problem:
        return "inside [ ], quote texts that contain ?, : or , (or write one item per line starting with `- `)"
    if "mapping values are not allowed" in problem:
        return "a text containing `: ` must be put in double quotes"
    if "expected <block end>" in problem or "block" in problem:
        return "check that this line is indented like its neighbours"
    return "check the indentation and quotes on this line and the one before"

