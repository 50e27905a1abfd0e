"""The YAML editor, behaviour by behaviour: where documents begin and end, what an edit
rewrites and what it must leave byte for byte. Each test names one rule of bot/core/render.py."""

from __future__ import annotations

import pytest
import yaml

from bot.core.render import (
    Edit,
    apply_edits,
    document_spans,
    dump_yaml,
    load_documents,
    new_body,
    render_resource,
    resource_body,
    strict_equal,
)
from tests.conftest import shared_path


def head(name: str, kind: str = "VPC") -> str:
    group = "wiring" if kind in ("Switch", "Server", "Connection", "SwitchGroup") else "vpc"
    return f"apiVersion: {group}.githedgehog.com/v1beta1\nkind: {kind}\nmetadata:\n  name: {name}\n"


def sample(name: str) -> str:
    return shared_path("hedgehog", "samples", name).read_text(encoding="utf-8")


def spec_of(text: str, index: int) -> object:
    return load_documents(text)[index].get("spec")


# --------------------------------------------------------------------------------------------
# Where documents are


def test_a_null_key_after_a_nested_block_does_not_end_the_document():
    first = head("a") + "spec:\n  subnets:\n    default:\n      vlan: 1\n  ipv4Namespace: null\n"
    second = head("b") + "spec:\n  x: 1\n"
    text = first + "---\n" + second
    spans = document_spans(text)
    assert [s.index for s in spans] == [0, 1]
    assert text[spans[0].content[0] : spans[0].content[1]] == first.rstrip("\n")
    assert text[spans[1].content[0] : spans[1].content[1]] == second.rstrip("\n")
    assert (spans[0].start_line, spans[0].end_line, spans[1].start_line, spans[1].end_line) == (1, 9, 11, 16)
    # an edit of the second document lands in the second document
    assert apply_edits(text, [Edit.replace(1, {"x": 2})]) == first + "---\n" + second.replace("x: 1", "x: 2")


@pytest.mark.parametrize("null", ["", "~", "null", "Null", "NULL"])
def test_a_document_of_a_bare_null_is_empty_and_not_numbered(null):
    text = head("a") + "spec: {}\n---\n" + null + "\n---\n" + head("b") + "spec: {}\n"
    assert [s.index for s in document_spans(text)] == [0, None, 1]
    assert apply_edits(text, [Edit.delete(1)]) == head("a") + "spec: {}\n---\n" + null + "\n"


def test_a_quoted_or_tagged_null_looking_scalar_is_a_document_not_nothing():
    assert [s.index for s in document_spans("'null'\n---\n" + head("a"))] == [0, 1]
    assert [s.index for s in document_spans("!!str ~\n---\n" + head("a"))] == [0, 1]
    assert [s.index for s in document_spans("&x null\n---\n" + head("a"))] == [0, 1]


def test_a_document_ending_in_a_block_scalar_and_a_blank_line_ends_at_its_text():
    first = head("a") + "spec:\n  text: |\n    line\n"
    text = first + "\n---\n" + head("b") + "spec:\n  x: 1\n"
    span = document_spans(text)[0]
    assert text[span.content[0] : span.content[1]] == first.rstrip("\n")
    assert span.end_line == 7
    # deleting it takes the blank line with it and the second document's `---`
    assert apply_edits(text, [Edit.delete(0)]) == head("b") + "spec:\n  x: 1\n"


def test_an_explicit_document_end_belongs_to_its_document():
    first = head("a") + "spec:\n  x: 1\n"
    second = head("b") + "spec:\n  x: 1\n"
    text = first + "...\n---\n" + second
    spans = document_spans(text)
    assert text[spans[0].content[0] : spans[0].content[1]] == first + "..."
    assert apply_edits(text, [Edit.delete(0)]) == second
    assert apply_edits(text, [Edit.delete(1)]) == first + "...\n"
    # an edit keeps the `...` where it is
    assert apply_edits(text, [Edit.replace(0, {"x": 5})]) == first.replace("x: 1", "x: 5") + "...\n---\n" + second


def test_a_document_in_flow_style_spans_to_its_closing_brace():
    text = '{"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC",\n "metadata": {"name": "a"}}\n---\n' + head(
        "b"
    )
    spans = document_spans(text)
    assert text[spans[0].content[0] : spans[0].content[1]].endswith('"a"}}')
    assert apply_edits(text, [Edit.delete(0)]) == head("b")


