"""The YAML editor's in-place writes: a changed scalar is written where it stands, in the
style of the collection it stands in, and nothing around it moves. Each test names one rule
of the scalar writer in bot/core/render.py (`_Patcher._patch_scalar`, `_render_scalar`).

A wrong in-place write is not always visible in the parsed result: the editor checks that
its patch reads back as the new body and otherwise writes the key, or the whole document,
again. So these tests compare whole files, byte for byte: a fallback re-render shows up as
lost quotes, comments or flow style.
"""

from __future__ import annotations

import pytest

from bot.core.render import Edit, apply_edits, document_spans, load_documents, new_body
from tests.conftest import shared_path


def sample(name: str) -> str:
    return shared_path("hedgehog", "samples", name).read_text(encoding="utf-8")


def head(name: str) -> str:
    return f"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: {name}\n"


def edit_spec(text: str, index: int, change: dict[str, object]) -> str:
    """The file after replacing document `index`'s spec with its spec updated by `change`."""
    spec = dict(load_documents(text)[index]["spec"], **change)
    out = apply_edits(text, [Edit.replace(index, spec)])
    assert out is not None
    assert load_documents(out)[index]["spec"] == spec
    return out


# --------------------------------------------------------------------------------------------
# Inside a flow collection (`[a, b]`, `{a: 1}`) a value is written in flow style


def test_an_item_of_a_real_flow_list_is_rewritten_inside_its_brackets():
    text = sample("demo-gitops_demo.yaml")
    out = edit_spec(text, 0, {"permit": [["subnet-1", "subnet-3"]]})
    assert out == text.replace("    - [subnet-1, subnet-2]\n", "    - [subnet-1, subnet-3]\n")


def test_non_ascii_text_in_a_flow_list_is_written_as_is_not_escaped():
    text = sample("demo-gitops_demo.yaml")
    out = edit_spec(text, 0, {"permit": [["subnet-1", "grün"]]})
    assert out == text.replace("    - [subnet-1, subnet-2]\n", "    - [subnet-1, grün]\n")


def test_long_text_in_a_flow_list_stays_on_its_line():
    text = sample("demo-gitops_demo.yaml")
    long = " ".join(["word"] * 40)  # far past the 80 columns at which PyYAML would fold
    out = edit_spec(text, 0, {"permit": [["subnet-1", long]]})
    assert out == text.replace("    - [subnet-1, subnet-2]\n", f"    - [subnet-1, {long}]\n")


def test_a_line_break_a_reader_would_fold_in_a_flow_list_is_written_as_an_escape():
    # NEL written raw inside quotes reads back as a space (YAML 1.1): it must be `\N`.
    text = sample("demo-gitops_demo.yaml")
    out = edit_spec(text, 0, {"permit": [["subnet-1", "a\x85b"]]})
    assert out == text.replace("    - [subnet-1, subnet-2]\n", '    - [subnet-1, "a\\Nb"]\n')


def test_multi_line_text_in_a_flow_mapping_is_one_double_quoted_value_and_the_comment_stays():
    text = head("a") + "spec: {note: x, vlan: 1}  # keep\n"
    out = apply_edits(text, [Edit.replace(0, {"note": "a\nb\n", "vlan": 1})])
    assert out == head("a") + 'spec: {note: "a\\nb\\n", vlan: 1}  # keep\n'


# --------------------------------------------------------------------------------------------
# A block list item is written where it stands; its siblings keep their bytes


def test_an_edited_list_item_keeps_its_siblings_quotes_and_comments():
    text = head("a") + "spec:\n  permit:\n    - 'a'  # first\n    - b\n  vlan: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"permit": ["a", "c"], "vlan": 1})])
    assert out == head("a") + "spec:\n  permit:\n    - 'a'  # first\n    - c\n  vlan: 1\n"


def test_a_list_item_that_becomes_multi_line_is_one_double_quoted_line_where_it_stands():
    text = head("a") + "spec:\n  permit:\n    - 'a'\n    - b  # second\n  vlan: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"permit": ["a", "x\ny"], "vlan": 1})])
    assert out == head("a") + "spec:\n  permit:\n    - 'a'\n    - \"x\\ny\"  # second\n  vlan: 1\n"


