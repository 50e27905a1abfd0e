"""Field paths: one syntax, written and read back the same way wherever a field is named
(validation errors, conflicts, the dependency check, check-run annotations, the API)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.documents import field_line, parse_file
from bot.core.fieldpath import Named, Path, format_path, parse_path
from bot.core.threeway import ABSENT, diff, find_dependency_violations, make_conflict, set_at, value_at
from bot.core.validation import validate_document

pytestmark = pytest.mark.fast


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("spec", "subnets", "default", "vlan"), "spec.subnets.default.vlan"),
        (("spec", "links", Named("a"), "port"), "spec.links[name=a].port"),
        (("spec", "links", Named("a b"), "x"), 'spec.links[name="a b"].x'),
        (("spec", "links", Named('we"ird]'), "x"), 'spec.links[name="we\\"ird]"].x'),
        (
            ("metadata", "annotations", "type.hhfab.githedgehog.com"),
            'metadata.annotations["type.hhfab.githedgehog.com"]',
        ),
        (("spec", "groups", 0), "spec.groups[0]"),
        (("a", "b"), "a.b"),  # the '.' after a one-character first key
        (("spec", "links", 12, "spine", "port"), "spec.links[12].spine.port"),
        (("spec", "E1/1", "x-y_z"), "spec.E1/1.x-y_z"),
        (("spec", "größe x"), 'spec["größe x"]'),  # not ASCII-escaped: readable in a check run
        (("spec", ""), 'spec[""]'),
        (("spec", "[name=a]"), 'spec["[name=a]"]'),  # a key that looks like a named item stays a key
        (("spec", "0"), "spec.0"),  # a key made of digits is a key, not a position
        (("a\x00b",), '["a\\u0000b"]'),
        (("\ud800",), '["\\ud800"]'),  # a lone surrogate is escaped, so the text encodes as UTF-8
        ((0,), "[0]"),
        ((), ""),
    ],
)
def test_a_path_is_written_in_the_one_syntax_and_read_back(path: Path, text: str) -> None:
    assert format_path(path) == text
    assert parse_path(text) == path
    text.encode("utf-8")


def test_a_key_that_loads_as_a_boolean_is_written_as_its_text() -> None:
    assert format_path(("spec", True)) == "spec.True"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [".spec", "spec..a", "spec.", "spec x", "spec[", "spec]x", "[name=]", "spec[name=a", "a.b.", '["x"', "spec.[x]"]
    + ['["x"]b', "spec[01]", "spec[-1]", "spec[a.b]", "spec.[0]", "spec[name=a b]"],
)
def test_text_the_syntax_would_not_write_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a field path"):
        parse_path(text)


_keys = st.text(min_size=0, max_size=8)
_segments = st.one_of(_keys, st.integers(min_value=0, max_value=10_000), st.builds(Named, _keys))


@given(st.lists(_segments, max_size=6).map(tuple))
def test_every_path_reads_back_as_written(path: Path) -> None:
    assert parse_path(format_path(path)) == path


# --- every writer of paths uses the syntax --------------------------------------------------


def test_three_way_and_validation_quote_a_dotted_metadata_key_the_same_way() -> None:
    base = {"spec": {}, "metadata": {"annotations": {"a.b/c": "1"}}}
    gui = {"spec": {}, "metadata": {"annotations": {"a.b/c": "2"}}}
    assert list(diff(base, gui)) == ['metadata.annotations["a.b/c"]']
    [doc] = parse_file(
        "x.yaml",
        b"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: v\n  labels:\n    a.b/c: 1\nspec: {}\n",
    ).documents
    paths = [e.path for e in validate_document(doc)]
    assert 'metadata.labels["a.b/c"]' in paths, paths
    for path in paths:
        parse_path(path)


def test_the_dependency_check_names_list_items_by_position_in_the_same_syntax() -> None:
    [violation] = find_dependency_violations(
        [("Switch", "leaf-1", {"groups": ["ok", "missing"]}), ("SwitchGroup", "ok", {})]
    )
    assert violation.path == "spec.groups[1]"
    assert parse_path(violation.path) == ("spec", "groups", 1)
    conflict = make_conflict("dependency_violation", "missing", kind="Switch", name="leaf-1", path=violation.path)
    assert conflict.segments == ("spec", "groups", 1)


def test_a_position_reads_and_sets_a_plain_list_item() -> None:
    spec = {"spec": {"groups": ["a", "b"]}}
    assert value_at(spec, ("spec", "groups", 1)) == "b"
    assert value_at(spec, ("spec", "groups", 2)) is ABSENT
    assert value_at({"spec": {"groups": "a"}}, ("spec", "groups", 0)) is ABSENT  # not a list
    assert set_at(spec, ("spec", "groups", 1), "c") == {"spec": {"groups": ["a", "c"]}}
    assert spec == {"spec": {"groups": ["a", "b"]}}  # the input is not changed
    assert set_at(spec, ("spec", "groups", 2), "c") == {"spec": {"groups": ["a", "b", "c"]}}
    assert set_at(spec, ("spec", "groups", 0), ABSENT) == {"spec": {"groups": ["b"]}}
    assert set_at(spec, ("spec", "groups", 5), ABSENT) == spec  # removing what is not there


# --- the line of a path in a document --------------------------------------------------------

LINKS = """\
spec:
  links:
    - name: a
      port: E1/1
    - name: b
      port: E1/2
  groups:
    - g1
    - g2
metadata:
  annotations:
    a.b/c: "1"
"""


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("spec.links[name=b].port", 6),  # a named item is found by its name, not its position
        ("spec.links[1].port", 6),
        ("spec.links[name=a]", 3),
        ("spec.groups[1]", 9),
        ('metadata.annotations["a.b/c"]', 12),
        ("spec.links[name=zz].port", 2),  # missing item: the line of the list's key
        ("spec.links[7]", 2),
        ("spec.groups[name=g1]", 7),  # not a list of named mappings
        ("spec.links.port", 2),  # a key asked of a list
        ("spec.[", None),  # not a field path
    ],
)
def test_the_line_of_a_field_is_found_by_its_path(path: str, line: int | None) -> None:
    assert field_line(LINKS, path) == line


def test_a_path_given_as_segments_finds_the_same_line() -> None:
    assert field_line(LINKS, ("spec", "links", Named("b"), "port")) == field_line(LINKS, "spec.links[name=b].port")