def test_content_on_the_separator_line_is_marked_and_kept_with_a_bare_separator():
    text = "--- !!map\n" + head("a") + "spec:\n  x: 1\n"
    [span] = document_spans(text)
    assert span.separator == (0, text.index("\n") + 1) and span.separator_bare is False
    out = apply_edits(text, [Edit.replace(0, {"x": [1, 2]})])
    assert load_documents(out)[0]["spec"] == {"x": [1, 2]}


def test_an_empty_document_between_separators_has_the_separator_line_as_its_lines():
    text = head("a") + "---\n# only a comment\n---\n" + head("b")
    spans = document_spans(text)
    assert [s.index for s in spans] == [0, None, 1]
    assert (spans[1].start_line, spans[1].end_line) == (5, 5)
    assert spans[1].content is None


# --------------------------------------------------------------------------------------------
# What an edit rewrites


def test_untouched_sibling_scalars_keep_their_quoting_style():
    text = head("a") + "spec:\n  a: 'x'\n  b: \"y\"\n  c: 1\n  d: !!str 5\n"
    out = apply_edits(text, [Edit.replace(0, {"a": "x", "b": "y", "c": 2, "d": "5"})])
    assert out == text.replace("c: 1", "c: 2")


def test_an_edit_keeps_comments_elsewhere_in_the_document():
    text = head("a") + "spec:\n  # the list\n  list:\n  - a\n  - b\n  vlan: 1  # the vlan\n"
    out = apply_edits(text, [Edit.replace(0, {"list": ["c"], "vlan": 1})])
    assert out == head("a") + "spec:\n  # the list\n  list:\n  - c\n  vlan: 1  # the vlan\n"
    out = apply_edits(text, [Edit.replace(0, {"list": ["a", "b"], "vlan": 2})])
    assert out == text.replace("vlan: 1", "vlan: 2")


def test_a_key_whose_value_changes_shape_is_re_rendered_where_it_stands():
    text = head("a") + "spec:\n  dhcp: false  # off\n  vlan: 1  # the vlan\n"
    out = apply_edits(text, [Edit.replace(0, {"dhcp": {"enable": True}, "vlan": 1})])
    assert out == head("a") + "spec:\n  dhcp:\n    enable: true  # off\n  vlan: 1  # the vlan\n"


def test_a_multi_line_scalar_is_re_rendered_as_its_key_not_the_document():
    text = head("a") + "spec:\n  # note\n  text: |\n    one\n    two\n  vlan: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"text": "three\n", "vlan": 1})])
    assert out == head("a") + "spec:\n  # note\n  text: |\n    three\n  vlan: 1\n"


def test_a_folded_or_multi_line_plain_scalar_is_re_rendered_as_its_key():
    text = head("a") + "spec:\n  text: >\n    one\n  plain: a\n    b\n  vlan: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"text": "x", "plain": "y", "vlan": 1})])
    assert out == head("a") + "spec:\n  text: x\n  plain: y\n  vlan: 1\n"


def test_editing_a_null_valued_key_writes_key_and_value_together():
    text = head("a") + "spec:\n  gateway:\n  vlan: 1  # the vlan\n"
    out = apply_edits(text, [Edit.replace(0, {"gateway": "10.0.0.1", "vlan": 1})])
    assert out == head("a") + "spec:\n  gateway: 10.0.0.1\n  vlan: 1  # the vlan\n"


def test_a_scalar_that_would_render_on_several_lines_replaces_its_key():
    text = head("a") + "spec:\n  text: one\n  vlan: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"text": "a\nb", "vlan": 1})])
    assert load_documents(out)[0]["spec"] == {"text": "a\nb", "vlan": 1}
    assert out.startswith(head("a") + "spec:\n  text: |-\n    a\n    b\n  vlan: 1")


def test_a_key_added_to_the_last_document_of_a_file_without_final_newline():
    text = head("a") + "spec:\n  x: 1\n  y: 2"
    out = apply_edits(text, [Edit.replace(0, {"x": 1, "y": 2, "z": 3})])
    assert out.startswith(text + "\n  z: 3")
    assert load_documents(out)[0]["spec"] == {"x": 1, "y": 2, "z": 3}