def test_an_item_of_a_real_block_list_is_rewritten_where_it_stands():
    text = sample("demo-gitops_demo.yaml")
    body = load_documents(text)[3]
    spec = body["spec"]
    spec["permit"]["vpc"]["subnets"] = ["subnet-9"]
    out = apply_edits(text, [Edit.replace(3, spec)])
    assert out == text.replace("        - default", "        - subnet-9")


def test_a_value_under_its_key_on_the_next_line_is_rewritten_on_that_line():
    text = head("a") + "spec:\n  'note':\n    old  # why\n  vlan: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"note": "x\ny", "vlan": 1})])
    assert out == head("a") + "spec:\n  'note':\n    \"x\\ny\"  # why\n  vlan: 1\n"


def test_an_item_of_a_flow_list_written_without_spaces_is_written_without_a_space():
    text = head("a") + "spec:\n  permit: [a,b]  # keep\n"
    out = apply_edits(text, [Edit.replace(0, {"permit": ["a", "c"]})])
    assert out == head("a") + "spec:\n  permit: [a,c]  # keep\n"


def test_text_that_is_plain_only_outside_brackets_is_quoted_in_a_real_flow_list():
    # `x,y` is a plain scalar in a block mapping but two items inside `[...]`.
    text = sample("demo-gitops_demo.yaml")
    out = edit_spec(text, 0, {"permit": [["subnet-1", "x,y"]]})
    assert out == text.replace("    - [subnet-1, subnet-2]\n", "    - [subnet-1, 'x,y']\n")


def test_a_list_item_that_becomes_multi_line_at_the_end_of_its_line_is_one_double_quoted_line():
    text = head("a") + "spec:\n  permit:\n    - 'a'\n    - b\n  vlan: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"permit": ["a", "x\ny"], "vlan": 1})])
    assert out == head("a") + "spec:\n  permit:\n    - 'a'\n    - \"x\\ny\"\n  vlan: 1\n"


def test_a_value_on_the_line_under_its_key_that_becomes_multi_line_stays_on_that_line():
    text = head("a") + "spec:\n  # c\n  'note':\n    old\n  vlan: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"note": "x\ny", "vlan": 1})])
    assert out == head("a") + "spec:\n  # c\n  'note':\n    \"x\\ny\"\n  vlan: 1\n"


def test_an_empty_value_after_a_spaced_colon_is_written_one_space_after_it():
    text = head("a") + "spec:\n  # c\n  gateway :\n  vlan: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"gateway": "10.0.0.1", "vlan": 1})])
    assert out == head("a") + "spec:\n  # c\n  gateway : 10.0.0.1\n  vlan: 1\n"


# --------------------------------------------------------------------------------------------
# Where a value's lines end: a `|+` block owns its blank lines, a flow value its closing line


def test_removing_a_key_whose_value_keeps_its_blank_lines_removes_them_too():
    text = head("a") + "spec:\n  # c\n  text: |+\n    a\n\n  vlan: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"vlan": 1})])
    assert out == head("a") + "spec:\n  # c\n  vlan: 1\n"


def test_a_key_added_after_a_block_that_keeps_its_blank_lines_goes_after_them():
    text = head("a") + "spec:\n  # c\n  vlan: 1\n  text: |+\n    a\n\n---\n" + head("b")
    out = apply_edits(text, [Edit.replace(0, {"vlan": 1, "text": "a\n\n", "mtu": 9000})])
    assert out == head("a") + "spec:\n  # c\n  vlan: 1\n  text: |+\n    a\n\n  mtu: 9000\n---\n" + head("b")


def test_removing_a_key_whose_flow_value_closes_at_the_start_of_a_line_removes_that_line():
    text = head("a") + "# c\nx: {a: 1,\n}\nspec:\n  vlan: 1\n"
    body = load_documents(text)[0]
    del body["x"]
    assert apply_edits(text, [Edit.replace_body(0, body)]) == head("a") + "# c\nspec:\n  vlan: 1\n"


