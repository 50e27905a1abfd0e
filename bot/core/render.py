"""Deterministic YAML output, and editing fabric files the way a person would.

Rendering (`render_resource`, `dump_yaml`)
    apiVersion, kind, metadata (name, namespace unless it is 'default', labels, annotations),
    spec -- in that order; inside spec the key order given is kept (specs from the database
    keep insertion order, and republishing compares parsed values, not text). Block style;
    only empty collections are written `{}` / `[]`. Strings that would read back as another
    type are quoted (PyYAML's safe representer), multi-line strings use `|` (double quotes
    when they end in blank lines), lines are never folded, unicode is written as is except
    what a reader could take for a line break or nothing (controls, NEL, U+2028/U+2029, the
    BOM): such strings are double-quoted with escapes, so every string reads back exactly. A
    lone surrogate cannot be written (ValueError). No timestamps or sync bookkeeping are ever added.
    Sequences are indented under their key (`key:\\n  - a`) unless the file being edited
    writes them at the key's column (`key:\\n- a`), which is then followed.

Editing (`apply_edits`)
    Documents are numbered among the file's non-empty documents (a document of only comments,
    or a bare null, has no number), as `documents.py` numbers them: that is a resource's
    `document_index`. Edits name documents by their index in the *original* text; all of
    them are applied at once. A CRLF file gets CRLF line ends in what is written into it.

    * replace: the new body is the old one with `spec` (and labels / annotations when the
      edit gives them) replaced; apiVersion, kind, name and any other metadata stay. When it
      equals the parsed old body nothing changes (byte-identical). Otherwise the document is
      patched in place: changed scalars are rewritten where they stand, removed keys lose
      their lines, new keys are added after the last key of their mapping, and anything else
      that changed (lists, a mapping that became a scalar, ...) is re-rendered as one
      `key: value` entry at its position. Comments outside the rewritten entries stay. If the
      patch would not read back as the new body, the document's content is re-rendered whole.
    * delete: the document's content lines go (from its first to its last content line, with
      the blank lines right after it) and so does exactly one separator: the `---` of the
      *next* document (its own `---` stays and now introduces the next one), so that
      comments standing between the two documents -- section headers such as
      `### Connections`, commented-out documents -- stay where they are and keep introducing
      the documents after them; a comment between a deleted document's `---` and its first
      line stays too, now above the next document. The last document takes its own `---`.
      Comments are never deleted unless they are inside the deleted content. A file with no
      document left is deleted (`None`), comments and all.
    * append: the rendered document goes at the end after a `---` line (no separator when the
      file had no document; an empty last document left by a trailing `---` is filled).

Everything else in the file -- other documents, comments, blank lines, separators, order --
is byte-identical.
"""

from __future__ import annotations

import bisect
import copy
import re
from dataclasses import dataclass
from typing import Any

import yaml

from bot.core.kinds import DEFAULT_NAMESPACE, lookup

_STR_TAG = "tag:yaml.org,2002:str"


# The base is chosen at run time (libyaml's loader when PyYAML has it), so mypy sees Any.
class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loading with the value rules of `documents.py`: timestamps stay the strings
    written (as Kubernetes reads them); keys are made strings by `_string_keys`."""


Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return key if isinstance(key, str) else str(key)


def _string_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_key_text(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_keys(v) for v in value]
    return value


def load_documents(text: str) -> list[Any]:
    """The bodies of a YAML text's non-empty documents (the indices `apply_edits` uses)."""
    return [b for b in _string_keys(list(yaml.load_all(text, Loader=Loader))) if b is not None]


# --------------------------------------------------------------------------------------------
# Values


