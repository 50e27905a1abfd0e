"""Rendering is deterministic, and files are edited as a person would edit them."""

from __future__ import annotations

import copy
import random
import re
from pathlib import Path

import pytest
import yaml

from bot.core.render import (
    Edit,
    apply_edits,
    document_spans,
    dump_yaml,
    load_documents,
    render_resource,
)

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SAMPLES = SHARED / "hedgehog" / "samples"
SAMPLE_FILES = ["lab-ci_wiring.yaml", "gitops-test-1_prepop.yaml", "demo-gitops_demo.yaml", "demo-gitops_pre-demo.yaml"]


def sample(name: str) -> str:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"shared sample {path} is not present (the ../shared checkout is missing)")
    return path.read_text(encoding="utf-8")


def separators(text: str) -> int:
    return sum(1 for line in text.split("\n") if line.rstrip() == "---")


def comment_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.lstrip().startswith("#")]


def content_texts(text: str) -> list[str]:
    return [text[s.content[0] : s.content[1]] for s in document_spans(text) if s.content]


# --------------------------------------------------------------------------------------------
# Rendering


def test_a_resource_renders_apiversion_kind_metadata_spec_in_that_order():
    text = render_resource("VPC", "vpc-1", "default", {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001}}})
    assert text == (
        "apiVersion: vpc.githedgehog.com/v1beta1\n"
        "kind: VPC\n"
        "metadata:\n"
        "  name: vpc-1\n"
        "spec:\n"
        "  subnets:\n"
        "    default:\n"
        "      subnet: 10.0.1.0/24\n"
        "      vlan: 1001\n"
    )


def test_namespace_labels_annotations_are_written_when_they_say_something():
    text = render_resource("Server", "s1", "team-a", {}, labels={"a": "b"}, annotations={"x.io/y": "z"})
    assert text == (
        "apiVersion: wiring.githedgehog.com/v1beta1\nkind: Server\nmetadata:\n  name: s1\n"
        "  namespace: team-a\n  labels:\n    a: b\n  annotations:\n    x.io/y: z\nspec: {}\n"
    )
    assert "spec" not in render_resource("Server", "s1", spec=None)


def test_spec_key_order_is_kept_and_rendering_is_deterministic():
    spec = {"z": 1, "a": 2, "m": {"y": [1, 2], "b": []}}
    first = render_resource("VPC", "v", spec=spec)
    assert first == render_resource("VPC", "v", spec=copy.deepcopy(spec))
    assert first.index("z: 1") < first.index("a: 2") < first.index("m:")
    assert "b: []" in first
    assert "    y:\n      - 1\n      - 2\n" in first


def test_strings_that_look_like_other_types_are_quoted_and_read_back_as_strings():
    spec = {
        "a": "yes",
        "b": "1.0",
        "c": "0x1F",
        "d": "null",
        "e": "2024-01-01",
        "f": "010",
        "g": "",
        "h": "~",
        "i": "on",
        "j": "65101:3001",
        "k": "- x",
        "l": "#no",
        "m": "a: b",
    }
    body = yaml.safe_load(render_resource("VPC", "v", spec=spec))
    assert body["spec"] == spec


def test_long_strings_are_not_folded_unicode_is_kept_multiline_uses_a_block():
    long = "x" * 500 + " y" * 200
    text = render_resource("VPC", "v", spec={"long": long, "name": "ünïcödé ✓", "multi": "a\nb\n"})
    assert long in text
    assert "ünïcödé ✓" in text
    assert "multi: |\n    a\n    b\n" in text
    assert yaml.safe_load(text)["spec"]["multi"] == "a\nb\n"


def test_no_flow_style_except_empty_collections():
    text = dump_yaml({"a": [[1, 2], {"b": {}}], "c": {"d": []}})
    assert "[1" not in text and "{b" not in text
    assert "{}" in text and "[]" in text


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        render_resource("Pod", "p", spec={})