def test_a_key_added_after_a_flow_value_closing_at_the_start_of_a_line_goes_under_it():
    text = head("a") + "# c\nspec:\n  vlan: 1\nx: {a: 1,\n}\n"
    body = dict(load_documents(text)[0], z=2)
    assert apply_edits(text, [Edit.replace_body(0, body)]) == text + "z: 2\n"


def test_a_key_whose_value_keeps_its_blank_lines_removed_before_the_last_line_of_a_file_without_final_newline():
    text = head("a") + "spec:\n  # c\n  text: |+\n    a\n\n  vlan: 1"
    out = apply_edits(text, [Edit.replace(0, {"vlan": 1})])
    assert out == head("a") + "spec:\n  # c\n  vlan: 1"


def test_deleting_a_document_whose_flow_value_closes_at_the_start_of_its_last_line_removes_that_line():
    assert apply_edits(head("a") + "x: {a: 1,\n}\n---\n" + head("b"), [Edit.delete(0)]) == head("b")
    assert apply_edits(head("a") + "---\n" + head("b") + "x: {a: 1,\n}\n", [Edit.delete(1)]) == head("a")


# --------------------------------------------------------------------------------------------
# Flow mappings: values are patched in flow style, anything else re-renders the mapping's key


def test_an_untouched_value_in_a_flow_mapping_keeps_its_quotes():
    text = head("a") + "spec: {a: 'x', b: 1}  # c\n"
    out = apply_edits(text, [Edit.replace(0, {"a": "x", "b": 2})])
    assert out == head("a") + "spec: {a: 'x', b: 2}  # c\n"


def test_text_that_is_plain_only_outside_braces_is_quoted_in_a_flow_mapping():
    text = head("a") + "spec: {a: x, b: 1}  # c\n"
    out = apply_edits(text, [Edit.replace(0, {"a": "x,y", "b": 1})])
    assert out == head("a") + "spec: {a: 'x,y', b: 1}  # c\n"


def test_a_mapping_nested_in_a_flow_mapping_is_patched_in_flow_style():
    text = head("a") + "# c\nspec:\n  m: {a: {b: 1}, c: 2}\n"
    out = apply_edits(text, [Edit.replace(0, {"m": {"a": {"b": 3}, "c": 2}})])
    assert out == head("a") + "# c\nspec:\n  m: {a: {b: 3}, c: 2}\n"


def test_a_key_added_to_a_flow_mapping_re_renders_it_as_a_block_and_the_comments_stay():
    text = head("a") + "# c\nspec: {a: x, b: 1}\n"
    out = apply_edits(text, [Edit.replace(0, {"a": "x", "b": 1, "c": 2})])
    assert out == head("a") + "# c\nspec:\n  a: x\n  b: 1\n  c: 2\n"


def test_a_flow_mapping_with_a_null_key_is_re_rendered_with_the_key_as_text():
    text = head("a") + "spec: {~: 1, b: 2}  # c\n"
    out = apply_edits(text, [Edit.replace(0, {"null": 1, "b": 3})])
    assert out == head("a") + "spec:\n  'null': 1\n  b: 3  # c\n"


# --------------------------------------------------------------------------------------------
# Keys: removed with their lines, added one per line, re-rendered in place when they change shape


def test_a_mapping_with_a_key_that_is_not_text_is_re_rendered_with_its_keys_as_text():
    text = head("a") + "spec:\n  1: one\n  x: 1  # c\n"
    out = apply_edits(text, [Edit.replace(0, {"1": "one", "x": 2})])
    assert out == head("a") + "spec:\n  '1': one\n  x: 2  # c\n"


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_removing_the_last_line_of_a_file_without_final_newline_leaves_no_final_newline(newline: str):
    text = (head("a") + "spec:\n  # c\n  x: 1\n  y: 2").replace("\n", newline)
    out = apply_edits(text, [Edit.replace(0, {"x": 1})])
    assert out == (head("a") + "spec:\n  # c\n  x: 1").replace("\n", newline)


def test_a_block_scalar_that_becomes_a_mapping_is_re_rendered_in_place_before_its_blank_line():
    text = head("a") + "spec:\n  # c\n  text: |\n    one\n\n  vlan: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"text": {"a": 1}, "vlan": 1})])
    assert out == head("a") + "spec:\n  # c\n  text:\n    a: 1\n\n  vlan: 1\n"