def strict_equal(a: Any, b: Any) -> bool:
    """== that also tells True from 1 and 1 from 1.0 (YAML and JSON do)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (dict, list, tuple)) or isinstance(b, (dict, list, tuple)):
        return False
    return type(a) is type(b) and a == b


# --------------------------------------------------------------------------------------------
# Rendering


class _Dumper(yaml.SafeDumper):
    indent_sequences = True
    literal_blocks = True  # multi-line text as `|` blocks (else double-quoted, on one line)

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False if self.indent_sequences else indentless)


class _IndentlessDumper(_Dumper):
    indent_sequences = False


# Characters a reader takes for a line break, a byte-order mark or nothing at all unless they
# are escaped: C0 (but the newline) and C1 controls with NEL, DEL, U+2028/U+2029, the BOM, lone
# surrogates, U+FFFE/U+FFFF. PyYAML writes NEL and U+2028/U+2029 raw in plain and single-quoted
# scalars, where they fold into a space (or mean something else to a YAML 1.2 reader).
_NEEDS_ESCAPE = re.compile("[^\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029\ufeff]")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def unwritable_character(text: str) -> str | None:
    """Why `text` cannot be written into a YAML file, or None. A lone surrogate (which JSON's
    `\\ud800` escapes can make) is no character: UTF-8 cannot encode it and YAML readers
    refuse its escape."""
    found = _LONE_SURROGATE.search(text)
    if found is None:
        return None
    return f"holds a lone surrogate (U+{ord(found.group()):04X}), which is not a character"


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    reason = unwritable_character(value)
    if reason is not None:
        raise ValueError(f"a string that {reason} cannot be written")
    if (
        "\n" in value
        and getattr(dumper, "literal_blocks", True)
        and not _NEEDS_ESCAPE.search(value)
        and not value.endswith("\n\n")
        and value != "\n"
    ):
        # `|` for multi-line text (PyYAML falls back to `"` where a line has trailing spaces),
        # but not where it would need keep chomping (`|+`, which ends the document with `...`
        # and whose trailing blank lines an edit could not tell from those after the value).
        return dumper.represent_scalar(_STR_TAG, value, style="|")
    if "\n" in value or _NEEDS_ESCAPE.search(value):
        return dumper.represent_scalar(_STR_TAG, value, style='"')
    return dumper.represent_str(value)


for _cls in (_Dumper, _IndentlessDumper):
    _cls.add_representer(str, _represent_str)
    _cls.add_representer(tuple, yaml.SafeDumper.represent_list)


_ONE_LINE_TEXT = {
    cls: type(cls.__name__ + "OneLineText", (cls,), {"literal_blocks": False}) for cls in (_Dumper, _IndentlessDumper)
}


def dump_yaml(data: Any, *, indent_sequences: bool = True, literal_blocks: bool = True) -> str:
    """One YAML document for `data` in this project's style (see the module docstring).
    `literal_blocks=False` writes multi-line text double-quoted on one line, for a place where
    a `|` block could not end with its line break (the end of a file without a final newline,
    a comment after the value)."""
    dumper = _Dumper if indent_sequences else _IndentlessDumper
    return yaml.dump(
        data,
        Dumper=dumper if literal_blocks else _ONE_LINE_TEXT[dumper],
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        width=1 << 30,
        indent=2,
    )


def resource_body(
    kind: str,
    name: str,
    namespace: str | None = DEFAULT_NAMESPACE,
    spec: Any = None,
    labels: dict[str, Any] | None = None,
    annotations: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The document body for a resource, keys in the canonical order."""
    k = lookup(kind)
    if k is None:
        raise ValueError(f"unknown kind {kind!r}")
    metadata: dict[str, Any] = {"name": name}
    if namespace and namespace != DEFAULT_NAMESPACE:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    body: dict[str, Any] = {"apiVersion": k.api_version, "kind": k.kind, "metadata": metadata}
    if spec is not None:
        body["spec"] = spec
    return body


def render_resource(
    kind: str,
    name: str,
    namespace: str | None = DEFAULT_NAMESPACE,
    spec: Any = None,
    labels: dict[str, Any] | None = None,
    annotations: dict[str, Any] | None = None,
    *,
    indent_sequences: bool = True,
) -> str:
    """One YAML document (no `---`), ending in a newline. `spec=None` writes no spec."""
    return dump_yaml(
        resource_body(kind, name, namespace, spec, labels, annotations),
        indent_sequences=indent_sequences,
    )


# --------------------------------------------------------------------------------------------
# Edits