def test_a_key_added_to_a_mapping_goes_after_its_last_key_with_its_indentation():
    text = head("a") + "spec:\n  subnets:\n    default:\n      vlan: 1\n  mode: ''\n---\n" + head("b")
    out = apply_edits(
        text, [Edit.replace(0, {"subnets": {"default": {"vlan": 1, "dhcp": {"enable": True}}}, "mode": ""})]
    )
    assert out == text.replace("      vlan: 1\n", "      vlan: 1\n      dhcp:\n        enable: true\n")


def test_a_removed_key_loses_its_lines_and_only_its_lines():
    text = head("a") + "spec:\n  a: 1\n  # about b\n  b:\n    c: 2\n  d: 3\n"
    out = apply_edits(text, [Edit.replace(0, {"a": 1, "d": 3})])
    assert out == head("a") + "spec:\n  a: 1\n  # about b\n  d: 3\n"


def test_a_key_in_a_list_item_line_is_re_rendered_with_its_item():
    text = head("a") + "spec:\n  items:\n  - a: 1\n    b: 2\n  vlan: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"items": [{"b": 2}], "vlan": 1})])
    assert load_documents(out)[0]["spec"] == {"items": [{"b": 2}], "vlan": 1}
    assert out.endswith("  vlan: 1\n")


def test_a_document_with_anchors_is_re_rendered_whole_when_a_patch_cannot_read_back():
    text = head("a") + "spec:\n  base: &b\n    x: 1\n  copy: *b\n"
    out = apply_edits(text, [Edit.replace(0, {"base": {"x": 2}, "copy": {"x": 1}})])
    assert load_documents(out)[0]["spec"] == {"base": {"x": 2}, "copy": {"x": 1}}


def test_a_scalar_in_a_flow_mapping_is_rewritten_where_it_stands():
    text = head("a") + "spec: {x: 1, y: 2}  # keep\n"
    out = apply_edits(text, [Edit.replace(0, {"x": 1, "y": 3})])
    assert out == head("a") + "spec: {x: 1, y: 3}  # keep\n"


def test_a_non_string_key_makes_the_mapping_re_rendered():
    text = head("a") + "spec:\n  1: one\n  x: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"1": "one", "x": 2})])
    assert load_documents(out)[0]["spec"] == {"1": "one", "x": 2}


def test_an_emptied_spec_is_written_as_an_empty_mapping():
    text = head("a") + "spec:\n  x: 1\n"
    assert apply_edits(text, [Edit.replace(0, {})]) == head("a") + "spec: {}\n"


def test_replacing_a_whole_body_writes_it_as_given():
    text = head("a") + "spec:\n  x: 1\n"
    body = resource_body("VPC", "renamed", spec={"x": 1})
    out = apply_edits(text, [Edit.replace_body(0, body)])
    assert load_documents(out) == [body]
    assert out == text.replace("name: a", "name: renamed")


def test_replacing_the_body_of_an_empty_document_fills_it():
    text = head("a") + "---\n" + "# nothing yet\n"
    out = apply_edits(text, [Edit.append_body(resource_body("VPC", "b", spec={"x": 1}))])
    assert load_documents(out)[1]["metadata"]["name"] == "b"


# --------------------------------------------------------------------------------------------
# new_body


def test_new_body_keeps_everything_but_the_spec_and_the_metadata_the_edit_names():
    original = {"apiVersion": "v", "kind": "VPC", "metadata": {"name": "a", "labels": {"l": "1"}}, "spec": {"x": 1}}
    assert new_body(original, Edit.replace(0, {"x": 2})) == {**original, "spec": {"x": 2}}
    assert new_body(original, Edit.replace(0, {"x": 1}, labels={}))["metadata"] == {"name": "a"}
    assert new_body(original, Edit.replace(0, {"x": 1}, annotations={"a": "b"}))["metadata"] == {
        "name": "a",
        "labels": {"l": "1"},
        "annotations": {"a": "b"},
    }
    assert "spec" not in new_body(original, Edit.replace(0, None))
    assert original["metadata"] == {"name": "a", "labels": {"l": "1"}}  # not modified