# --------------------------------------------------------------------------------------------
# Document spans agree with the project's parser


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_document_numbering_and_values_agree_with_documents_py(name):
    text = sample(name)
    documents = pytest.importorskip("bot.core.documents")
    parsed = [d for d in documents.parse_text(text)]
    assert [d.body for d in parsed] == load_documents(text)
    spans = [s for s in document_spans(text) if s.index is not None]
    assert [s.index for s in spans] == [d.index for d in parsed]
    assert [s.start_line for s in spans] == [d.line for d in parsed]


def test_empty_documents_are_not_numbered():
    text = "---\n# nothing here\n---\nkind: A\n---\nnull\n---\nkind: B\n---\n"
    spans = document_spans(text)
    assert [s.index for s in spans] == [None, 0, None, 1, None]
    assert load_documents(text) == [{"kind": "A"}, {"kind": "B"}]


# --------------------------------------------------------------------------------------------
# Republishing an unchanged spec changes no byte


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_republishing_every_unchanged_document_changes_no_byte(name):
    text = sample(name)
    bodies = load_documents(text)
    edits = [Edit.replace(i, copy.deepcopy(b.get("spec"))) for i, b in enumerate(bodies)]
    assert apply_edits(text, edits) == text
    for i, b in enumerate(bodies):
        assert apply_edits(text, [Edit.replace(i, b.get("spec"))]) == text
        assert apply_edits(text, [Edit.replace_body(i, copy.deepcopy(b))]) == text


def test_a_server_without_spec_republished_with_an_empty_spec_is_unchanged():
    text = sample("lab-ci_wiring.yaml")
    bodies = load_documents(text)
    i = next(i for i, b in enumerate(bodies) if b["kind"] == "Server")
    assert "spec" not in bodies[i]
    assert apply_edits(text, [Edit.replace(i, {})]) == text
    assert apply_edits(text, [Edit.replace(i, None)]) == text


# --------------------------------------------------------------------------------------------
# Editing one document of a multi-document file


def _untouched_outside(original: str, edited: str, span) -> None:
    """Everything before the document's content and after it is byte-identical."""
    start, end = span.content
    assert edited.startswith(original[:start])
    assert edited.endswith(original[end:])


def test_changing_a_vlan_in_lab_ci_rewrites_only_that_line():
    text = sample("lab-ci_wiring.yaml")
    bodies = load_documents(text)
    i = next(i for i, b in enumerate(bodies) if b["metadata"]["name"] == "ds3000-03--default")
    spec = copy.deepcopy(bodies[i]["spec"])
    spec["switch"]["vlan"] = 101
    out = apply_edits(text, [Edit.replace(i, spec)])
    diff = [(a, b) for a, b in zip(text.split("\n"), out.split("\n")) if a != b]
    assert diff == [("    vlan: 100", "    vlan: 101")]
    assert len(out) == len(text)
    expected = copy.deepcopy(bodies)
    expected[i]["spec"] = spec
    assert load_documents(out) == expected


def test_editing_a_switch_keeps_its_annotations_and_their_comments():
    text = sample("lab-ci_wiring.yaml")
    bodies = load_documents(text)
    i = next(i for i, b in enumerate(bodies) if b["metadata"]["name"] == "ds3000-02")
    spec = copy.deepcopy(bodies[i]["spec"])
    spec["description"] = "leaf-2 (renamed)"
    spec["portBreakouts"]["E1/5"] = "4x10G"
    del spec["boot"]
    out = apply_edits(text, [Edit.replace(i, spec)])
    span = [s for s in document_spans(text) if s.index == i][0]
    _untouched_outside(text, out, span)
    assert "    # link.hhfab.githedgehog.com/E1_1_4: pci@0000:b8:00.1\n" in out
    assert load_documents(out)[i]["metadata"] == bodies[i]["metadata"]
    assert load_documents(out)[i]["spec"] == spec
    assert "  description: leaf-2 (renamed)\n" in out
    assert "    E1/5: 4x10G\n" in out
    assert "R4039F2B074C17GD300133" not in out


