"""Read one YAML file of a fabric repository into documents, safely and with line numbers.

Pure: bytes in, dataclasses out. Only YAML *safe* loading is used (libyaml's C parser with a
composer and our own node-to-value builder; no Python object tags are ever constructed).

How a file is read
- The bytes must be UTF-8 (a UTF-8 byte-order mark is accepted and dropped).
- The text is cut into documents at every line that starts with the `---` marker. YAML itself
  treats such a line as a document start wherever it appears (inside block scalars too, which
  must be indented, and a quoted scalar may not contain one), so the cut agrees with libyaml,
  and a broken document cannot hide or break its neighbours: each is parsed on its own.
  Comments, directives and blank lines before the first marker belong to the first document.
- Each document is composed by libyaml into a node tree, then built into plain JSON-like values
  (dict, list, str, int, float, bool, None) by `_Builder`, which also enforces the limits below.
- Empty documents (nothing but comments, or `null`) are skipped silently: a trailing `---` is
  common. `index` counts the documents that are kept, including those with errors.

Limits on hostile input (each becomes an error on the file or on one document, never a crash):
- a file over MAX_FILE_BYTES (5 MiB) is refused whole (`ParsedFile.error`);
- bytes that are not UTF-8: file error naming the byte offset and line;
- a document over MAX_DOCUMENT_BYTES (1 MiB) is refused;
- nesting deeper than MAX_DEPTH (64) collections is refused. libyaml's composer recurses in C,
  so a cheap textual upper bound on the depth is computed first and, when it is above the limit,
  the exact depth is measured on the event stream (which does not recurse) before composing;
- anchors and aliases are allowed (they are valid YAML), but expanding the aliases may add at
  most MAX_ALIAS_EXPANSION (10,000) nodes to a document (counting aliased collections; a
  scalar alias adds one value and cannot grow), and an alias inside its own anchor
  (a recursive structure) is refused. This stops "billion laughs" bombs before anything
  downstream (JSON encoding, schema validation) expands them;
- duplicate keys in one mapping (PyYAML would silently keep the last) are refused, naming the
  key and the line of both occurrences; `<<` merge keys are honoured as YAML 1.1 defines them;
- keys must be scalars (JSON objects have string keys; `1: x` gets the key "1");
- values JSON cannot carry (`.inf`, `.nan`, `!!binary`, custom `!tags`) are refused; YAML
  timestamps are kept as the strings written, as Kubernetes' YAML-to-JSON conversion does;
- a top-level list or scalar is refused ("expected a mapping");
- scanner and parser errors (a tab used as indentation, an unclosed quote, ...) carry the line.

Line numbers are 1-based and count "\\n" like GitHub does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
import yaml.reader
from yaml import nodes as ynodes
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from bot.core.fieldpath import Named, Segment, parse_path
from bot.core.kinds import DEFAULT_NAMESPACE

try:  # libyaml's C parser; PyYAML without it would be 10x slower but still correct
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - the project's dependencies include libyaml
    from yaml.composer import Composer as _PyComposer
    from yaml.parser import Parser as _PyParser
    from yaml.reader import Reader as _Reader
    from yaml.scanner import Scanner as _Scanner

    # The pure-Python stand-in for CParser, defined only when the import above failed.
    class _Parser(_Reader, _Scanner, _PyParser, _PyComposer):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            _Reader.__init__(self, stream)
            _Scanner.__init__(self)
            _PyParser.__init__(self)
            _PyComposer.__init__(self)


MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_DOCUMENT_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_ALIAS_EXPANSION = 10_000


_TAG = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL = _TAG + "str", _TAG + "null", _TAG + "bool"
_INT, _FLOAT, _TIMESTAMP = _TAG + "int", _TAG + "float", _TAG + "timestamp"
_MAP, _SEQ, _MERGE = _TAG + "map", _TAG + "seq", _TAG + "merge"
# Scalars PyYAML resolves to these tags but cannot construct; they are plain strings to us.
_AS_STRING = {_STR, _TIMESTAMP, _TAG + "value", _TAG + "yaml"}

# A line that starts a document: `---` at column 0 followed by a blank or the end of the line.
_MARKER = re.compile(r"^---(?=[ \t\r\n]|\Z)", re.MULTILINE)
# What may stand before the first marker without being a document of its own.
_PREAMBLE = re.compile(r"(?:[ \t]*(?:#[^\n]*)?\n|%[^\n]*\n)*[ \t]*(?:#[^\n]*)?\Z")
# The leading run of indentation and block indicators of each line, for the depth bound.
_LEADING = re.compile(r"^[ ?:-]+", re.MULTILINE)


_RESOLVED: dict[tuple[str, bool], str] = {}
_RESOLVED_MAX = 50_000


class _Composer(_Parser, Resolver):
    """libyaml parser + composer with the standard YAML 1.1 tag resolver; no constructor."""

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        Resolver.__init__(self)

    def resolve(self, kind: type[ynodes.Node], value: str, implicit: tuple[bool, bool]) -> str:
        # The same plain scalars recur thousands of times in a wiring file; the tag of a
        # scalar depends only on its text and on whether it was plain.
        if kind is ynodes.ScalarNode and implicit[0] and len(value) < 64:
            key = (value, True)
            tag = _RESOLVED.get(key)
            if tag is None:
                tag = str(Resolver.resolve(self, kind, value, implicit))
                if len(_RESOLVED) < _RESOLVED_MAX:
                    _RESOLVED[key] = tag
            return tag
        return str(Resolver.resolve(self, kind, value, implicit))


@dataclass
class Document:
    """One YAML document of a file.

    `body` is the document as plain data, or None when the document failed (then `error`,
    `error_line` say why and where). Identity fields are filled whenever the body is a mapping
    (also for documents that will fail validation). Offsets are character offsets into the
    file's decoded text: `text` is `file_text[start:end]`, from the document's `---` line (or
    the file's start) up to the next document's `---` line (or the end of the file).
    """

    index: int  # 0-based among the file's non-empty documents
    line: int  # 1-based line of the document's content (e.g. its `apiVersion:`), else its start
    start: int
    end: int
    start_line: int  # 1-based line of `start`
    text: str = field(repr=False)
    body: dict[str, Any] | None = None
    error: str | None = None
    error_line: int | None = None
    api_version: str | None = None
    kind: str | None = None
    namespace: str = DEFAULT_NAMESPACE
    name: str | None = None
    name_line: int | None = None  # 1-based line of `metadata.name`'s value

    @property
    def ok(self) -> bool:
        return self.error is None and self.body is not None


@dataclass
class ParsedFile:
    path: str
    documents: list[Document]
    error: str | None = None  # the whole file was refused (too large, not UTF-8)
    error_line: int | None = None
    text: str = field(default="", repr=False)


class DocumentError(Exception):
    def __init__(self, message: str, line0: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line0 = line0  # 0-based line within the document's text, if known


def identity(doc: Document) -> tuple[str, str, str] | None:
    """(kind, namespace, name) of a document, the key a resource is known by; None if the
    document has no usable kind or name."""
    if not doc.kind or not doc.name:
        return None
    return (doc.kind, doc.namespace, doc.name)


def parse_file(path: str, data: bytes) -> ParsedFile:
    """Parse one file's bytes into its documents. Never raises for bad input."""
    if len(data) > MAX_FILE_BYTES:
        return ParsedFile(
            path,
            [],
            f"file is {len(data):,} bytes, over the limit of {MAX_FILE_BYTES:,} bytes (5 MiB)",
            None,
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return ParsedFile(
            path,
            [],
            f"file is not valid UTF-8: byte 0x{data[exc.start]:02x} at byte offset {exc.start} "
            f"(line {line}) {exc.reason}",
            line,
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    return ParsedFile(path, list(parse_text(text)), text=text)


def parse_text(text: str) -> list[Document]:
    """Parse decoded text into documents (see the module docstring)."""
    documents: list[Document] = []
    for start, end, start_line0 in _split(text):
        chunk = text[start:end]
        for body, error, line0, error_line0, name_line0 in _parse_chunk(chunk):
            doc = Document(
                index=len(documents),
                line=start_line0 + (line0 if line0 is not None else 0) + 1,
                start=start,
                end=end,
                start_line=start_line0 + 1,
                text=chunk,
                body=body,
                error=error,
                error_line=None if error is None else start_line0 + (error_line0 or 0) + 1,
            )
            if body is not None:
                _fill_identity(doc, body)
                if doc.name and name_line0 is not None:
                    doc.name_line = start_line0 + name_line0 + 1
            documents.append(doc)
    return documents


def _split(text: str) -> list[tuple[int, int, int]]:
    """(start, end, 0-based start line) of each document's text."""
    starts = [m.start() for m in _MARKER.finditer(text)]
    if not starts or starts[0] != 0:
        if starts and _PREAMBLE.match(text, 0, starts[0]):
            starts[0] = 0  # comments / directives before the first marker join that document
        else:
            starts.insert(0, 0)
    spans = []
    line = 0
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        spans.append((start, end, line))
        line += text.count("\n", start, end)
    return spans


def _parse_chunk(chunk: str) -> Iterator[tuple[Any, str | None, int | None, int | None, int | None]]:
    """Yield (body, error, content line0, error line0, metadata.name line0) for each non-empty
    document in a chunk (lines 0-based within the chunk)."""
    if len(chunk) * 4 > MAX_DOCUMENT_BYTES:  # a UTF-8 character is at most 4 bytes
        size = len(chunk.encode("utf-8"))
        if size > MAX_DOCUMENT_BYTES:
            yield (
                None,
                f"document is {size:,} bytes, over the limit of {MAX_DOCUMENT_BYTES:,} bytes (1 MiB)",
                None,
                0,
                None,
            )
            return
    try:
        if _depth_bound(chunk) > MAX_DEPTH:
            _check_depth_exactly(chunk)
        roots = _compose(chunk)
    except DocumentError as exc:
        yield None, exc.message, None, exc.line0, None
        return
    except yaml.MarkedYAMLError as exc:
        yield None, _yaml_message(exc, chunk), None, _yaml_line0(exc), None
        return
    except yaml.reader.ReaderError as exc:
        where = chunk.count("\n", 0, max(exc.position, 0)) if isinstance(exc.position, int) else 0
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        yield None, f"invalid YAML: character {char} is not allowed ({exc.reason})", None, where, None
        return
    except yaml.YAMLError as exc:
        yield None, f"invalid YAML: {exc}", None, 0, None
        return
    except Exception as exc:
        yield None, f"unreadable YAML ({type(exc).__name__}: {exc})", None, 0, None
        return
    for root in roots:
        if _is_empty(root):
            continue
        line0 = root.start_mark.line
        if not isinstance(root, ynodes.MappingNode):
            what = "a list" if isinstance(root, ynodes.SequenceNode) else "a scalar"
            yield None, f"document is {what}, expected a mapping (a Kubernetes object)", line0, line0, None
            continue
        try:
            body = _Builder().build(root)
        except DocumentError as exc:
            yield None, exc.message, line0, exc.line0, None
            continue
        except (ValueError, OverflowError, TypeError) as exc:
            yield None, f"invalid value: {exc}", line0, line0, None
            continue
        yield body, None, line0, None, _walk_line(root, ("metadata", "name"), exact=True)


def _compose(chunk: str) -> list[ynodes.Node]:
    composer = _Composer(chunk)
    roots: list[ynodes.Node] = []
    try:
        while composer.check_node():
            node = composer.get_node()
            if node is not None:  # check_node() promised one
                roots.append(node)
    finally:
        composer.dispose()
    return roots


def _is_empty(node: ynodes.Node) -> bool:
    return isinstance(node, ynodes.ScalarNode) and node.tag == _NULL


def _depth_bound(chunk: str) -> int:
    """An upper bound on the nesting depth of a document, from its text alone.

    Two nesting levels of block collections need at least one more column of indentation (a
    mapping's value may be a sequence at the same indentation), and a collection starts at
    most at the end of its line's run of spaces and `- `, `? `, `: ` indicators; flow
    collections nest by brackets, each counted once wherever it appears (overestimates only).
    """
    runs = _LEADING.findall(chunk)
    widest = max(map(len, runs), default=0)
    return 2 * (widest + 1) + 1 + chunk.count("[") + chunk.count("{")


def _check_depth_exactly(chunk: str) -> None:
    depth = 0
    try:
        # The stubs accept only PyYAML's own loader classes; yaml.parse needs just a parser.
        for event in yaml.parse(chunk, Loader=_Composer):  # type: ignore[arg-type]
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    line0 = event.start_mark.line if event.start_mark is not None else 0
                    raise DocumentError(f"document nests deeper than {MAX_DEPTH} levels", line0)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        # Some libyaml builds refuse deep flow nesting themselves, while scanning ahead and before
        # an event reaches this loop. Whichever layer refuses first, deep nesting is reported as such.
        mark = exc.problem_mark
        if mark is not None and _open_flow_brackets(chunk, mark.index) > MAX_DEPTH:
            raise DocumentError(f"document nests deeper than {MAX_DEPTH} levels", mark.line) from None
        raise


def _open_flow_brackets(chunk: str, end: int) -> int:
    """Flow collections still open at `end` (brackets inside quotes count too: an overestimate,
    used only to tell a depth refusal from another syntax error at the same place)."""
    head = chunk[:end]
    return head.count("[") + head.count("{") - head.count("]") - head.count("}")


def _yaml_message(exc: yaml.MarkedYAMLError, chunk: str) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    message = "; ".join(parts) or "invalid YAML"
    mark = exc.problem_mark or exc.context_mark
    if mark is not None:
        message += f" (column {mark.column + 1})"
        lines = chunk.split("\n", mark.line + 1)
        if mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]:
            message += "; a tab character: YAML indentation must use spaces"
    return "invalid YAML: " + message


def _yaml_line0(exc: yaml.MarkedYAMLError) -> int:
    mark = exc.problem_mark or exc.context_mark
    return mark.line if mark is not None else 0


class _Builder:
    """Turns a composed node tree into plain values, enforcing the document limits."""

    def __init__(self) -> None:
        self.done: dict[int, tuple[Any, int, int]] = {}  # id(node) -> (value, size, height)
        self.active: set[int] = set()
        self.expansion = 0

    def build(self, root: ynodes.Node) -> Any:
        value, _size, _height = self.node(root, 1)
        return value

    def node(self, node: ynodes.Node, depth: int) -> tuple[Any, int, int]:
        key = id(node)
        seen = self.done.get(key)
        if seen is not None:  # an alias: the same node met again
            value, size, height = seen
            self.expansion += size
            if self.expansion > MAX_ALIAS_EXPANSION:
                raise DocumentError(
                    f"aliases expand to more than {MAX_ALIAS_EXPANSION:,} extra nodes (an alias expansion bomb?)",
                    node.start_mark.line,
                )
            if depth + height - 1 > MAX_DEPTH:
                raise DocumentError(f"document nests deeper than {MAX_DEPTH} levels", node.start_mark.line)
            return seen
        if isinstance(node, ynodes.ScalarNode):  # a merge value; parents build scalars inline
            result = (self.scalar(node), 1, 0)
        else:
            if depth > MAX_DEPTH:
                raise DocumentError(f"document nests deeper than {MAX_DEPTH} levels", node.start_mark.line)
            if key in self.active:
                raise DocumentError("recursive alias (an anchor used inside itself)", node.start_mark.line)
            self.active.add(key)
            if isinstance(node, ynodes.MappingNode):
                result = self.mapping(node, depth)
            elif isinstance(node, ynodes.SequenceNode):
                result = self.sequence(node, depth)
            else:
                raise DocumentError(f"unsupported node {type(node).__name__}", node.start_mark.line)
            self.active.discard(key)
        self.done[key] = result
        return result

    def sequence(self, node: ynodes.SequenceNode, depth: int) -> tuple[Any, int, int]:
        if node.tag != _SEQ:
            raise DocumentError(f"unsupported tag {node.tag}", node.start_mark.line)
        items = []
        size, height = 1, 0
        scalar_type = ynodes.ScalarNode
        for child in node.value:
            if type(child) is scalar_type:
                items.append(child.value if child.tag == _STR else self.scalar(child))
                size += 1
                continue
            value, s, h = self.node(child, depth + 1)
            items.append(value)
            size += s
            if h > height:
                height = h
        return items, size, height + 1

    def mapping(self, node: ynodes.MappingNode, depth: int) -> tuple[Any, int, int]:
        if node.tag != _MAP:
            raise DocumentError(f"unsupported tag {node.tag}", node.start_mark.line)
        result: dict[str, Any] = {}
        lines: dict[str, int] = {}
        merged: dict[str, Any] | None = None
        size, height = 1, 0
        scalar_type = ynodes.ScalarNode
        for key_node, value_node in node.value:
            if type(key_node) is scalar_type and key_node.tag == _STR:
                key = key_node.value
            elif type(key_node) is scalar_type and key_node.tag == _MERGE:
                value, s, h = self.node(value_node, depth + 1)
                size += s
                height = max(height, h)
                sources = value if isinstance(value_node, ynodes.SequenceNode) else [value]
                for source in sources:
                    if not isinstance(source, dict):
                        raise DocumentError(
                            "a merge key (<<) needs a mapping or a list of mappings",
                            value_node.start_mark.line,
                        )
                    merged = merged if merged is not None else {}
                    for k, v in source.items():
                        merged.setdefault(k, v)
                continue
            else:
                key = self.key(key_node)
            if key in lines:
                raise DocumentError(
                    f"duplicate key {key!r} (line {lines[key] + 1} and line {key_node.start_mark.line + 1})",
                    key_node.start_mark.line,
                )
            lines[key] = key_node.start_mark.line
            if type(value_node) is scalar_type:
                result[key] = value_node.value if value_node.tag == _STR else self.scalar(value_node)
                size += 2
                continue
            value, s, h = self.node(value_node, depth + 1)
            result[key] = value
            size += s + 1
            if h > height:
                height = h
        if merged:
            for k, v in merged.items():
                result.setdefault(k, v)
        return result, size, height + 1

    def key(self, node: ynodes.Node) -> str:
        if not isinstance(node, ynodes.ScalarNode):
            raise DocumentError("mapping keys must be scalars", node.start_mark.line)
        tag = node.tag
        if tag == _BOOL:
            return "true" if node.value.lower() in ("yes", "true", "on") else "false"
        if tag == _NULL:
            return "null"
        if tag in (_INT, _FLOAT):
            return str(self.scalar(node))
        if tag in _AS_STRING:
            text: str = node.value
            return text
        raise DocumentError(f"unsupported tag {tag} on key {node.value!r}", node.start_mark.line)

    def scalar(self, node: ynodes.ScalarNode) -> Any:
        tag = node.tag
        if tag in _AS_STRING:
            return node.value
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return node.value.lower() in ("yes", "true", "on")
        if tag == _INT:
            return _CONSTRUCTOR.construct_yaml_int(node)
        if tag == _FLOAT:
            value = _CONSTRUCTOR.construct_yaml_float(node)
            if value != value or value in (float("inf"), float("-inf")):
                raise DocumentError(f"value {node.value!r} cannot be represented in JSON", node.start_mark.line)
            return value
        raise DocumentError(f"unsupported tag {tag} on value {node.value!r}", node.start_mark.line)


_CONSTRUCTOR = SafeConstructor()


def _fill_identity(doc: Document, body: dict[str, Any]) -> None:
    api_version = body.get("apiVersion")
    kind = body.get("kind")
    doc.api_version = api_version if isinstance(api_version, str) else None
    doc.kind = kind if isinstance(kind, str) else None
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        namespace = metadata.get("namespace")
        if isinstance(namespace, str) and namespace:
            doc.namespace = namespace
        name = metadata.get("name")
        if isinstance(name, str):
            doc.name = name


# ---------------------------------------------------------------------------------------------
# The line of a field


def field_line(source: Document | str, path: str | Sequence[Segment]) -> int | None:
    """1-based line of the value at `path` (a field path, `bot.core.fieldpath`) in a document,
    or of the deepest part of the path that exists (so a missing field points at its parent);
    None if the text cannot be read or the path is not a field path.

    `source` is a Document (lines are those of its file) or the text of one YAML document.
    The text is composed again on demand: cheap for one document, and only needed for errors.
    """
    if isinstance(source, Document):
        text, offset = source.text, source.start_line - 1
    else:
        text, offset = source, 0
    try:
        parts = parse_path(path) if isinstance(path, str) else path
        if _depth_bound(text) > MAX_DEPTH:
            _check_depth_exactly(text)
        roots = [r for r in _compose(text) if not _is_empty(r)]
    except Exception:
        return None
    if not roots:
        return None
    line0 = _walk_line(roots[0], parts)
    return None if line0 is None else offset + line0 + 1


def _entry(node: ynodes.MappingNode, key: str) -> tuple[ynodes.Node, ynodes.Node] | None:
    """The (key, value) nodes of `key` in a mapping node (the last, should the key repeat)."""
    found = None
    for key_node, value_node in node.value:
        if isinstance(key_node, ynodes.ScalarNode) and key_node.value == key:
            found = (key_node, value_node)
    return found


def _scalar_value(node: ynodes.Node, key: str) -> str | None:
    """The text of the scalar at `key` of a mapping node (an item's `name`), else None."""
    found = _entry(node, key) if isinstance(node, ynodes.MappingNode) else None
    return found[1].value if found is not None and isinstance(found[1], ynodes.ScalarNode) else None


def _walk_line(root: ynodes.Node, parts: Sequence[Segment], exact: bool = False) -> int | None:
    """0-based line of the node at `parts` below `root`; with exact=False the line of the
    deepest existing part when the path does not exist, with exact=True None then."""
    node = root
    line = node.start_mark.line
    for part in parts:
        if isinstance(node, ynodes.MappingNode):
            found = _entry(node, str(part))
            if found is None:
                return None if exact else line
            line = found[0].start_mark.line
            node = found[1]
            if isinstance(node, ynodes.ScalarNode):
                line = node.start_mark.line
        elif isinstance(node, ynodes.SequenceNode) and isinstance(part, Named):
            item = next((i for i in node.value if _scalar_value(i, "name") == part.name), None)
            if item is None:
                return None if exact else line
            node = item
            line = node.start_mark.line
        elif isinstance(node, ynodes.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return None if exact else line
            node = node.value[part]
            line = node.start_mark.line
        else:
            return None if exact else line
    return line