def test_new_body_does_not_add_an_empty_spec_to_a_document_without_one():
    original = {"apiVersion": "v", "kind": "Server", "metadata": {"name": "s"}}
    assert new_body(original, Edit.replace(0, {})) == original
    assert new_body(original, Edit.replace(0, {"x": 1}))["spec"] == {"x": 1}
    assert new_body({**original, "spec": {"x": 1}}, Edit.replace(0, {}))["spec"] == {}
    assert new_body("not a mapping", Edit.replace(0, {"x": 1})) == {"spec": {"x": 1}}


def test_new_body_replaces_a_metadata_that_is_not_a_mapping():
    assert new_body({"metadata": "x"}, Edit.replace(0, None, labels={"a": "b"})) == {"metadata": {"labels": {"a": "b"}}}


# --------------------------------------------------------------------------------------------
# Deleting and overlapping edits


def test_deleting_two_neighbours_and_the_document_after_them_leaves_one_separator_each():
    docs = [head(n) for n in "abcd"]
    text = "---\n".join(docs)
    assert apply_edits(text, [Edit.delete(1), Edit.delete(2)]) == docs[0] + "---\n" + docs[3]
    assert apply_edits(text, [Edit.delete(0), Edit.delete(1)]) == "---\n".join(docs[2:])
    assert apply_edits(text, [Edit.delete(2), Edit.delete(3)]) == "---\n".join(docs[:2])
    assert apply_edits(text, [Edit.delete(0), Edit.delete(2)]) == docs[1] + "---\n" + docs[3]


def test_deleting_a_document_between_comment_sections_keeps_both_headers():
    text = "# header\n" + head("a") + "---\n# section two\n---\n" + head("b") + "---\n" + head("c")
    out = apply_edits(text, [Edit.delete(1)])
    assert out == "# header\n" + head("a") + "---\n# section two\n---\n" + head("c")


def test_deleting_every_document_of_a_sample_deletes_the_file():
    text = sample("demo-gitops_demo.yaml")
    assert apply_edits(text, [Edit.delete(i) for i in range(len(load_documents(text)))]) is None


def test_deleting_every_other_document_of_a_real_file_keeps_the_rest_byte_identical():
    text = sample("lab-ci_wiring.yaml")
    count = len(load_documents(text))
    out = apply_edits(text, [Edit.delete(i) for i in range(0, count, 2)])
    assert load_documents(out) == load_documents(text)[1::2]
    spans = document_spans(text)
    for span in spans:
        if span.index is not None and span.index % 2 == 1:
            assert text[span.content[0] : span.content[1]] in out


def test_editing_and_deleting_neighbours_of_a_real_file_in_one_go():
    text = sample("gitops-test-1_prepop.yaml")
    bodies = load_documents(text)
    switch = next(i for i, b in enumerate(bodies) if b["kind"] == "Switch")
    spec = dict(bodies[switch]["spec"], description="edited")
    out = apply_edits(text, [Edit.replace(switch, spec), Edit.delete(switch + 1)])
    after = load_documents(out)
    assert after[switch]["spec"] == spec
    assert after[switch + 1 :] == bodies[switch + 2 :]
    assert after[:switch] == bodies[:switch]


def test_two_edits_of_one_document_are_refused():
    text = head("a") + "spec: {}\n"
    with pytest.raises(ValueError, match=r"^two edits of document 0$"):
        apply_edits(text, [Edit.replace(0, {"x": 1}), Edit.delete(0)])


@pytest.mark.parametrize("index", [-1, 1, True, None, "0"])
def test_an_index_that_is_not_a_document_is_refused(index):
    text = head("a") + "spec: {}\n"
    with pytest.raises(ValueError, match=r"^document index .* is not in the file \(1 documents\)$"):
        apply_edits(text, [Edit("replace", index=index, spec={})])


def test_an_unknown_action_and_an_append_without_body_are_refused():
    with pytest.raises(ValueError, match=r"^unknown edit action 'move'$"):
        apply_edits(head("a"), [Edit("move", index=0)])
    with pytest.raises(ValueError, match=r"^an append edit needs a body$"):
        apply_edits(head("a"), [Edit("append")])


def test_a_file_that_does_not_parse_is_refused():
    with pytest.raises(yaml.YAMLError):
        apply_edits("a: [\n", [Edit.delete(0)])


# --------------------------------------------------------------------------------------------
# Appending and line ends