def test_an_edit_may_replace_labels_and_annotations():
    text = sample("lab-ci_wiring.yaml")
    bodies = load_documents(text)
    i = next(i for i, b in enumerate(bodies) if b["metadata"]["name"] == "ds3000-01")
    out = apply_edits(text, [Edit.replace(i, bodies[i]["spec"], labels={"team": "net"}, annotations={})])
    meta = load_documents(out)[i]["metadata"]
    assert meta == {"name": "ds3000-01", "labels": {"team": "net"}}


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_every_document_can_be_edited_alone(name):
    text = sample(name)
    bodies = load_documents(text)
    spans = [s for s in document_spans(text) if s.index is not None]
    for i, body in enumerate(bodies):
        spec = copy.deepcopy(body.get("spec")) or {}
        spec["addedByGui"] = {"x": [1, "two"], "y": "z"}
        if spec.get("permit") is not None:
            spec["permit"] = [{"changed": {"subnets": ["a", "b"]}}]
        out = apply_edits(text, [Edit.replace(i, spec)])
        _untouched_outside(text, out, spans[i])
        expected = copy.deepcopy(bodies)
        expected[i]["spec"] = spec
        assert load_documents(out) == expected, (name, i)
        assert separators(out) == separators(text)
        assert content_texts(out)[:i] == content_texts(text)[:i]
        assert content_texts(out)[i + 1 :] == content_texts(text)[i + 1 :]


def test_structural_changes_are_re_rendered_where_they_stand():
    text = sample("demo-gitops_demo.yaml")
    bodies = load_documents(text)
    spec = copy.deepcopy(bodies[0]["spec"])
    spec["subnets"]["subnet-1"]["dhcp"] = True  # a mapping becomes a scalar
    spec["subnets"]["subnet-2"]["vlan"] = {"odd": 1}  # a scalar becomes a mapping
    spec["permit"] = [["subnet-1"], ["subnet-2"]]  # a list changes
    del spec["subnets"]["subnet-2"]["isolated"]
    out = apply_edits(text, [Edit.replace(0, spec)])
    assert load_documents(out)[0]["spec"] == spec
    assert load_documents(out)[1:] == bodies[1:]
    assert out.startswith("#\n# VPC demo-vpc-3 and its attachment to server-3\n#\n")
    assert "      dhcp: true\n" in out
    assert "  permit:\n    - - subnet-1\n    - - subnet-2\n" in out


def test_an_edit_inside_a_list_item_keeps_the_dash():
    text = sample("demo-gitops_demo.yaml")
    bodies = load_documents(text)
    i = next(i for i, b in enumerate(bodies) if b["kind"] == "ExternalPeering")
    spec = copy.deepcopy(bodies[i]["spec"])
    spec["permit"]["external"]["prefixes"][0]["prefix"] = "10.0.0.0/8"
    out = apply_edits(text, [Edit.replace(i, spec)])
    assert "        - prefix: 10.0.0.0/8\n" in out
    assert load_documents(out)[i]["spec"] == spec


def test_indentless_files_stay_indentless():
    text = sample("gitops-test-1_prepop.yaml")
    bodies = load_documents(text)
    i = next(i for i, b in enumerate(bodies) if b["kind"] == "Switch" and b["spec"].get("groups"))
    spec = copy.deepcopy(bodies[i]["spec"])
    spec["groups"] = ["mclag-1", "empty"]
    out = apply_edits(text, [Edit.replace(i, spec)])
    assert "  groups:\n  - mclag-1\n  - empty\n" in out
    out = apply_edits(text, [Edit.append("VPC", "v9", {"permit": [["a", "b"]]})])
    assert out.endswith("spec:\n  permit:\n  - - a\n    - b\n")


# --------------------------------------------------------------------------------------------
# Deleting


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_deleting_any_one_document_removes_its_text_and_one_separator(name):
    text = sample(name)
    bodies = load_documents(text)
    for i in range(len(bodies)):
        out = apply_edits(text, [Edit.delete(i)])
        assert out is not None
        assert load_documents(out) == bodies[:i] + bodies[i + 1 :], (name, i)
        assert separators(out) == separators(text) - 1, (name, i)
        kept = content_texts(text)
        del kept[i]
        assert content_texts(out) == kept
        # no comment outside the deleted document's content is lost
        span = [s for s in document_spans(text) if s.index == i][0]
        inside = comment_lines(text[span.content[0] : span.content[1]])
        expected_comments = list(comment_lines(text))
        for c in inside:
            expected_comments.remove(c)
        assert comment_lines(out) == expected_comments


