"""Reading fabric YAML files: real samples, line numbers, and hostile input."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.core.documents import (
    MAX_ALIAS_EXPANSION,
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    MAX_FILE_BYTES,
    field_line,
    identity,
    parse_file,
)

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "hedgehog" / "samples"


def samples_dir() -> Path:
    if not (SAMPLES / "SOURCES.md").is_file():
        pytest.skip(f"sample fabric YAML {SAMPLES} is absent (../shared is not checked out beside the repo)")
    return SAMPLES


def expected_counts() -> dict[str, Counter]:
    """Per file, the kind counts that SOURCES.md's table states."""
    counts = {}
    for row in (samples_dir() / "SOURCES.md").read_text().splitlines():
        cells = [c.strip() for c in row.split("|")]
        if len(cells) < 8 or not cells[1].startswith("`"):
            continue
        contents = re.sub(r"\([^)]*\)", "", cells[6]).split(".")[0]
        counts[cells[1].strip("`")] = Counter(
            {kind: int(n) for kind, n in re.findall(r"\b([A-Z][A-Za-z0-9]*) (\d+)", contents)}
        )
    return counts


def one(text: str):
    parsed = parse_file("f.yaml", text.encode())
    assert parsed.error is None
    assert len(parsed.documents) == 1, parsed.documents
    return parsed.documents[0]


# --- real files ----------------------------------------------------------------------------


def test_every_sample_parses_to_what_pyyaml_reads_and_to_the_counts_in_sources_md():
    counts = expected_counts()
    assert len(counts) == 4
    for name, expected in counts.items():
        data = (samples_dir() / name).read_bytes()
        parsed = parse_file(name, data)
        assert parsed.error is None
        assert [d.error for d in parsed.documents if d.error] == []
        assert Counter(d.kind for d in parsed.documents) == expected, name
        assert [d.body for d in parsed.documents] == [d for d in yaml.safe_load_all(data) if d]
        assert [d.index for d in parsed.documents] == list(range(len(parsed.documents)))


def test_lab_wiring_documents_know_their_lines_identity_and_span():
    data = (samples_dir() / "lab-ci_wiring.yaml").read_bytes()
    parsed = parse_file("wiring.yaml", data)
    text = data.decode()
    lines = text.split("\n")
    for doc in parsed.documents:
        assert lines[doc.line - 1].startswith("apiVersion:"), doc
        assert lines[doc.name_line - 1].strip() == f"name: {doc.name}"
        assert text[doc.start : doc.end] == doc.text
        assert doc.namespace == "default"
        assert identity(doc) == (doc.kind, "default", doc.name)
    # the leading comment block belongs to the first document; the spans tile the file
    assert parsed.documents[0].start == 0 and parsed.documents[0].line == 5
    assert "".join(d.text for d in parsed.documents) == text
    static = next(d for d in parsed.documents if d.name == "ds3000-03--static-ext")
    assert (static.line, static.name_line) == (802, 805)
    assert field_line(static, "spec.static.remoteIP") == 810
    assert field_line(static, "spec.static") == 809
    assert field_line(static, "spec.neighbor") == 806  # missing: the line of its parent
    conn = next(d for d in parsed.documents if d.kind == "Connection" and "fabric" in d.body["spec"])
    assert lines[field_line(conn, "spec.fabric.links[0].spine.port") - 1].strip().startswith("port:")


# --- documents, lines and identity ------------------------------------------------------------


def test_a_trailing_separator_and_comment_only_documents_are_skipped():
    parsed = parse_file("f.yaml", b"# head\n---\nkind: A\n---\n# nothing\n---\nkind: B\n---\n")
    assert [(d.index, d.kind, d.line) for d in parsed.documents] == [(0, "A", 3), (1, "B", 7)]


def test_namespace_defaults_to_default_and_empty_means_default():
    assert one("kind: VPC\nmetadata:\n  name: a\n").namespace == "default"
    assert one("kind: VPC\nmetadata:\n  name: a\n  namespace: ''\n").namespace == "default"
    doc = one("kind: VPC\nmetadata:\n  name: a\n  namespace: other\n")
    assert identity(doc) == ("VPC", "other", "a")
    assert identity(one("kind: VPC\nmetadata: {}\n")) is None


def test_crlf_files_keep_their_line_numbers():
    doc = parse_file("f.yaml", b"a: 1\r\n---\r\nkind: X\r\nmetadata:\r\n  name: n\r\n").documents[1]
    assert (doc.line, doc.name_line) == (3, 5)


def test_a_separator_inside_a_block_scalar_is_content_when_indented():
    doc = one("kind: X\ndata: |\n  ---\n  text\nmetadata:\n  name: n\n")
    assert doc.body["data"] == "---\ntext\n" and doc.name_line == 6


def test_values_are_json_values():
    doc = one("a: 2024-01-01\nb: 0x10\nc: yes\nd: ~\ne: 1.5\n1: key\nf: '010'\n")
    assert doc.body == {"a": "2024-01-01", "b": 16, "c": True, "d": None, "e": 1.5, "1": "key", "f": "010"}