def test_appending_to_a_file_without_final_newline_adds_the_separator_on_its_own_line():
    out = apply_edits(head("a").rstrip("\n"), [Edit.append("VPC", "b", {"x": 1})])
    assert out == head("a") + "---\n" + render_resource("VPC", "b", spec={"x": 1})


def test_appending_to_a_file_of_only_comments_adds_no_separator():
    out = apply_edits("# fabric\n", [Edit.append("VPC", "b", {"x": 1})])
    assert out == "# fabric\n" + render_resource("VPC", "b", spec={"x": 1})


def test_appending_after_a_trailing_separator_fills_the_empty_document():
    out = apply_edits(head("a") + "---\n", [Edit.append("VPC", "b", {"x": 1})])
    assert out == head("a") + "---\n" + render_resource("VPC", "b", spec={"x": 1})


def test_appending_to_nothing_is_the_rendered_document():
    assert apply_edits(None, [Edit.append("VPC", "b", {"x": 1})]) == render_resource("VPC", "b", spec={"x": 1})
    assert apply_edits("\n\n", [Edit.append("VPC", "b", {"x": 1})]) == render_resource("VPC", "b", spec={"x": 1})


def test_a_crlf_file_gets_crlf_in_edits_deletions_and_appends():
    text = (head("a") + "spec:\n  x: 1\n---\n" + head("b") + "spec:\n  x: 1\n").replace("\n", "\r\n")
    out = apply_edits(text, [Edit.replace(0, {"x": 1, "y": {"z": 2}}), Edit.append("VPC", "c", {"l": [1]})])
    assert "\n" not in out.replace("\r\n", "")
    assert [d["spec"] for d in load_documents(out)] == [{"x": 1, "y": {"z": 2}}, {"x": 1}, {"l": [1]}]
    assert out.startswith(head("a").replace("\n", "\r\n"))


def test_an_indentless_file_gets_indentless_lists_in_what_is_added():
    text = head("a") + "spec:\n  permit:\n  - a\n  x: 1\n"
    out = apply_edits(
        text, [Edit.replace(0, {"permit": ["a"], "x": 1, "more": ["b"]}), Edit.append("VPC", "c", {"l": [1]})]
    )
    assert "  more:\n  - b\n" in out and "  l:\n  - 1\n" in out


def test_an_indented_file_keeps_indented_lists():
    text = head("a") + "spec:\n  permit:\n    - a\n  x: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"permit": ["a"], "x": 1, "more": ["b"]})])
    assert "  more:\n    - b\n" in out


# --------------------------------------------------------------------------------------------
# Values


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (1, 1, True),
        (1, True, False),
        (True, 1, False),
        (1, 1.0, False),
        (0, False, False),
        ({"a": 1}, {"a": 1}, True),
        ({"a": 1}, {"a": True}, False),
        ({"a": 1}, {"b": 1}, False),
        ([1, 2], (1, 2), True),
        ([1, 2], [1, 2, 3], False),
        ([1], [True], False),
        ([], {}, False),
        ({}, None, False),
        ("1", 1, False),
        (None, None, True),
        ("a", "a", True),
    ],
)
def test_strict_equal_tells_types_apart_as_yaml_does(a, b, equal):
    assert strict_equal(a, b) is equal
    assert strict_equal(b, a) is equal


def test_dump_yaml_writes_sequences_indented_unless_asked_not_to():
    assert dump_yaml({"a": [1]}) == "a:\n  - 1\n"
    assert dump_yaml({"a": [1]}, indent_sequences=False) == "a:\n- 1\n"
    assert dump_yaml({"a": (1, 2)}) == "a:\n  - 1\n  - 2\n"
    assert dump_yaml({"a": "x" * 200}) == "a: " + "x" * 200 + "\n"
    assert dump_yaml({"a": "ü"}) == "a: ü\n"


def test_resource_body_writes_the_namespace_only_when_it_is_not_the_default():
    assert resource_body("VPC", "a", "default")["metadata"] == {"name": "a"}
    assert resource_body("VPC", "a", None)["metadata"] == {"name": "a"}
    assert resource_body("VPC", "a", "other")["metadata"] == {"name": "a", "namespace": "other"}
    assert resource_body("VPC", "a", labels={}, annotations={})["metadata"] == {"name": "a"}
    assert "spec" not in resource_body("Server", "s")
    with pytest.raises(ValueError, match=r"^unknown kind 'Nope'$"):
        resource_body("Nope", "a")