def test_a_section_header_before_the_next_document_stays_with_it():
    text = sample("demo-gitops_demo.yaml")
    out = apply_edits(text, [Edit.delete(1)])  # the VPCAttachment
    assert (
        "    - [subnet-1, subnet-2]\n---\n#\n# VPC Peering: vpc-1 <> vpc-2\n#\n"
        "apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPCPeering\n" in out
    )
    assert "VPCAttachment" not in out


def test_deleting_the_first_document_keeps_the_files_header_comment():
    text = sample("lab-ci_wiring.yaml")
    out = apply_edits(text, [Edit.delete(0)])
    assert out.startswith(
        "###\n### Basic entities: namespaces, racks, switches\n###\n\napiVersion: vpc.githedgehog.com/v1beta1\nkind: IPv4Namespace\n"
    )


def test_deleting_several_neighbours_at_once():
    text = sample("lab-ci_wiring.yaml")
    bodies = load_documents(text)
    for chosen in ([1, 2], [0, 1, 2], [len(bodies) - 2, len(bodies) - 1], [3, 4, 5, 9, 10, 30]):
        out = apply_edits(text, [Edit.delete(i) for i in chosen])
        assert load_documents(out) == [b for i, b in enumerate(bodies) if i not in chosen]
        assert separators(out) == separators(text) - len(chosen)
        assert not re.search(r"^---\n---$", out, re.M)


def test_deleting_the_only_document_deletes_the_file():
    text = sample("demo-gitops_pre-demo.yaml")
    assert apply_edits("# a comment\napiVersion: v\nkind: VPC\n", [Edit.delete(0)]) is None
    n = len(load_documents(text))
    assert apply_edits(text, [Edit.delete(i) for i in range(n)]) is None


def test_deleting_everything_but_appending_keeps_the_file():
    out = apply_edits("a: 1\n---\nb: 2\n", [Edit.delete(0), Edit.delete(1), Edit.append_body({"c": 3})])
    assert load_documents(out) == [{"c": 3}]


# --------------------------------------------------------------------------------------------
# Appending


def test_appending_leaves_the_file_as_a_prefix():
    text = sample("lab-ci_wiring.yaml")
    out = apply_edits(
        text, [Edit.append("VPC", "vpc-9", {"subnets": {"default": {"subnet": "10.9.0.0/24", "vlan": 1009}}})]
    )
    assert out.startswith(text)
    assert out[len(text) :] == "---\n" + render_resource(
        "VPC", "vpc-9", spec={"subnets": {"default": {"subnet": "10.9.0.0/24", "vlan": 1009}}}
    )
    assert load_documents(out)[-1]["metadata"]["name"] == "vpc-9"


def test_appending_to_nothing_and_to_odd_endings():
    body = {"kind": "VPC", "spec": {}}
    assert apply_edits(None, [Edit.append_body(body)]) == "kind: VPC\nspec: {}\n"
    assert apply_edits("", []) is None
    assert apply_edits("a: 1", [Edit.append_body(body)]) == "a: 1\n---\nkind: VPC\nspec: {}\n"
    assert apply_edits("a: 1\n---\n", [Edit.append_body(body)]) == "a: 1\n---\nkind: VPC\nspec: {}\n"
    assert apply_edits("# only a comment\n", [Edit.append_body(body)]) == "# only a comment\nkind: VPC\nspec: {}\n"


def test_edit_delete_and_append_in_one_go():
    text = sample("lab-ci_wiring.yaml")
    bodies = load_documents(text)
    spec = copy.deepcopy(bodies[5]["spec"])
    spec["role"] = "border-leaf"
    out = apply_edits(
        text, [Edit.delete(7), Edit.replace(5, spec), Edit.delete(6), Edit.append("SwitchGroup", "g9", {})]
    )
    expected = copy.deepcopy(bodies)
    expected[5]["spec"] = spec
    expected = [b for i, b in enumerate(expected) if i not in (6, 7)]
    assert load_documents(out)[:-1] == expected
    assert load_documents(out)[-1]["metadata"]["name"] == "g9"