@dataclass(frozen=True)
class Edit:
    """One change to a file: use `Edit.replace`, `Edit.replace_body`, `Edit.delete`,
    `Edit.append`.

    For replace, `labels` / `annotations` None means "keep what the document has"; `{}`
    removes them. `body`, when set, is the complete new document and is written as given.
    """

    action: str  # "replace" | "delete" | "append"
    index: int | None = None
    spec: Any = None
    labels: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None
    body: dict[str, Any] | None = None

    @classmethod
    def replace(
        cls, index: int, spec: Any, labels: dict[str, Any] | None = None, annotations: dict[str, Any] | None = None
    ) -> Edit:
        return cls("replace", index=index, spec=spec, labels=labels, annotations=annotations)

    @classmethod
    def replace_body(cls, index: int, body: dict[str, Any]) -> Edit:
        return cls("replace", index=index, body=body)

    @classmethod
    def delete(cls, index: int) -> Edit:
        return cls("delete", index=index)

    @classmethod
    def append(
        cls,
        kind: str,
        name: str,
        spec: Any,
        namespace: str | None = DEFAULT_NAMESPACE,
        labels: dict[str, Any] | None = None,
        annotations: dict[str, Any] | None = None,
    ) -> Edit:
        return cls("append", body=resource_body(kind, name, namespace, spec, labels, annotations))

    @classmethod
    def append_body(cls, body: dict[str, Any]) -> Edit:
        return cls("append", body=body)


@dataclass
class DocumentSpan:
    """Where one document of a YAML stream stands in the file text (character offsets).

    `index` counts non-empty documents only (as `documents.py` does, so it is the resource's
    `document_index`); an empty document (only comments, or a bare null) has index None.
    `separator` is the (start, end) of its `---` line including the newline, or None for an
    implicit first document. `content` is (start, end) from its first to its last content
    character, or None for an empty document. `separator_bare` is False when the document's
    content (or a tag / anchor) starts on the `---` line itself.
    """

    index: int | None
    separator: tuple[int, int] | None
    separator_bare: bool
    content: tuple[int, int] | None
    start_line: int  # 1-based line of the document's first content line (or separator)
    end_line: int  # 1-based line of its last content line


_LINE_END = re.compile(r"[ \t]*\r?\n")


def _line_ends_at(text: str, offset: int) -> bool:
    """Whether only spaces and a line break follow `offset` on its line: a `|` block written up
    to there ends with its last line's break (and does not take in a comment after it)."""
    return _LINE_END.match(text, offset) is not None


class _Lines:
    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_of(self, index: int) -> int:
        return bisect.bisect_right(self.starts, index) - 1

    def line_start(self, index: int) -> int:
        return self.starts[self.line_of(index)]

    def line_end(self, index: int) -> int:
        """Offset just past the newline of the line holding `index` (or the text's end)."""
        line = self.line_of(index)
        return self.starts[line + 1] if line + 1 < len(self.starts) else len(self.text)


_NULLS = ("", "~", "null", "Null", "NULL")


def _start(event: yaml.Event) -> int:
    """Where a parser event starts (the parser always sets its marks)."""
    if event.start_mark is None:
        raise yaml.YAMLError(f"{type(event).__name__} without a position")
    return event.start_mark.index


def _end(event: yaml.Event) -> int:
    """Where a parser event ends (the parser always sets its marks)."""
    if event.end_mark is None:
        raise yaml.YAMLError(f"{type(event).__name__} without a position")
    return event.end_mark.index


def document_spans(text: str) -> list[DocumentSpan]:
    """The documents of a YAML text, from libyaml's events. Raises yaml.YAMLError."""
    lines = _Lines(text)
    spans: list[DocumentSpan] = []
    sep: tuple[int, int] | None = None
    sep_bare = True
    first: int | None = None
    last_end: int | None = None
    depth = 0
    flow_stack: list[bool] = []
    for event in yaml.parse(text, Loader=Loader):
        if isinstance(event, yaml.DocumentStartEvent):
            first, last_end, sep, sep_bare = None, None, None, True
            if event.explicit:
                start = _start(event)
                sep = (lines.line_start(start), lines.line_end(start))
        elif isinstance(event, yaml.DocumentEndEvent):
            if event.explicit and last_end is not None:
                last_end = max(last_end, _end(event))
            content = None
            if first is not None and last_end is not None and last_end > first:
                # Trim trailing whitespace (block scalars swallow the blank lines after them).
                end = last_end
                while end > first and text[end - 1] in " \t\r\n":
                    end -= 1
                content = (first, end)
            if sep is not None and first is not None and lines.line_of(first) == lines.line_of(sep[0]):
                sep_bare = False
            if content is not None:
                start_line = lines.line_of(content[0]) + 1
                end_line = lines.line_of(content[1] - 1) + 1
            elif sep is not None:
                start_line = end_line = lines.line_of(sep[0]) + 1
            else:
                start_line = end_line = 1
            index = None if content is None else sum(1 for x in spans if x.content is not None)
            spans.append(DocumentSpan(index, sep, sep_bare, content, start_line, end_line))
        elif isinstance(event, (yaml.StreamStartEvent, yaml.StreamEndEvent)):
            continue
        else:
            if first is None:
                first = _start(event)
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                flow_stack.append(bool(event.flow_style))
                depth += 1
                if event.flow_style:
                    last_end = max(last_end or 0, _end(event))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
                if flow_stack.pop():
                    last_end = max(last_end or 0, _end(event))
            else:  # scalar or alias
                if (
                    isinstance(event, yaml.ScalarEvent)
                    and depth == 0
                    and event.anchor is None
                    and event.tag is None
                    and event.implicit[0]
                    and event.value in _NULLS
                ):
                    first = None  # an empty document
                    continue
                last_end = max(last_end or 0, _end(event))
    return spans