def test_load_documents_reads_timestamps_as_text_and_keys_as_strings():
    assert load_documents("a: 2025-01-01\n2: x\ntrue: y\nnull: z\n") == [
        {"a": "2025-01-01", "2": "x", "true": "y", "null": "z"}
    ]
    assert load_documents("false: [{1: 2}]\n---\n~\n") == [{"false": [{"1": 2}]}]


# --------------------------------------------------------------------------------------------
# Scalars are rewritten where they stand; everything around them keeps its bytes


def test_a_scalar_under_a_quoted_key_is_rewritten_in_place_and_the_key_keeps_its_quotes():
    text = head("a") + "spec:\n  \"vlan\": 1  # the vlan\n  'mtu': 9000\n"
    out = apply_edits(text, [Edit.replace(0, {"vlan": 2, "mtu": 1500})])
    assert out == head("a") + "spec:\n  \"vlan\": 2  # the vlan\n  'mtu': 1500\n"


@pytest.mark.parametrize("value", ["abX", "X", "a b", "yes", "10.0.0.1/24", "grün", "x" * 200])
def test_a_new_scalar_is_written_exactly_and_the_documents_comments_stay(value):
    text = head("a") + "spec:\n  # about x\n  x: old  # keep\n  y: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"x": value, "y": 1})])
    written = dump_yaml({"x": value}).rstrip("\n")
    assert out == head("a") + f"spec:\n  # about x\n  {written}  # keep\n  y: 1\n"
    assert load_documents(out)[0]["spec"]["x"] == value


def test_a_list_ending_in_x_is_re_rendered_with_its_key_and_the_comments_stay():
    text = head("a") + "spec:\n  # about l\n  l:\n    - a\n  y: 1  # keep\n"
    out = apply_edits(text, [Edit.replace(0, {"l": ["abX"], "y": 1})])
    assert out == head("a") + "spec:\n  # about l\n  l:\n    - abX\n  y: 1  # keep\n"


def test_a_scalar_that_becomes_multi_line_is_re_rendered_with_its_key_and_the_comments_stay():
    text = head("a") + "spec:\n  # about text\n  text: one\n  vlan: 1  # keep\n"
    out = apply_edits(text, [Edit.replace(0, {"text": "a\nb", "vlan": 1})])
    assert out == head("a") + "spec:\n  # about text\n  text: |-\n    a\n    b\n  vlan: 1  # keep\n"


def test_appending_to_a_file_ending_in_an_empty_document_after_several_documents_fills_it():
    text = head("a") + "---\n" + head("b") + "---\n"
    out = apply_edits(text, [Edit.append("VPC", "c", {"x": 1})])
    assert out == text + render_resource("VPC", "c", spec={"x": 1})


def test_an_append_edit_carries_namespace_labels_and_annotations():
    edit = Edit.append("VPC", "c", {"x": 1}, namespace="other", labels={"l": "1"}, annotations={"a": "b"})
    assert edit.body == {
        "apiVersion": "vpc.githedgehog.com/v1beta1",
        "kind": "VPC",
        "metadata": {"name": "c", "namespace": "other", "labels": {"l": "1"}, "annotations": {"a": "b"}},
        "spec": {"x": 1},
    }
    assert Edit.append("VPC", "c", {"x": 1}).body["metadata"] == {"name": "c"}


def test_render_resource_writes_the_default_namespace_as_nothing_and_indents_lists():
    assert render_resource("VPC", "a", spec={"l": [1]}) == (
        "apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: a\nspec:\n  l:\n    - 1\n"
    )
    assert render_resource("VPC", "a", spec={"l": [1]}, indent_sequences=False).endswith("  l:\n  - 1\n")


# --------------------------------------------------------------------------------------------
# Block scalars end at their last line: edits around them keep comments and blank lines


def test_editing_a_folded_scalar_keeps_the_blank_line_after_it_and_the_comments():
    text = head("a") + "spec:\n  # c\n  text: >\n    one\n\n  vlan: 1  # keep\n"
    out = apply_edits(text, [Edit.replace(0, {"text": "x", "vlan": 1})])
    assert out == head("a") + "spec:\n  # c\n  text: x\n\n  vlan: 1  # keep\n"


