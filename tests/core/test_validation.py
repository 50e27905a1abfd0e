"""Validating fabric documents against the Hedgehog CRDs and the fabric's own rules."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest

from bot.core.documents import parse_file
from bot.core.kinds import KINDS
from bot.core.validation import (
    SCHEMA_DIR,
    classify,
    validate_body,
    validate_document,
    validate_name,
    validate_spec,
)

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared" / "hedgehog"


def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data {path} is absent (../shared is not checked out beside the repo)")
    return path


def doc_of(text: str):
    parsed = parse_file("f.yaml", text.encode())
    assert len(parsed.documents) == 1
    return parsed.documents[0]


def vpc(**spec_overrides):
    spec = {
        "subnets": {
            "default": {"subnet": "10.0.1.0/24", "vlan": 1001},
            "backend": {"subnet": "10.0.2.0/24", "vlan": 1002, "dhcp": {"enable": True}},
        }
    }
    spec.update(spec_overrides)
    return {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "metadata": {"name": "vpc-1"}, "spec": spec}


def messages(errors):
    return [e.message for e in errors]


# --- shipped schemas ---------------------------------------------------------------------------


def test_shipped_schemas_are_what_the_script_generates_from_the_crds_now():
    crds = shared("crds")
    spec = importlib.util.spec_from_file_location("gen", REPO / "scripts" / "generate_crd_schemas.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    generated = gen.generate(crds)
    assert set(generated) == {f"{k}.json" for k in KINDS} | {"SOURCE.md"}
    for name, content in generated.items():
        assert (SCHEMA_DIR / name).read_text() == content, f"{name} is stale: rerun scripts/generate_crd_schemas.py"


# --- real files --------------------------------------------------------------------------------


def test_the_lab_wiring_has_exactly_one_invalid_document_the_static_external_attachment():
    data = shared("samples", "lab-ci_wiring.yaml").read_bytes()
    parsed = parse_file("wiring.yaml", data)
    failing = {d.name: validate_document(d) for d in parsed.documents if validate_document(d)}
    assert list(failing) == ["ds3000-03--static-ext"]
    # its CRD (v1beta1 in ../shared) requires spec.neighbor and spec.switch, a static one has neither
    errors = failing["ds3000-03--static-ext"]
    assert [(e.path, e.message, e.line) for e in errors] == [
        ("spec.neighbor", "neighbor is required", 806),
        ("spec.switch", "switch is required", 806),
    ]
    first_only = validate_document(
        next(d for d in parsed.documents if d.name == "ds3000-03--static-ext"), all_errors=False
    )
    assert len(first_only) == 1 and first_only[0].path in ("spec.neighbor", "spec.switch")


@pytest.mark.parametrize("name", ["gitops-test-1_prepop.yaml", "demo-gitops_demo.yaml", "demo-gitops_pre-demo.yaml"])
def test_the_other_samples_are_valid(name):
    parsed = parse_file(name, shared("samples", name).read_bytes())
    assert parsed.documents
    for doc in parsed.documents:
        assert classify(doc).hedgehog
        assert validate_document(doc) == [], (doc.kind, doc.name)


# --- classification and apiVersion ------------------------------------------------------------


def test_kinds_of_other_groups_are_skipped_with_a_warning():
    verdict = classify(doc_of("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"))
    assert not verdict.hedgehog and "Deployment" in verdict.warning
    assert not classify({"apiVersion": "fabricator.githedgehog.com/v1beta1", "kind": "Fabricator"}).hedgehog
    assert not classify({"replicas": 3}).hedgehog  # a values file: no kind at all


def test_an_unknown_kind_in_a_hedgehog_group_is_an_error():
    errors = validate_body({"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPCFoo", "metadata": {"name": "a"}})
    assert classify({"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPCFoo"}).hedgehog
    assert [e.path for e in errors] == ["kind"] and "VPCFoo" in errors[0].message


def test_a_legacy_v1alpha2_document_is_told_to_use_v1beta1():
    doc = doc_of("apiVersion: vpc.githedgehog.com/v1alpha2\nkind: VPC\nmetadata:\n  name: vpc-1\nspec: {}\n")
    errors = validate_document(doc)
    assert [(e.path, e.line) for e in errors] == [("apiVersion", 1)]
    assert errors[0].message == (
        "vpc.githedgehog.com/v1alpha2 is a legacy API version; use vpc.githedgehog.com/v1beta1"
    )


def test_a_hedgehog_kind_with_a_missing_or_foreign_api_version_is_an_error():
    body = vpc()
    body.pop("apiVersion")
    assert "apiVersion is required" in messages(validate_body(body))[0]
    body["apiVersion"] = "wiring.githedgehog.com/v1beta1"
    assert messages(validate_body(body)) == [
        "VPC belongs to vpc.githedgehog.com/v1beta1, not wiring.githedgehog.com/v1beta1"
    ]


def test_a_document_that_failed_to_parse_reports_its_parse_error():
    doc = parse_file("f.yaml", b"kind: VPC\nmetadata:\n  name: a\n  name: b\n").documents[0]
    errors = validate_document(doc)
    assert len(errors) == 1 and "duplicate key" in errors[0].message and errors[0].line == 4


# --- metadata ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["vpc-1", "a", "ds3000-01--default", "leaf-01.rack-1"])
def test_good_names(name):
    assert validate_name("Connection", name) == []


@pytest.mark.parametrize("name", ["VPC-1", "-a", "a-", "a_b", "a b", "", None, 7, "x" * 254])
def test_bad_names(name):
    errors = validate_name("Connection", name)
    assert errors and {e.path for e in errors} == {"metadata.name"}


@pytest.mark.parametrize(("kind", "limit"), [("VPC", 11), ("External", 11), ("IPv4Namespace", 11)])
def test_some_kinds_limit_name_length(kind, limit):
    assert validate_name(kind, "a" * limit) == []
    assert "must be <= 11 characters" in validate_name(kind, "a" * (limit + 1))[0].message
    assert validate_name("Server", "a" * 40) == []


def test_only_the_default_namespace_and_an_empty_one_meaning_default():
    body = vpc()
    body["metadata"]["namespace"] = ""
    assert validate_body(body) == []
    body["metadata"]["namespace"] = "default"
    assert validate_body(body) == []
    body["metadata"]["namespace"] = "prod"
    assert [e.path for e in validate_body(body)] == ["metadata.namespace"]


def test_third_party_labels_and_annotations_are_kept_and_nothing_is_mutated():
    body = vpc()
    body["metadata"]["labels"] = {"team": "net", "example.com/owner": "alice"}
    body["metadata"]["annotations"] = {"hhfab.githedgehog.com/x": "y", "note": "free text: anything"}
    before = copy.deepcopy(body)
    assert validate_body(body) == []
    assert body == before


def test_a_label_value_that_yaml_made_a_boolean_is_an_error():
    doc = doc_of(
        "apiVersion: vpc.githedgehog.com/v1beta1\nkind: IPv4Namespace\nmetadata:\n  name: ns\n"
        "  labels:\n    enabled: true\nspec:\n  subnets: [10.0.0.0/16]\n"
    )
    errors = validate_document(doc)
    assert [(e.path, e.line) for e in errors] == [("metadata.labels.enabled", 6)]


def test_unknown_top_level_fields_are_errors():
    body = vpc()
    body["specs"] = {}
    assert [e.path for e in validate_body(body)] == ["specs"]


# --- spec against the CRD schema ----------------------------------------------------------------


def test_validate_spec_lists_every_schema_error_with_its_field_path():
    errors = validate_spec(
        "VPC", {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": "ten"}}, "vlna": 1, "mode": 3}
    )
    assert sorted(e.path for e in errors) == ["spec.mode", "spec.subnets.default.vlan", "spec.vlna"]


def test_the_line_of_a_schema_error_is_the_field_line():
    doc = doc_of(
        "apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: vpc-1\nspec:\n"
        "  subnets:\n    default:\n      subnet: 10.0.1.0/24\n      vlan: ten\n"
    )
    assert [(e.path, e.line) for e in validate_document(doc)] == [("spec.subnets.default.vlan", 9)]


def test_validate_spec_of_an_unknown_kind_is_an_error():
    assert validate_spec("Nope", {})[0].path == "kind"


def test_a_required_spec_is_required():
    body = {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "ExternalAttachment", "metadata": {"name": "a"}}
    assert "spec" in [e.path for e in validate_body(body)]


def test_crd_patterns_are_enforced():
    spec = {"staticExternal": {"link": {"switch": {"port": "leaf-01/E1/1", "ip": "10.0.0.1", "nextHop": "10.0.0.2"}}}}
    assert [e.path for e in validate_spec("Connection", spec)] == ["spec.staticExternal.link.switch.ip"]


# --- the fabric's own rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "path", "fragment"),
    [
        ({"subnets": {}}, "spec.subnets", "at least one subnet"),
        ({"subnets": {"a": {"subnet": "10.0.0.0/24", "vlan": 5000}}}, "spec.subnets.a.vlan", "1..4094"),
        ({"subnets": {"a": {"subnet": "10.0.0.0/24"}}}, "spec.subnets.a.vlan", "vlan is required"),
        ({"subnets": {"a": {"subnet": "10.0.0.0/31", "vlan": 10}}}, "spec.subnets.a.subnet", "<= 30"),
        ({"subnets": {"a": {"subnet": "10.0.0.300/24", "vlan": 10}}}, "spec.subnets.a.subnet", "failed to parse"),
        (
            {"subnets": {"a": {"subnet": "10.0.0.0/24", "vlan": 10, "gateway": "10.0.1.1"}}},
            "spec.subnets.a.gateway",
            "not in the subnet",
        ),
        (
            {"subnets": {"a": {"subnet": "10.0.0.0/24", "vlan": 10}, "b": {"subnet": "10.0.1.0/24", "vlan": 10}}},
            "spec.subnets.b.vlan",
            "duplicate subnet VLANs",
        ),
        (
            {"subnets": {"a": {"subnet": "10.0.0.0/16", "vlan": 10}, "b": {"subnet": "10.0.1.0/24", "vlan": 11}}},
            "spec.subnets.b.subnet",
            "overlap",
        ),
        (
            {
                "subnets": {
                    "a": {"subnet": "10.0.0.0/24", "vlan": 10, "dhcp": {"enable": True, "range": {"start": "10.0.0.1"}}}
                }
            },
            "spec.subnets.a.dhcp.range.start",
            "equal to gateway",
        ),
        ({"subnets": {"a": {"subnet": "10.0.0.0/24", "vlan": 10}}, "mode": "l3flat"}, "spec.mode", "not supported"),
        ({"subnets": {"a": {"subnet": "10.0.0.0/24", "vlan": 10}}, "permit": [["a"]]}, "spec.permit[0]", "at least 2"),
    ],
)
def test_vpc_rules(spec, path, fragment):
    errors = validate_spec("VPC", spec)
    assert any(e.path == path and fragment in e.message for e in errors), errors


def test_a_vpc_without_gateway_namespaces_or_dhcp_range_is_valid_because_the_fabric_defaults_them():
    assert validate_body(vpc()) == []


@pytest.mark.parametrize(
    ("kind", "spec", "path", "fragment"),
    [
        ("External", {"inboundCommunity": "65101:3001"}, "spec.outboundCommunity", "required"),
        (
            "External",
            {"inboundCommunity": "70000:1", "outboundCommunity": "1:1"},
            "spec.inboundCommunity",
            "not a valid community",
        ),
        (
            "ExternalAttachment",
            {
                "external": "e",
                "connection": "c",
                "switch": {"ip": "10.0.0.1"},
                "neighbor": {"asn": 1, "ip": "10.0.0.2"},
            },
            "spec.switch.ip",
            "CIDR",
        ),
        (
            "ExternalAttachment",
            {"external": "e", "connection": "c", "switch": {}, "neighbor": {}, "static": {"remoteIP": "10.0.0.2"}},
            "spec.static",
            "static.ip or static.proxy",
        ),
        ("VPCAttachment", {"subnet": "/default", "connection": "c"}, "spec.subnet", "vpc is missing"),
        ("VPCPeering", {"permit": [{"a": {}, "b": {}, "c": {}}]}, "spec.permit[0]", "exactly 2 VPCs"),
        ("VPCPeering", {"permit": [{"a": {}, "b": {}}], "remote": "x"}, "spec.remote", "no longer supported"),
        (
            "ExternalPeering",
            {"permit": {"vpc": {"name": "v"}, "external": {}}},
            "spec.permit.external.name",
            "required",
        ),
        ("IPv4Namespace", {"subnets": ["10.0.0.0/16", "10.0.1.0/24"]}, "spec.subnets[1]", "overlap"),
        ("VLANNamespace", {"ranges": [{"from": 2000, "to": 1000}]}, "spec.ranges[0]", "from > to"),
        ("VLANNamespace", {"ranges": [{"from": 4095}]}, "spec.ranges[0].from", "4094"),
        ("Switch", {"role": "server-leaf", "redundancy": {"group": "g"}}, "spec.redundancy", "without type"),
        ("Switch", {"role": "spine", "vtepIP": "172.30.0.1/32"}, "spec.vtepIP", "not allowed for spine"),
        (
            "Connection",
            {"unbundled": {"link": {"server": {"port": "s/e1"}, "switch": {"port": "leaf-01/E1/1"}}}, "bundled": {}},
            "spec",
            "exactly one connection type",
        ),
        (
            "Connection",
            {"unbundled": {"link": {"server": {"port": "s"}, "switch": {"port": "leaf-01/E1/1"}}}},
            "spec.unbundled.link.server.port",
            "<device>/<port>",
        ),
    ],
)
def test_fabric_rules_of_other_kinds(kind, spec, path, fragment):
    errors = validate_spec(kind, spec)
    assert any(e.path == path and fragment in e.message for e in errors), errors
