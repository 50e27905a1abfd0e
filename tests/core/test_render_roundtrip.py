"""What the YAML writer commits reads back exactly, and an edit changes nothing but its value.

Property tests (hypothesis), derandomized so CI always runs the same examples:
- every string a client can send is written so that a YAML reader (PyYAML's pure and libyaml
  loaders, and the bot's own ingest) gives back exactly that string, wherever it stands: a
  value, a key, a list item, a new document, an edited document in an LF or CRLF file;
- a string that cannot be written (a lone surrogate) is refused, never written wrong;
- an edit of one value in a real sample file, or in a generated file (nulls, block scalars,
  `...` document ends, comments, flow style, CRLF, no final newline), leaves every byte
  outside the edited value as it was and parses back to the edited body.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from bot.core import documents
from bot.core.render import (
    Edit,
    Loader,
    apply_edits,
    document_spans,
    dump_yaml,
    load_documents,
    render_resource,
    strict_equal,
    unwritable_character,
)

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"

# Fixed examples for CI (derandomize), no example database written into the working tree;
# under mutation testing the profile's fewer examples (tests/core/conftest.py), as every
# mutant runs these tests again.
PROPERTY = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=settings.default.max_examples if os.environ.get("HYPOTHESIS_PROFILE") == "mutation" else 300,
    suppress_health_check=[HealthCheck.too_slow],
)

# Pieces a YAML writer gets wrong when it writes them raw or in the wrong quoting style.
AWKWARD = [
    "\x85",  # NEL: a line break to YAML 1.1, folded into a space inside quotes
    "\u2028",
    "\u2029",
    "\ufeff",
    "\x00",
    "\x07",
    "\x1b",
    "\x7f",
    "\x80",
    "\x9f",
    "\t",
    "\r",
    "\r\n",
    "\n",
    "\n\n",
    " ",
    "  ",
    "---",
    "...",
    "--- ",
    "# ",
    " #",
    "#",
    ": ",
    ":",
    "- ",
    "? ",
    "'",
    '"',
    "\\",
    "|",
    ">",
    "|-",
    "&a",
    "*a",
    "!x",
    "!!str",
    "%YAML",
    "@",
    "`",
    "{",
    "}",
    "[",
    "]",
    ",",
    "~",
    "null",
    "true",
    "no",
    "1e3",
    "0x1f",
    "0o17",
    ".inf",
    "2026-12-01",
    "12:30:00",
    "<<",
    "=",
    "\u00a0",
    "\u200b",
    "é",
    "😀",
    "\U0010ffff",
    "\ufffe",
    "\uffff",
]

# Every Unicode code point that is a character (lone surrogates are not; see below).
CHARACTERS = st.characters(exclude_categories=["Cs"])
STRINGS = st.one_of(
    st.text(CHARACTERS, max_size=40),
    st.lists(st.one_of(st.sampled_from(AWKWARD), st.text(CHARACTERS, max_size=3)), max_size=10).map("".join),
)
# Strings a client can store (PostgreSQL refuses U+0000; the API answers 422 for it).
STORABLE = STRINGS.map(lambda s: s.replace("\x00", ""))

VPC_FILE = (
    "# VPCs of the lab\n"
    "apiVersion: vpc.githedgehog.com/v1beta1\n"
    "kind: VPC\n"
    "metadata:\n"
    "  name: vpc-1\n"
    "spec:\n"
    "  subnets:\n"
    "    default:\n"
    "      subnet: 10.0.1.0/24  # the lab's\n"
    "      vlan: 1001\n"
    "---\n"
    "apiVersion: vpc.githedgehog.com/v1beta1\n"
    "kind: VPC\n"
    "metadata:\n"
    "  name: vpc-2\n"
    "spec:\n"
    "  subnets:\n"
    "    default:\n"
    "      subnet: 10.0.2.0/24\n"
    "      vlan: 1002\n"
)


def read_back(text: str) -> list[Any]:
    """The document bodies as three readers see them; they must agree."""
    pure = [b for b in yaml.safe_load_all(text) if b is not None]
    assert [b for b in yaml.load_all(text, Loader=Loader) if b is not None] == pure
    parsed = documents.parse_file("fabric/x.yaml", text.encode("utf-8"))
    assert parsed.error is None, parsed.error
    assert [d.error for d in parsed.documents] == [None] * len(parsed.documents)
    assert [d.body for d in parsed.documents] == pure
    return pure


@PROPERTY
@given(STRINGS)
def test_every_string_is_written_so_that_it_reads_back_exactly_as_a_value_and_as_a_key(value: str) -> None:
    for data in ({"k": value}, {value: "v"}, {"a": {"b": [value, {"c": value}]}}):
        text = dump_yaml(data)
        assert yaml.safe_load(text) == data, text
        assert yaml.load(text, Loader=Loader) == data, text


@PROPERTY
@given(STRINGS)
def test_characters_a_reader_would_fold_or_drop_are_written_as_escapes_never_raw(value: str) -> None:
    """NEL, U+2028/U+2029, the BOM and C0/C1 controls are line breaks or nothing to some
    reader (YAML 1.1 folds NEL into a space inside quotes); written as double-quoted escapes,
    every reader agrees. Only the plain newline of a `|` block is ever written raw."""
    text = dump_yaml({"k": value})
    raw = set(text) - {"\n"}
    assert not raw & {"\x85", "\u2028", "\u2029", "\ufeff", "\r", "\t", "\x7f"}, text
    assert all(not ("\x00" <= c < "\x20" or "\x80" <= c <= "\x9f") for c in raw), text
    assert "\n..." not in text  # no document end inside a document (`|+` keeps it open)


@PROPERTY
@given(STORABLE, st.booleans())
def test_a_string_in_a_draft_is_committed_so_that_the_bot_reads_the_same_string(value: str, crlf: bool) -> None:
    original = VPC_FILE.replace("\n", "\r\n") if crlf else VPC_FILE
    spec = {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001, "note": value}}, "value": value}
    text = apply_edits(original, [Edit.replace(0, spec, labels={"note": value}, annotations={value: value})])
    assert text is not None
    first, second = read_back(text)
    assert first["spec"] == spec
    assert first["metadata"]["labels"] == {"note": value}
    assert first["metadata"]["annotations"] == {value: value}
    assert second == yaml.safe_load(VPC_FILE.split("---\n")[1])
    assert text.endswith("vlan: 1002\r\n" if crlf else "vlan: 1002\n")


@PROPERTY
@given(STORABLE)
def test_a_changed_scalar_patched_in_place_reads_back_exactly(value: str) -> None:
    spec = {"subnets": {"default": {"subnet": value, "vlan": 1001}}}
    text = apply_edits(VPC_FILE, [Edit.replace(1, spec)])
    assert text is not None
    assert read_back(text)[1]["spec"] == spec
    assert text.startswith(VPC_FILE.split("---\n")[0] + "---\n")


@PROPERTY
@given(STORABLE)
def test_a_new_resource_with_any_string_reads_back_exactly(value: str) -> None:
    spec = {"subnets": {value: {"subnet": "10.0.3.0/24", "note": value}}}
    appended = apply_edits(VPC_FILE, [Edit.append("VPC", "vpc-3", spec, labels={"a": value})])
    assert appended is not None
    assert read_back(appended)[2]["spec"] == spec
    assert read_back(render_resource("VPC", "vpc-3", spec=spec))[0]["spec"] == spec


def test_a_nel_in_a_draft_value_is_committed_as_an_escape_not_a_raw_line_break() -> None:
    """NEL written raw inside single quotes (what PyYAML does) reads back as a space, so the
    bot's own next ingest disagreed with the draft it had just published."""
    text = apply_edits(VPC_FILE, [Edit.replace(0, {"subnets": {"default": {"subnet": "a\x85b", "vlan": 1001}}})])
    assert text is not None
    assert 'subnet: "a\\Nb"' in text
    assert read_back(text)[0]["spec"]["subnets"]["default"]["subnet"] == "a\x85b"