def test_removing_a_key_whose_value_is_a_block_scalar_removes_exactly_its_lines():
    text = head("a") + "spec:\n  text: |\n    one\n  # about vlan\n  vlan: 1\n"
    assert apply_edits(text, [Edit.replace(0, {"vlan": 1})]) == head("a") + "spec:\n  # about vlan\n  vlan: 1\n"


def test_a_key_added_after_a_block_scalar_goes_right_under_it():
    text = head("a") + "spec:\n  # c\n  x: 1\n  text: |\n    one\n\n---\n" + head("b")
    out = apply_edits(text, [Edit.replace(0, {"x": 1, "text": "one\n", "y": 2})])
    assert out == head("a") + "spec:\n  # c\n  x: 1\n  text: |\n    one\n  y: 2\n\n---\n" + head("b")


def test_a_block_scalar_at_the_end_of_a_file_without_final_newline_can_be_edited():
    text = head("a") + "# c\nspec:\n  text: |\n    one"
    assert apply_edits(text, [Edit.replace(0, {"text": "two"})]) == head("a") + "# c\nspec:\n  text: two"


def test_editing_a_block_scalar_in_a_crlf_file_keeps_every_line_end_crlf():
    text = (head("a") + "# c\nspec:\n  text: |\n    one\n  vlan: 1\n").replace("\n", "\r\n")
    out = apply_edits(text, [Edit.replace(0, {"text": "two", "vlan": 1})])
    assert out == (head("a") + "# c\nspec:\n  text: two\n  vlan: 1\n").replace("\n", "\r\n")


# --------------------------------------------------------------------------------------------
# Keys added where there is no final newline, with comments that must stay


def test_a_key_added_to_a_nested_mapping_of_a_file_without_final_newline():
    text = head("a") + "# c\nspec:\n  m:\n    x: 1\n  y: 2"
    out = apply_edits(text, [Edit.replace(0, {"m": {"x": 1, "z": 3}, "y": 2})])
    assert out == head("a") + "# c\nspec:\n  m:\n    x: 1\n    z: 3\n  y: 2"


def test_a_key_added_at_the_very_end_of_a_file_without_final_newline_keeps_the_comments():
    text = head("a") + "# c\nspec:\n  x: 1\n  y: 2"
    out = apply_edits(text, [Edit.replace(0, {"x": 1, "y": 2, "z": 3})])
    assert out == head("a") + "# c\nspec:\n  x: 1\n  y: 2\n  z: 3"


def test_keys_added_to_a_mapping_keep_the_comments_of_the_document():
    text = head("a") + "spec:\n  # subnets\n  subnets:\n    default:\n      vlan: 1  # v\n"
    out = apply_edits(text, [Edit.replace(0, {"subnets": {"default": {"vlan": 1, "mtu": 9000}}, "mode": "l3vni"})])
    assert (
        out
        == head("a")
        + "spec:\n  # subnets\n  subnets:\n    default:\n      vlan: 1  # v\n      mtu: 9000\n  mode: l3vni\n"
    )


def test_a_multi_line_plain_scalar_is_rewritten_where_it_stands_under_its_quoted_key():
    text = head("a") + 'spec:\n  # c\n  "plain": a\n    b\n  vlan: 1\n'
    out = apply_edits(text, [Edit.replace(0, {"plain": "y", "vlan": 1})])
    assert out == head("a") + 'spec:\n  # c\n  "plain": y\n  vlan: 1\n'


def test_appending_to_a_file_of_one_empty_document_fills_it():
    rendered = render_resource("VPC", "c", spec={"x": 1})
    assert apply_edits("# fabric\n---\n", [Edit.append("VPC", "c", {"x": 1})]) == "# fabric\n---\n" + rendered


def test_removing_labels_a_document_does_not_have_changes_nothing():
    original = {"metadata": {"name": "a"}, "spec": {"x": 1}}
    assert new_body(original, Edit.replace(0, {"x": 1}, labels={}, annotations={})) == original


def test_an_empty_value_under_a_quoted_key_is_written_after_its_colon():
    text = head("a") + 'spec:\n  "gateway":  # set me\n  vlan: 1\n'
    out = apply_edits(text, [Edit.replace(0, {"gateway": "10.0.0.1", "vlan": 1})])
    assert out == head("a") + 'spec:\n  "gateway": 10.0.0.1  # set me\n  vlan: 1\n'