def test_merge_keys_are_honoured_and_explicit_keys_win():
    doc = one("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n")
    assert doc.body["d"] == {"x": 1, "y": 3}


# --- hostile input ---------------------------------------------------------------------------


def test_a_file_over_5_mib_is_refused_whole():
    parsed = parse_file("big.yaml", b"#" * (MAX_FILE_BYTES + 1))
    assert parsed.documents == [] and "5 MiB" in parsed.error


def test_a_document_over_1_mib_is_refused_and_its_neighbours_are_read():
    big = "a: '" + "x" * MAX_DOCUMENT_BYTES + "'\n"
    parsed = parse_file("f.yaml", f"kind: A\n---\n{big}---\nkind: B\n".encode())
    assert [d.kind for d in parsed.documents] == ["A", None, "B"]
    assert "1 MiB" in parsed.documents[1].error and parsed.documents[1].error_line == 2


def test_bytes_that_are_not_utf8_name_their_offset_and_line():
    parsed = parse_file("f.yaml", b"a: 1\nb: caf\xe9\n")
    assert parsed.documents == []
    assert "byte offset 11" in parsed.error and "line 2" in parsed.error and parsed.error_line == 2


def test_a_utf8_byte_order_mark_is_accepted():
    assert one("\ufeffkind: A\n").kind == "A"


def test_an_alias_expansion_bomb_is_refused_quickly():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    started = time.perf_counter()
    doc = one("\n".join(lines) + "\n")
    assert time.perf_counter() - started < 1
    assert doc.body is None and "alias" in doc.error and f"{MAX_ALIAS_EXPANSION:,}" in doc.error


def test_a_few_aliases_are_fine():
    doc = one("x: &x {a: 1}\ny: *x\nz: [*x, *x]\n")
    assert doc.body == {"x": {"a": 1}, "y": {"a": 1}, "z": [{"a": 1}, {"a": 1}]}


def test_a_recursive_alias_is_refused():
    assert "recursive" in one("a: &a [*a]\n").error


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 100_000 + "]" * 100_000 + "\n",  # flow, far beyond the C stack
        "a:\n" + "- " * 200_000 + "x\n",  # compact block sequences
        "".join(" " * i + "k:\n" for i in range(100)) + " " * 100 + "x\n",  # indentation
        "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n",  # just over the limit
        "a: " + "[" * 500 + "]" * 500 + "\n",  # over ours, under what libyaml refuses by itself
        "a: " + "{k: " * 500 + "x" + "}" * 500 + "\n",  # the same with flow mappings
    ],
)
def test_deep_nesting_is_refused_as_too_deep_whichever_layer_refuses_first(text):
    doc = one(text)
    assert doc.body is None and f"deeper than {MAX_DEPTH}" in doc.error


def test_a_syntax_error_in_a_deep_looking_document_is_not_called_too_deep():
    # Many brackets, but closed: the textual bound is over the limit, the real depth is not.
    doc = one("a: " + "[]," * 100 + "\nb: [1,\n")
    assert doc.body is None and "deeper" not in doc.error


def test_nesting_up_to_the_limit_is_fine():
    depth = MAX_DEPTH - 1  # plus the root mapping
    assert one("a: " + "[" * depth + "]" * depth + "\n").error is None


def test_duplicate_keys_name_the_key_and_both_lines():
    doc = one("apiVersion: v1\nkind: A\nmetadata:\n  name: x\n  name: y\n")
    assert doc.body is None and doc.error_line == 5
    assert "duplicate key 'name'" in doc.error and "line 4" in doc.error and "line 5" in doc.error


@pytest.mark.parametrize(("text", "what"), [("- a\n- b\n", "a list"), ("hello\n", "a scalar")])
def test_a_document_that_is_not_a_mapping_is_an_error(text, what):
    doc = one(text)
    assert doc.body is None and what in doc.error and "expected a mapping" in doc.error


def test_a_syntax_error_is_reported_at_its_line_and_other_documents_still_parse():
    parsed = parse_file("f.yaml", b"kind: A\n---\nkind: B\nx: [1,\n---\nkind: C\n")
    a, b, c = parsed.documents
    assert (a.kind, c.kind) == ("A", "C")
    assert b.body is None and b.error.startswith("invalid YAML") and b.error_line == 5
    assert b.line == 2


def test_a_tab_used_for_indentation_is_an_error_at_its_line():
    doc = one("kind: A\nspec:\n\tvlan: 1\n")
    assert doc.error_line == 3 and "tab" in doc.error


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a: !!python/object:os.system x\n", "unsupported tag"),
        ("a: !!python/name:os.system\n", "unsupported tag"),
        ("a: .inf\n", "JSON"),
        ("? [a]\n: b\n", "keys must be scalars"),
        ('a: "\x00"\n', "not allowed"),
        ("a: 1" + "0" * 5000 + "\n", "invalid value"),
    ],
)
def test_values_that_cannot_be_plain_data_are_errors(text, fragment):
    doc = one(text)
    assert doc.body is None and fragment in doc.error