def _sequence_style(nodes: list[yaml.Node]) -> bool | None:
    """True when block sequences under mapping keys are indented, False when not, None if
    the text does not say."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if (
                    isinstance(value, yaml.SequenceNode)
                    and not value.flow_style
                    and value.value
                    and value.start_mark.line > key.start_mark.line
                ):
                    return bool(value.start_mark.column > key.start_mark.column)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return None


def new_body(original: Any, edit: Edit) -> Any:
    """The body a replace edit asks for, given the document's current body."""
    if edit.body is not None:
        return edit.body
    body = copy.deepcopy(original) if isinstance(original, dict) else {}
    if edit.labels is not None or edit.annotations is not None:
        metadata = body.get("metadata")
        metadata = dict(metadata) if isinstance(metadata, dict) else {}
        for key, value in (("labels", edit.labels), ("annotations", edit.annotations)):
            if value is None:
                continue
            if value:
                metadata[key] = dict(value)
            else:
                metadata.pop(key, None)
        body["metadata"] = metadata
    if edit.spec is None:
        body.pop("spec", None)  # no spec (a Server often has none)
    elif "spec" in body or edit.spec != {}:
        body["spec"] = edit.spec
    return body


# --- in-place patching ----------------------------------------------------------------------


class _CannotPatch(Exception):
    pass


_SCALAR_TYPES = (str, int, float, bool, type(None))


_BLOCK_HEADER = re.compile(r"[|>]([1-9+-]*)")
_TRAILING_LINES = re.compile(r"(?:\r?\n[ \t]*)+\Z")


def _node_end(text: str, node: yaml.Node) -> int:
    """Offset just after the last character of a node's own text. A block scalar's end mark
    lies past its line break and the blank lines after it, which belong to what follows (a
    keep-chomped `|+` owns its blank lines, but its last line break is still the line's)."""
    if isinstance(node, yaml.ScalarNode):
        end = node.end_mark.index
        if node.style not in ("|", ">"):
            return end
        start = node.start_mark.index
        header = _BLOCK_HEADER.match(text, start)
        if header is not None and "+" in header.group(1):
            for line_break in ("\r\n", "\n"):
                if text.endswith(line_break, start, end):
                    return end - len(line_break)
            return end
        tail = _TRAILING_LINES.search(text, start, end)
        return end if tail is None else tail.start()
    if getattr(node, "flow_style", False):
        return node.end_mark.index
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            children += [k, v]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    if not children:
        return node.end_mark.index
    return max(_node_end(text, c) for c in children)