def test_multi_line_text_is_a_literal_block_unless_it_ends_in_blank_lines() -> None:
    assert dump_yaml({"k": "a\nb\n"}) == "k: |\n  a\n  b\n"
    assert dump_yaml({"k": "a\nb"}) == "k: |-\n  a\n  b\n"
    # `|+` would end the document with `...`; such text is one double-quoted line instead
    assert dump_yaml({"k": "a\n\n"}) == 'k: "a\\n\\n"\n'
    assert dump_yaml({"k": "\n"}) == 'k: "\\n"\n'
    assert dump_yaml({"k": "a\n\x85"}) == 'k: "a\\n\\N"\n'


@PROPERTY
@given(st.text(CHARACTERS, max_size=5), st.characters(categories=["Cs"]), st.text(CHARACTERS, max_size=5))
def test_a_lone_surrogate_cannot_be_written_and_says_so(before: str, surrogate: str, after: str) -> None:
    value = before + surrogate + after
    assert unwritable_character(value) is not None
    with pytest.raises(ValueError, match="surrogate"):
        dump_yaml({"k": value})
    with pytest.raises(ValueError, match="surrogate"):
        apply_edits(VPC_FILE, [Edit.replace(0, {"subnets": {"default": {"subnet": value}}})])


@PROPERTY
@given(STRINGS)
def test_every_character_but_a_lone_surrogate_is_writable(value: str) -> None:
    assert unwritable_character(value) is None


