"""Field paths: the one way a field is named, wherever the bot names one (validation errors,
conflicts, check-run annotations, the HNP API's 422 answers).

Syntax
    Mapping keys are joined with '.': `spec.subnets.default.vlan`. A key that is not made of
    letters, digits, '_', '-', '/' only is written JSON-quoted in brackets:
    `metadata.annotations["type.hhfab.githedgehog.com"]`. A list item is selected by its
    position, `spec.groups[0]`, or, in a list of mappings with distinct names, by its `name`:
    `spec.links[name=a].port` (the name JSON-quoted when it is not simple). The whole value
    is the empty path ''.

`format_path` writes a path of segments (str: a key, int: a position, `Named`: a named item)
and `parse_path` reads it back; `parse_path(format_path(p)) == p` for every path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Named:
    """A path segment selecting the item of a named list whose `name` is `name`."""

    name: str


Segment = str | int | Named
Path = tuple[Segment, ...]

_SURROGATE = re.compile("[\ud800-\udfff]")
_SIMPLE = re.compile(r"[A-Za-z0-9_/-]+")
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_TOKEN = re.compile(
    rf"(?P<dot>\.?)(?P<key>{_SIMPLE.pattern})"
    rf"|\[name=(?P<named>{_QUOTED}|{_SIMPLE.pattern})\]"
    r"|\[(?P<index>0|[1-9][0-9]*)\]"
    rf"|\[(?P<quoted>{_QUOTED})\]"
)


def _quoted(text: str) -> str:
    """JSON-quoted; lone surrogates escaped too, so that the path can be encoded as UTF-8."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False))


def format_path(path: Iterable[Segment]) -> str:
    """('spec', 'links', Named('a'), 'port') -> 'spec.links[name=a].port'."""
    out = ""
    for segment in path:
        if isinstance(segment, Named):
            name = segment.name if _SIMPLE.fullmatch(segment.name) else _quoted(segment.name)
            out += f"[name={name}]"
        elif isinstance(segment, int) and not isinstance(segment, bool):
            out += f"[{segment}]"
        else:  # a key; YAML also allows keys that load as booleans or numbers
            key = str(segment)
            out += (f".{key}" if out else key) if _SIMPLE.fullmatch(key) else f"[{_quoted(key)}]"
    return out


def parse_path(text: str) -> Path:
    """The inverse of `format_path`. Raises ValueError for text it would not write."""
    path: list[Segment] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"not a field path: {text!r}")
        key, named, index = match.group("key"), match.group("named"), match.group("index")
        if key is not None:
            if bool(match.group("dot")) != (position > 0):  # '.' between keys, never first
                raise ValueError(f"not a field path: {text!r}")
            path.append(key)
        elif named is not None:
            path.append(Named(json.loads(named) if named.startswith('"') else named))
        elif index is not None:
            path.append(int(index))
        else:
            path.append(json.loads(match.group("quoted")))
        position = match.end()
    return tuple(path)