class _Patcher:
    def __init__(self, text: str, lines: _Lines, indent_sequences: bool) -> None:
        self.text = text
        self.lines = lines
        self.indent_sequences = indent_sequences
        self.edits: list[tuple[int, int, str]] = []

    def _line_after(self, end: int) -> int:
        """Just past the line break of the line a node's text ends on (`end` exclusive). A
        `|+` block's text may end in its blank lines: then the line is the one after them."""
        return self.lines.line_end(end if self.text[end - 1] == "\n" else end - 1)

    def _render_pair(self, key: str, value: Any, column: int, *, literal_blocks: bool) -> str:
        """`key: value` written at `column`; `literal_blocks` as for `dump_yaml` (False where
        what follows on the line would end up inside a `|` block)."""
        rendered = dump_yaml(
            {key: value}, indent_sequences=self.indent_sequences, literal_blocks=literal_blocks
        ).rstrip("\n")
        pad = " " * column
        return "\n".join(line if i == 0 else pad + line for i, line in enumerate(rendered.split("\n")))

    def _render_scalar(self, value: Any, *, flow: bool, literal_blocks: bool) -> str | None:
        """`value` written on one line, in a flow collection (`[a, b]`) or a block mapping;
        None when it takes a `|` block."""
        if flow:
            rendered = yaml.dump(
                [value], Dumper=_Dumper, default_flow_style=True, allow_unicode=True, width=1 << 30
            ).rstrip("\n")
            if "\n" in rendered or not (rendered.startswith("[") and rendered.endswith("]")):
                return None
            return rendered[1:-1]
        rendered = dump_yaml({"k": value}, literal_blocks=literal_blocks).rstrip("\n")
        if "\n" in rendered or not rendered.startswith("k: "):
            return None
        return rendered[3:]

    def patch(self, node: yaml.Node, old: Any, new: Any, *, key: yaml.Node | None = None, flow: bool = False) -> None:
        """Record edits turning `node` (holding `old`) into `new`, or raise _CannotPatch.
        `key` is the key whose value `node` is (None for a list item or a document), `flow`
        whether `node` stands inside a flow collection."""
        if strict_equal(old, new):
            return
        if isinstance(node, yaml.ScalarNode) and isinstance(new, _SCALAR_TYPES) and not isinstance(old, (dict, list)):
            self._patch_scalar(node, new, key, flow)
            return
        if (
            isinstance(node, yaml.MappingNode)
            and node.value
            and isinstance(old, dict)
            and isinstance(new, dict)
            and new
        ):
            if node.flow_style or flow:
                if old.keys() != new.keys():
                    raise _CannotPatch  # keys added to or removed from `{...}`: re-rendered whole
                for key_node, value_node in node.value:
                    if not isinstance(key_node, yaml.ScalarNode) or key_node.value not in old:
                        raise _CannotPatch
                    self.patch(value_node, old[key_node.value], new[key_node.value], flow=True)
                return
            self._patch_mapping(node, old, new)
            return
        if (
            isinstance(node, yaml.SequenceNode)
            and isinstance(old, list)
            and isinstance(new, list)
            and len(node.value) == len(old) == len(new)
        ):
            # The same number of items: each is patched where it stands.
            for item_node, old_item, new_item in zip(node.value, old, new):
                self.patch(item_node, old_item, new_item, flow=flow or bool(node.flow_style))
            return
        raise _CannotPatch

    def _patch_scalar(self, node: yaml.ScalarNode, new: Any, key: yaml.Node | None, flow: bool) -> None:
        start, end = node.start_mark.index, _node_end(self.text, node)
        rendered = self._render_scalar(new, flow=flow, literal_blocks=_line_ends_at(self.text, end))
        if rendered is None and key is not None and key.start_mark.line == node.start_mark.line:
            # Text over several lines, as a `|` block indented under its key.
            rendered = self._render_pair("k", new, key.start_mark.column, literal_blocks=True)[3:]
        elif rendered is None:  # a list item, or a value under its key: one double-quoted line
            rendered = self._render_scalar(new, flow=flow, literal_blocks=False)
            if rendered is None:
                raise _CannotPatch
        if start == end and not (start and self.text[start - 1] in " \t"):
            rendered = " " + rendered  # an empty value (`key:`) is written after its colon
        self.edits.append((start, end, rendered))

    def _patch_mapping(self, node: yaml.MappingNode, old: dict[str, Any], new: dict[str, Any]) -> None:
        pairs = []
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR_TAG or key_node.value not in old:
                raise _CannotPatch
            pairs.append((key_node.value, key_node, value_node))
        if len(pairs) != len(old):
            raise _CannotPatch
        column = pairs[0][1].start_mark.column
        for key, key_node, value_node in pairs:
            if key not in new:
                start = self.lines.line_start(key_node.start_mark.index)
                if self.text[start : key_node.start_mark.index].strip():
                    raise _CannotPatch  # the key shares its line with a "- "
                end = self._line_after(_node_end(self.text, value_node))
                if end == len(self.text) and not self.text.endswith("\n") and start:
                    # The file's last line goes: so does the line break before it, and the file
                    # still ends without one.
                    start -= 2 if self.text.endswith("\r\n", 0, start) else 1
                self.edits.append((start, end, ""))
                continue
            try:
                sub = _Patcher(self.text, self.lines, self.indent_sequences)
                sub.patch(value_node, old[key], new[key], key=key_node)
                self.edits.extend(sub.edits)
            except _CannotPatch:
                self.edits.append(
                    (
                        key_node.start_mark.index,
                        _node_end(self.text, value_node),
                        self._render_pair(
                            key,
                            new[key],
                            key_node.start_mark.column,
                            literal_blocks=_line_ends_at(self.text, _node_end(self.text, value_node)),
                        ),
                    )
                )
        added = [k for k in new if k not in old]
        if added:
            last_key, last_key_node, last_value = pairs[-1]
            anchor = self._line_after(_node_end(self.text, last_value))
            if anchor == len(self.text) and not self.text.endswith("\n"):
                prefix, suffix = "\n", ""
            else:
                prefix, suffix = "", "\n"
            for key in added:
                if not isinstance(key, str):
                    raise _CannotPatch
            # Each new key is followed by a line break, but the last one at a file's end.
            rendered = "\n".join(
                " " * column + self._render_pair(k, new[k], column, literal_blocks=k != added[-1] or bool(suffix))
                for k in added
            )
            self.edits.append((anchor, anchor, prefix + rendered + suffix))


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    ordered = sorted(edits, key=lambda e: (e[0], e[1]))
    for (_a0, a1, _), (b0, _b1, _) in zip(ordered, ordered[1:]):
        if b0 < a1:
            raise _CannotPatch  # overlapping edits
    out = []
    position = 0
    for start, end, replacement in ordered:
        out.append(text[position:start])
        out.append(replacement)
        position = end
    out.append(text[position:])
    return "".join(out)