def test_keys_added_to_one_mapping_go_one_per_line_in_their_order():
    text = head("a") + "spec:\n  # c\n  x: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"x": 1, "y": 2, "z": 3})])
    assert out == head("a") + "spec:\n  # c\n  x: 1\n  y: 2\n  z: 3\n"


def test_a_list_re_rendered_before_a_comment_writes_its_last_multi_line_item_on_one_line():
    text = head("a") + "spec:\n  l: [a]  # c\n"
    out = apply_edits(text, [Edit.replace(0, {"l": ["b", "x\ny"]})])
    assert out == head("a") + 'spec:\n  l:\n    - b\n    - "x\\ny"  # c\n'


def test_a_list_re_rendered_with_its_key_writes_multi_line_items_as_literal_blocks():
    text = head("a") + "spec:\n  # c\n  l: [a]\n  b: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"l": ["x\ny", "b"], "b": 1})])
    assert out == head("a") + "spec:\n  # c\n  l:\n    - |-\n      x\n      y\n    - b\n  b: 1\n"


def test_a_list_re_rendered_with_its_key_is_written_exactly():
    text = head("a") + "spec:\n  # c\n  l: [a]\n"
    out = apply_edits(text, [Edit.replace(0, {"l": ["b", "abX"]})])
    assert out == head("a") + "spec:\n  # c\n  l:\n    - b\n    - abX\n"


def test_adding_a_key_to_a_document_and_deleting_the_last_document_after_it_in_one_go():
    text = head("a") + "spec:\n  x: 1\n---\n" + head("b")
    out = apply_edits(text, [Edit.replace(0, {"x": 1, "y": 2}), Edit.delete(1)])
    assert out == head("a") + "spec:\n  x: 1\n  y: 2\n"


# --------------------------------------------------------------------------------------------
# A document that cannot be patched (here: a key that is not text) is written again whole


def test_a_document_written_again_at_the_end_of_a_file_without_final_newline_quotes_multi_line_text():
    # a `|` block there would lose its last line break when read back
    out = apply_edits(head("a") + "1: x\nspec:\n  a: 1", [Edit.replace(0, {"a": "y\nz\n"})])
    assert out == head("a") + "'1': x\nspec:\n  a: \"y\\nz\\n\""


def test_a_document_written_again_in_an_indentless_file_keeps_its_lists_indentless():
    text = head("a") + "1: x\nspec:\n  l:\n  - a\n  b: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"l": ["a", "c"], "b": 2})])
    assert out == head("a") + "'1': x\nspec:\n  l:\n  - a\n  - c\n  b: 2\n"


def test_a_document_written_again_in_an_indented_file_keeps_its_lists_indented():
    text = head("a") + "1: x\nspec:\n  l:\n    - a\n  b: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"l": ["a", "c"], "b": 2})])
    assert out == head("a") + "'1': x\nspec:\n  l:\n    - a\n    - c\n  b: 2\n"


def test_a_document_written_again_keeps_its_last_value_exactly():
    out = apply_edits(head("a") + "1: x\nspec:\n  a: 1\n", [Edit.replace(0, {"a": "abX"})])
    assert out == head("a") + "'1': x\nspec:\n  a: abX\n"


def test_a_document_written_again_keeps_the_comment_on_its_separator_line():
    text = "--- # first\n" + head("a") + "1: x\nspec:\n  a: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"a": 2})])
    assert out == "--- # first\n" + head("a") + "'1': x\nspec:\n  a: 2\n"


def test_a_document_starting_on_its_separator_line_is_written_again_under_a_bare_separator():
    text = "--- !!map\n" + head("a") + "1: x\nspec:\n  a: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"a": 2})])
    assert out == "---\n" + head("a") + "'1': x\nspec:\n  a: 2\n"


# --------------------------------------------------------------------------------------------
# A new key's multi-line text is a `|` block, as in any document the editor writes, unless
# nothing follows it: the last line of a file without a final newline