def test_inputs_are_not_changed_by_writing() -> None:
    spec = {"subnets": {"default": {"subnet": "a\x85b"}}}
    kept = copy.deepcopy(spec)
    apply_edits(VPC_FILE, [Edit.replace(0, spec)])
    assert spec == kept


# --------------------------------------------------------------------------------------------
# An edit changes its value and nothing else

SAMPLES = SHARED / "hedgehog" / "samples"
SAMPLE_NAMES = sorted(p.name for p in SAMPLES.glob("*.yaml")) or ["(the shared samples are absent)"]
VARIANTS = {
    "as written": lambda text: text,
    "CRLF": lambda text: text.replace("\n", "\r\n"),
    "no final newline": lambda text: text.rstrip("\n"),
    "CRLF, no final newline": lambda text: text.rstrip("\n").replace("\n", "\r\n"),
}
SAMPLE_EDITS = settings(PROPERTY, max_examples=25)

NEW_VALUES = st.one_of(
    STORABLE,
    st.sampled_from(["a\nb\n", "a\nb", " lead\nb\n", "x", "", "10.0.9.0/24", "a: b", "- x", "[x]", "{x}", "#x"]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
)


def leaves(node: yaml.Node, path: tuple = ()) -> list[tuple[tuple, yaml.ScalarNode]]:
    """(path, node) of every scalar value in a node tree (keys are not values)."""
    if isinstance(node, yaml.ScalarNode):
        return [(path, node)]
    found: list[tuple[tuple, yaml.ScalarNode]] = []
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            found += leaves(value, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += leaves(item, (*path, i))
    return found


def header(text: str, node: yaml.ScalarNode) -> str:
    """A block scalar's header (`|+`, `>-`, `|2`), its comment left out."""
    return text[node.start_mark.index :].split("\n", 1)[0].split("#", 1)[0].strip()


def value_end(text: str, node: yaml.ScalarNode) -> int:
    """Where a scalar's own text ends. A block scalar's end mark lies past its last line break
    and the blank lines after it; those are not its text (a `|+` block keeps its blank lines,
    all but the line break of its last line)."""
    start, end = node.start_mark.index, node.end_mark.index
    if node.style not in ("|", ">"):
        return end
    own = text[start:end]
    if "+" in header(text, node):
        own = own.removesuffix("\n").removesuffix("\r")
    else:
        lines = own.split("\n")
        while len(lines) > 1 and not lines[-1].strip():
            lines.pop()
        own = "\n".join(lines).removesuffix("\r")
    return start + len(own)


def set_at(body: Any, path: tuple, value: Any) -> Any:
    body = copy.deepcopy(body)
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


def content_end(text: str, node: yaml.Node) -> int:
    """Where a node's own text ends (a block collection: where its last descendant's does)."""
    if isinstance(node, yaml.ScalarNode):
        return value_end(text, node)
    if node.flow_style:
        return node.end_mark.index
    children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else node.value
    return max((content_end(text, c) for c in children), default=node.end_mark.index)


def line_after(text: str, end: int) -> int:
    """Just past the line break ending the line on which a node's text ends (`end` exclusive;
    a `|+` block's text may itself end with a line break), or the text's end."""
    found = text.find("\n", end if text[end - 1] == "\n" else end - 1)
    return len(text) if found < 0 else found + 1


def block_mappings(node: yaml.Node, path: tuple = ()) -> list[tuple[tuple, yaml.MappingNode]]:
    """(path, node) of every non-empty block mapping whose keys are all plain strings."""
    found: list[tuple[tuple, yaml.MappingNode]] = []
    if isinstance(node, yaml.MappingNode):
        if (
            not node.flow_style
            and node.value
            and all(isinstance(k, yaml.ScalarNode) and k.tag == "tag:yaml.org,2002:str" for k, _ in node.value)
        ):
            found.append((path, node))
        for key, value in node.value:
            found += block_mappings(value, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += block_mappings(item, (*path, i))
    return found


def at(body: Any, path: tuple) -> Any:
    for step in path:
        body = body[step]
    return body


def assert_an_edit_keeps_every_other_byte(text: str, data: st.DataObject) -> None:
    """One random edit of one document (a value replaced, a key removed, a key added), drawn
    by `data`: the file reads back with exactly that change, and every byte outside the
    edited text is as it was (line ends and the final newline, or its absence, included)."""
    note(f"file: {text!r}")
    bodies = load_documents(text)
    nodes = list(yaml.compose_all(text, Loader=Loader))
    positions = [p for p, s in enumerate(document_spans(text)) if s.index is not None]
    assert len(positions) == len(bodies)
    index = data.draw(st.integers(0, len(bodies) - 1), label="document")
    root = nodes[positions[index]]
    new_body = copy.deepcopy(bodies[index])
    removable = [
        (path, key, value)
        for path, mapping in block_mappings(root)
        if len(mapping.value) > 1
        for key, value in mapping.value
        if not text[text.rfind("\n", 0, key.start_mark.index) + 1 : key.start_mark.index].strip()
    ]
    operations = ["replace a value", "add a key"] + (["remove a key"] if removable else [])
    operation = data.draw(st.sampled_from(operations), label="operation")
    # Where `|` / `>` blocks' text ends, and where `|+` blocks' blank lines end. A block at the
    # end of a file without a final newline holds no newline; a key written after it would give
    # it one, or take it away by removing the key after it; blank lines left by a removed key
    # would join a `|+` block before it. Then the editor writes the document again: the cases
    # where it must, left out here.
    block_ends = {value_end(text, n) for _, n in leaves(root) if n.style in ("|", ">")}
    keep_ends = {n.end_mark.index for _, n in leaves(root) if n.style in ("|", ">") and "+" in header(text, n)}
    if operation == "replace a value":
        path, node = data.draw(st.sampled_from(leaves(root)), label="value")
        new_body = set_at(new_body, path, data.draw(NEW_VALUES, label="new value"))
        start, end = node.start_mark.index, value_end(text, node)
    elif operation == "remove a key":
        path, key, value = data.draw(st.sampled_from(removable), label="key")
        del at(new_body, path)[key.value]
        start = text.rfind("\n", 0, key.start_mark.index) + 1
        end = line_after(text, content_end(text, value))
        assume(start not in keep_ends)
        if end == len(text) and not text.endswith("\n"):
            start -= 2 if text.endswith("\r\n", 0, start) else 1  # the file's last line
            assume(start not in block_ends)
    else:
        path, mapping = data.draw(st.sampled_from(block_mappings(root)), label="mapping")
        at(new_body, path)["added-key"] = data.draw(NEW_VALUES, label="new value")
        start = end = line_after(text, content_end(text, mapping))
        assume(not (end == len(text) and end in block_ends))

    out = apply_edits(text, [Edit.replace_body(index, new_body)])
    assert out is not None
    expected = [new_body if i == index else b for i, b in enumerate(bodies)]
    assert strict_equal(load_documents(out), expected), out
    kept_after = len(text) - end
    assert out[:start] == text[:start], "a byte before the edit changed"
    assert out[len(out) - kept_after :] == text[end:], "a byte after the edit changed"
    assert len(out) - kept_after >= start
    written = out[start : len(out) - kept_after]
    if operation == "remove a key":
        assert written == ""
    if "\r\n" in text:
        assert written.count("\n") == written.count("\r\n"), written
    else:
        assert "\r" not in written, written


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_an_edit_of_a_real_sample_changes_no_byte_outside_it(name: str, variant: str) -> None:
    if not SAMPLES.is_dir():
        pytest.skip(f"reference data {SAMPLES} is absent (../shared is not checked out beside the repo)")
    text = VARIANTS[variant]((SAMPLES / name).read_text(encoding="utf-8"))

    @SAMPLE_EDITS
    @given(st.data())
    def check(data: st.DataObject) -> None:
        assert_an_edit_keeps_every_other_byte(text, data)

    check()


# Value pieces of generated documents: (text after `key:` at indentation `{i}`, spans lines).
SCALAR_VALUES = [
    " plain",
    " 42",
    " 'single'",
    ' "double\\tquoted"',
    " ~",
    " null",
    "",  # an empty value: null
    "   # a comment after an empty value",
    " x  # a comment after the value",
    " 2026-12-01",
    " |\n{i}  literal\n{i}  text",
    " |-\n{i}  stripped",
    " |+\n{i}  kept\n",
    " >\n{i}  folded\n{i}  text",
    " |2\n{i}   indented first line\n{i}  next",
    " |\n{i}  with a blank line after\n",
    " |  # a comment on the header\n{i}  text",
    ' "two\n{i}  lines"',
    " plain over\n{i}  two lines",
]
COLLECTION_VALUES = [
    " [1, two, 'three', \"four\"]",
    " {a: 1, b: x, c: ''}",
    " []",
    " {}",
    "\n{i}  - item\n{i}  - 7\n{i}  - |\n{i}    block item",
    "\n{i}- indentless\n{i}- item",
    "\n{i}  - name: a\n{i}    port: 1\n{i}  - name: b\n{i}    port: 2",
    "\n{i}  nested: value\n{i}  deeper:\n{i}    leaf: |\n{i}      end",
    " &anchor{n}\n{i}  a: 1",
]


@st.composite
def fields(draw: st.DrawFn, indent: str) -> str:
    out = []
    for n in range(draw(st.integers(1, 5))):
        if draw(st.booleans()):
            out.append(f"{indent}# a comment between keys")
        value = draw(st.sampled_from(SCALAR_VALUES + COLLECTION_VALUES))
        out.append(f"{indent}k{n}:" + value.replace("{i}", indent).replace("{n}", str(n)))
        if draw(st.integers(0, 3)) == 0:
            out.append("")  # a blank line
    return "\n".join(out)


@st.composite
def generated_documents(draw: st.DrawFn, number: int) -> str:
    head = draw(st.sampled_from(["", "# a document's comment\n"]))
    return (
        f"{head}apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: d{number}\n"
        f"spec:\n{draw(fields('  '))}"
    )


@st.composite
def generated_files(draw: st.DrawFn) -> str:
    parts = []
    for number in range(draw(st.integers(1, 3))):
        if number:
            parts.append(draw(st.sampled_from(["---", "---\n# section", "--- # a separator's comment"])))
        parts.append(draw(generated_documents(number)))
        if draw(st.integers(0, 3)) == 0:
            parts.append("...")  # an explicit document end
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(["---", "# a trailing comment", "---\n# a commented-out document"])))
    text = "\n".join(parts)
    if draw(st.booleans()):
        text += "\n"
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return text


@PROPERTY
@given(generated_files(), st.data())
def test_an_edit_of_a_generated_file_changes_no_byte_outside_it(text: str, data: st.DataObject) -> None:
    """Files with nulls, block scalars (`|`, `|-`, `|+`, `>`), `...` document ends, comments,
    flow collections, blank lines, CRLF and no final newline."""
    assert_an_edit_keeps_every_other_byte(text, data)


BLOCK_AT_THE_END = (
    "apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: v\nspec:\n  note: |\n    one\n    two\n"
)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("chomping", ["|", "|-", "|+", ">"])
@pytest.mark.parametrize("new_value", ["x", "a\nb\n", "a\nb"])
def test_a_block_scalar_replaced_at_the_end_of_a_file_keeps_the_final_newline(
    newline: str, chomping: str, new_value: str
) -> None:
    text = BLOCK_AT_THE_END.replace("note: |", f"note: {chomping}").replace("\n", newline)
    out = apply_edits(text, [Edit.replace(0, {"note": new_value})])
    assert out is not None
    assert out.endswith(newline) and not out.endswith(newline * 2), repr(out)
    assert out.startswith(text[: text.index("note: ") + len("note: ")])
    assert load_documents(out)[0]["spec"] == {"note": new_value}
    if newline == "\r\n":
        assert out.count("\n") == out.count("\r\n")


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_file_without_a_final_newline_gets_none_when_its_last_value_becomes_multi_line(newline: str) -> None:
    text = BLOCK_AT_THE_END.rstrip("\n").replace("\n", newline)
    out = apply_edits(text, [Edit.replace(0, {"note": "a\nb\n"})])
    assert out is not None
    assert out == text[: text.index("note: ") + len("note: ")] + '"a\\nb\\n"'
    assert load_documents(out)[0]["spec"] == {"note": "a\nb\n"}


def test_a_comment_after_a_value_that_becomes_multi_line_stays_a_comment() -> None:
    text = "kind: VPC\nspec:\n  note: x  # why\n  other: 1\n"
    out = apply_edits(text, [Edit.replace_body(0, {"kind": "VPC", "spec": {"note": "a\nb\n", "other": 1}})])
    assert out == 'kind: VPC\nspec:\n  note: "a\\nb\\n"  # why\n  other: 1\n'


def test_a_document_re_rendered_whole_keeps_its_explicit_end() -> None:
    # An integer key cannot be patched around: the document is written again, up to its `...`.
    text = "apiVersion: v1\nkind: VPC\n1: x\nspec:\n  a: |\n    x\n...\n---\nkind: VPC\n"
    body = load_documents(text)[0]
    body["spec"]["a"] = "y\nz\n"
    out = apply_edits(text, [Edit.replace_body(0, body)])
    assert out is not None
    assert out.endswith("  a: |\n    y\n    z\n...\n---\nkind: VPC\n")
    assert load_documents(out) == [body, {"kind": "VPC"}]


def test_two_keys_added_at_one_place_keep_their_nesting() -> None:
    """A nested mapping's new key and its parent's new key are inserted at the same offset;
    the nested one must come first, whatever order a set would give them."""
    spec = {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001, "note": "n"}}, "value": "v"}
    for _ in range(20):
        out = apply_edits(VPC_FILE, [Edit.replace(0, spec)])
        assert out is not None
        assert load_documents(out)[0]["spec"] == spec