def _patch_document(
    text: str, lines: _Lines, node: yaml.Node, old: Any, new: Any, indent_sequences: bool
) -> list[tuple[int, int, str]] | None:
    patcher = _Patcher(text, lines, indent_sequences)
    try:
        patcher.patch(node, old, new)
        # Read back only this document: the edits stay inside its content. The blank lines
        # after it are read too (a `|` block ends with its line break, `|+` keeps them).
        start = lines.line_start(node.start_mark.index)
        end = max([_node_end(text, node)] + [e for _, e, _ in patcher.edits])
        while end < len(text) and text[end] in " \t\r\n":
            end += 1
        region = _apply(text[start:end], [(s - start, e - start, r) for s, e, r in patcher.edits])
        if not strict_equal(_string_keys(yaml.load(region, Loader=Loader)), new):
            return None
    except (_CannotPatch, yaml.YAMLError):
        return None
    return patcher.edits


def apply_edits(file_text: str | None, edits: list[Edit]) -> str | None:
    """The file after `edits` (see the module docstring), or None when it is to be deleted.

    Document indices count the file's non-empty documents (`DocumentSpan.index`, the same
    numbering as `documents.py`). `file_text` None (or empty) means there is no file yet:
    only appends make sense then. Raises ValueError for an index that is not a document or
    two edits of one document, and yaml.YAMLError when the file does not parse.
    """
    text = file_text or ""
    spans = document_spans(text) if text.strip() else []
    if spans:
        nodes = list(yaml.compose_all(text, Loader=Loader))
        bodies = _string_keys(list(yaml.load_all(text, Loader=Loader)))
    else:
        nodes, bodies = [], []
    # position in `spans` (all documents) of each non-empty document
    positions = [p for p, span in enumerate(spans) if span.index is not None]
    lines = _Lines(text)
    style = _sequence_style(nodes)
    indent_sequences = True if style is None else style

    seen: set[int] = set()
    changes: list[tuple[int, int, str]] = []
    deleted: set[int] = set()  # positions
    appends: list[Edit] = []
    for edit in edits:
        if edit.action == "append":
            if edit.body is None:
                raise ValueError("an append edit needs a body")
            appends.append(edit)
            continue
        if edit.action not in ("replace", "delete"):
            raise ValueError(f"unknown edit action {edit.action!r}")
        i = edit.index
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(positions):
            raise ValueError(f"document index {i!r} is not in the file ({len(positions)} documents)")
        if i in seen:
            raise ValueError(f"two edits of document {i}")
        seen.add(i)
        position = positions[i]
        if edit.action == "delete":
            deleted.add(position)
            continue
        old = bodies[position]
        new = new_body(old, edit)
        if strict_equal(old, new):
            continue
        changes.extend(_replace(text, lines, spans[position], nodes[position], old, new, indent_sequences))

    if len(deleted) == len(positions) and not appends:
        return None
    changes.extend(_deletions(text, lines, spans, deleted))

    if "\r\n" in text:  # a CRLF file gets CRLF in what the bot writes too
        changes = [(s, e, r.replace("\r\n", "\n").replace("\n", "\r\n")) for s, e, r in changes]
    result = _apply(text, _merge_overlaps(changes)) if changes else text
    for edit in appends:
        rendered = dump_yaml(edit.body, indent_sequences=indent_sequences)
        if "\r\n" in text:
            rendered = rendered.replace("\n", "\r\n")
        result = _append(result, rendered)
    return result