def test_a_key_added_with_multi_line_text_before_another_key_is_written_as_a_literal_block():
    text = head("a") + "spec:\n  m:\n    x: 1\n  y: 2\n"
    out = apply_edits(text, [Edit.replace(0, {"m": {"x": 1, "t": "a\nb\n"}, "y": 2})])
    assert out == head("a") + "spec:\n  m:\n    x: 1\n    t: |\n      a\n      b\n  y: 2\n"


def test_keys_added_with_multi_line_text_at_the_end_of_a_file_without_final_newline():
    text = head("a") + "spec:\n  x: 1"
    out = apply_edits(text, [Edit.replace(0, {"x": 1, "t": "a\nb\n", "u": "c\nd"})])
    assert out == head("a") + 'spec:\n  x: 1\n  t: |\n    a\n    b\n  u: "c\\nd"'


# --------------------------------------------------------------------------------------------
# Several changes in one document or one file


def test_a_key_added_to_a_nested_mapping_and_the_next_key_of_its_parent_removed_in_one_edit():
    # the insertion and the removal start at the same offset: the insertion goes first
    text = head("a") + "spec:\n  # c\n  m:\n    x: 1\n  y: 2\n"
    out = apply_edits(text, [Edit.replace(0, {"m": {"x": 1, "z": 3}})])
    assert out == head("a") + "spec:\n  # c\n  m:\n    x: 1\n    z: 3\n"


def test_a_file_without_a_list_under_a_key_gets_indented_lists():
    text = head("a") + "spec:\n  x: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"x": 1, "l": ["a"]}), Edit.append("VPC", "b", {"l": ["b"]})])
    assert out is not None
    assert out.startswith(head("a") + "spec:\n  x: 1\n  l:\n    - a\n---\n")
    assert out.endswith("spec:\n  l:\n    - b\n")


def test_edits_after_an_append_in_one_call_are_applied():
    text = head("a") + "spec:\n  x: 1\n"
    out = apply_edits(text, [Edit.append("VPC", "b", {"x": 1}), Edit.replace(0, {"x": 2})])
    assert out is not None and load_documents(out)[0]["spec"] == {"x": 2}


def test_edits_after_one_that_changes_nothing_are_applied():
    text = head("a") + "spec:\n  x: 1\n---\n" + head("b") + "spec:\n  x: 1\n"
    out = apply_edits(text, [Edit.replace(0, {"x": 1}), Edit.replace(1, {"x": 2})])
    assert out == head("a") + "spec:\n  x: 1\n---\n" + head("b") + "spec:\n  x: 2\n"


# --------------------------------------------------------------------------------------------
# Where a document's content ends


def test_a_document_ends_at_its_last_character_whatever_it_is():
    text = head("a") + "spec:\n  x: abX\n---\n" + head("b")
    [first, _] = document_spans(text)
    assert first.content is not None and text[: first.content[1]].endswith("x: abX")
    assert apply_edits(text, [Edit.delete(0)]) == head("b")


def test_a_document_ending_in_a_block_scalar_right_before_the_next_separator_ends_at_its_text():
    text = head("a") + "t: |\n  a\n---\n" + head("b")
    [first, _] = document_spans(text)
    assert first.content == (0, len(head("a") + "t: |\n  a"))
    assert apply_edits(text, [Edit.delete(0)]) == head("b")


def test_a_document_whose_flow_value_closes_at_the_start_of_its_last_line_ends_on_that_line():
    text = head("a") + "x: {a: 1,\n}\n---\n" + head("b")
    assert document_spans(text)[0].end_line == 6


def test_an_implicit_empty_first_document_stands_on_line_one():
    [empty, _] = document_spans("~\n---\n" + head("a"))
    assert (empty.index, empty.content, empty.start_line, empty.end_line) == (None, None, 1, 1)


def test_the_body_a_replace_edit_asks_for_shares_nothing_with_the_original():
    original = {"kind": "VPC", "metadata": {"name": "a"}, "status": {"ready": True}, "spec": {"x": 1}}
    body = new_body(original, Edit.replace(0, {"x": 2}))
    body["status"]["ready"] = False
    assert original["status"] == {"ready": True}