# --------------------------------------------------------------------------------------------
# Odd shapes


def test_content_on_the_separator_line():
    text = "a: 1\n--- {kind: VPC, spec: {x: 1}}\n---\nb: 2\n"
    out = apply_edits(text, [Edit.replace(1, {"x": 2})])
    assert load_documents(out) == [{"a": 1}, {"kind": "VPC", "spec": {"x": 2}}, {"b": 2}]
    assert apply_edits(text, [Edit.delete(1)]) == "a: 1\n---\nb: 2\n"


def test_indices_skip_empty_documents():
    text = "---\n# nothing\n---\nkind: A\nspec: {x: 1}\n---\nkind: B\n"
    out = apply_edits(text, [Edit.replace(0, {"x": 2})])
    assert load_documents(out) == [{"kind": "A", "spec": {"x": 2}}, {"kind": "B"}]


def test_bad_edits_are_refused():
    with pytest.raises(ValueError):
        apply_edits("a: 1\n", [Edit.delete(1)])
    with pytest.raises(ValueError):
        apply_edits("a: 1\n", [Edit.delete(0), Edit.replace(0, {})])
    with pytest.raises(yaml.YAMLError):
        apply_edits("a: [1\n", [Edit.delete(0)])


def test_random_edits_keep_every_untouched_document_byte_identical():
    rng = random.Random(7)
    for name in SAMPLE_FILES:
        text = sample(name)
        bodies = load_documents(text)
        for _ in range(40):
            n = len(bodies)
            chosen = rng.sample(range(n), k=min(n, rng.randint(1, 4)))
            edits, expected = [], copy.deepcopy(bodies)
            removed = set()
            for i in chosen:
                if rng.random() < 0.4:
                    edits.append(Edit.delete(i))
                    removed.add(i)
                else:
                    spec = copy.deepcopy(bodies[i].get("spec")) or {}
                    key = rng.choice(list(spec) or ["new"])
                    spec[key] = rng.choice([1, "x", [1, 2], {"k": "v"}, None, True, "10.0.0.0/8"])
                    edits.append(Edit.replace(i, spec))
                    expected[i]["spec"] = spec
            out = apply_edits(text, edits)
            kept = [b for i, b in enumerate(expected) if i not in removed]
            if not kept:
                assert out is None
                continue
            assert load_documents(out) == kept, (name, edits)
            original_texts = content_texts(text)
            for i in range(n):
                if i not in chosen:
                    assert original_texts[i] in out


def test_crlf_files_stay_crlf():
    text = sample("demo-gitops_pre-demo.yaml").replace("\n", "\r\n")
    bodies = load_documents(text)
    spec = copy.deepcopy(bodies[0]["spec"])
    spec["subnets"]["default"]["vlan"] = 1999
    spec["subnets"]["default"]["dhcp"] = {"enable": False}
    spec["extra"] = ["a"]
    out = apply_edits(text, [Edit.replace(0, spec), Edit.delete(2), Edit.append("SwitchGroup", "g", {})])
    assert "\n" not in out.replace("\r\n", "")
    expected = [dict(bodies[0], spec=spec), bodies[1], bodies[3]]
    assert load_documents(out)[:3] == expected
    assert load_documents(out)[3]["kind"] == "SwitchGroup"


def test_a_spec_of_none_removes_the_spec():
    out = apply_edits("kind: Server\nmetadata:\n  name: s\nspec:\n  description: x\n", [Edit.replace(0, None)])
    assert out == "kind: Server\nmetadata:\n  name: s\n"


def test_deleting_before_a_trailing_empty_document():
    assert apply_edits("a: 1\n---\nb: 2\n---\n", [Edit.delete(1)]) == "a: 1\n---\n"
    assert apply_edits("a: 1\n---\nb: 2\n---\n", [Edit.delete(0)]) == "b: 2\n---\n"