def _merge_overlaps(changes: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Drop exact duplicates (two deletions may both claim one separator line). Insertions at
    one offset keep the order they were made in (a nested mapping's new key before its
    parent's)."""
    unique = sorted(dict.fromkeys(changes), key=lambda e: (e[0], e[1]))
    out: list[tuple[int, int, str]] = []
    for change in unique:
        if out and change[0] < out[-1][1]:
            prev = out[-1]
            if change[2] == "" and prev[2] == "":
                out[-1] = (prev[0], max(prev[1], change[1]), "")
                continue
            raise ValueError("overlapping edits")
        out.append(change)
    return out


def _replace(
    text: str,
    lines: _Lines,
    span: DocumentSpan,
    node: yaml.Node,
    old: Any,
    new: Any,
    indent_sequences: bool,
) -> list[tuple[int, int, str]]:
    if span.content is not None and isinstance(old, dict):
        patched = _patch_document(text, lines, node, old, new, indent_sequences)
        if patched is not None:
            return patched
    after = span.content[1] if span.content is not None else len(text)
    rendered = dump_yaml(
        new, indent_sequences=indent_sequences, literal_blocks=_line_ends_at(text, after) or span.content is None
    ).rstrip("\n")
    if span.content is None:
        at = span.separator[1] if span.separator else len(text)
        if span.separator and not text[:at].endswith("\n"):
            rendered = "\n" + rendered
        return [(at, at, rendered + "\n")]
    start, end = span.content
    if text.endswith("...", start, end):  # an explicit document end stays, after the new body
        end = min(end, _node_end(text, node))
    if not span.separator_bare and span.separator is not None:
        # The content starts on the `---` line: keep a bare `---` and put the body under it.
        return [(span.separator[0], end, "---\n" + rendered)]
    return [(start, end, rendered)]


def _deletions(text: str, lines: _Lines, spans: list[DocumentSpan], deleted: set[int]) -> list[tuple[int, int, str]]:
    """Removals for the deleted documents: their content, and one separator per document.

    For a run of deleted documents i..j followed by a kept document k, the separators of
    i+1..j and of k go and the `---` of i stays to introduce k (comments between j and k stay
    before k). A run that reaches the end of the file takes its own separators.
    """
    out: list[tuple[int, int, str]] = []
    for i in sorted(deleted):
        span = spans[i]
        if span.content is None:
            continue
        start = lines.line_start(span.content[0])
        if span.separator is not None and not span.separator_bare:
            start = span.separator[0]
        end = lines.line_end(span.content[1] - 1)
        while end < len(text):  # ...with the blank lines right after it
            nxt = lines.line_end(end)
            if text[end:nxt].strip():
                break
            end = nxt
        out.append((start, end, ""))

    def drop_separator(span: DocumentSpan) -> None:
        if span.separator is not None and span.separator_bare:
            out.append((span.separator[0], span.separator[1], ""))

    runs: list[list[int]] = []
    for i in sorted(deleted):
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    for run in runs:
        after = run[-1] + 1
        keeper = spans[after] if after < len(spans) else None
        first = spans[run[0]]
        if (
            keeper is not None
            and keeper.separator is not None
            and keeper.separator_bare
            and (first.separator is None or first.separator_bare)
        ):
            for i in run[1:]:
                drop_separator(spans[i])
            drop_separator(keeper)
        else:
            for i in run:
                drop_separator(spans[i])
    return out


def _append(text: str, rendered: str) -> str:
    if not text.strip():
        return rendered
    newline = "\r\n" if "\r\n" in text else "\n"
    if not text.endswith("\n"):
        text += newline
    spans = document_spans(text)
    if (
        spans
        and spans[-1].content is None
        and spans[-1].separator is not None
        and not text[spans[-1].separator[1] :].strip()
    ):
        # A trailing `---` opened an empty document: fill it.
        return text + rendered
    if not any(s.content is not None for s in spans):
        return text + rendered
    return text + "---" + newline + rendered
