"""Where a new resource's file goes, and no name can make the bot write outside its fabric."""

from __future__ import annotations

import itertools
import re
import uuid

import pytest

from bot.core.filemap import (
    UnsafePath,
    branch_name,
    file_stem,
    is_fabric_yaml,
    is_inside,
    new_resource_path,
    parse_managed_path,
    safe_join,
    short_operation_id,
)
from bot.core.kinds import KINDS

HOSTILE_NAMES = [
    "../../.github/workflows/x",
    "..",
    ".",
    "",
    "/etc/passwd",
    "a/../../b",
    "a\\..\\..\\b",
    "..\\x",
    "a\x00b",
    "a/b",
    ".github",
    "a\nb",
    "C:\\x",
]


def test_a_vpc_goes_to_the_vpcs_folder_and_its_attachment_beside_it():
    assert new_resource_path("fabric-1", "VPC", "a") == "fabric-1/managed/vpcs/a.yaml"
    assert new_resource_path("fabric-1", "VPCAttachment", "a") == "fabric-1/managed/vpcs/a.vpcattachment.yaml"
    assert new_resource_path("", "Connection", "c1") == "managed/connections/c1.yaml"
    assert new_resource_path(".", "Server", "s1") == "managed/servers/s1.yaml"
    assert new_resource_path("gitops/hedgehog/fabric-1", "SwitchGroup", "g") == (
        "gitops/hedgehog/fabric-1/managed/switches/g.switchgroup.yaml"
    )


def test_kind_names_are_looked_up_case_insensitively():
    assert new_resource_path("f", "vpc", "a") == "f/managed/vpcs/a.yaml"
    assert new_resource_path("f", "externalattachments", "x") == "f/managed/externals/x.externalattachment.yaml"


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError):
        new_resource_path("f", "Pod", "a")


def test_two_kinds_with_one_name_in_one_folder_never_share_a_file():
    names = [
        "a",
        "a.vpc",
        "a.vpcattachment",
        "a.vpcpeering",
        "a.vpc.vpcattachment",
        "x.ipv4namespace",
        "b.external",
        "b.externalattachment",
        "c.switchgroup",
        "c.switch",
        "c",
    ]
    seen: dict[str, tuple[str, str]] = {}
    for kind, name in itertools.product(KINDS, names):
        path = new_resource_path("f", kind, name)
        assert path not in seen, (path, seen.get(path), (kind, name))
        seen[path] = (kind, name)
        # and the mapping reads back
        assert parse_managed_path("f", path) == (kind, name)


def test_a_primary_name_that_ends_like_a_kind_gets_its_own_suffix():
    assert file_stem("VPC", "a.vpcattachment") == "a.vpcattachment.vpc"
    assert file_stem("VPC", "a.b") == "a.b"


def test_parse_managed_path_ignores_other_files():
    assert parse_managed_path("f", "f/wiring.yaml") is None
    assert parse_managed_path("f", "f/managed/unknown/a.yaml") is None
    assert parse_managed_path("f", "g/managed/vpcs/a.yaml") is None


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_no_resource_name_leaves_the_fabric_directory(name):
    with pytest.raises(UnsafePath):
        new_resource_path("fabric-1", "VPC", name)


@pytest.mark.parametrize(
    "relative",
    [
        "../x.yaml",
        "a/../../x.yaml",
        "/abs.yaml",
        "a//b.yaml",
        "./a.yaml",
        "a/./b.yaml",
        "a\\b.yaml",
        "a\x00.yaml",
        "",
        "..",
        "a/",
        "C:/x.yaml",
    ],
)
def test_safe_join_refuses_paths_that_are_not_plain(relative):
    with pytest.raises(UnsafePath):
        safe_join("fabric-1", relative)


@pytest.mark.parametrize("directory", ["../x", "/abs", "a/../b", "a//b", "a\\b", "a/"])
def test_a_bad_fabric_directory_is_refused(directory):
    with pytest.raises(UnsafePath):
        safe_join(directory, "a.yaml")


def test_safe_join_joins():
    assert safe_join("a/b", "c/d.yaml") == "a/b/c/d.yaml"
    assert safe_join("", "c.yaml") == "c.yaml"
    assert safe_join(".", "c.yaml") == "c.yaml"


def test_is_inside():
    assert is_inside("f", "f/a.yaml")
    assert is_inside("f", "f/x/y/a.yaml")
    assert not is_inside("f", "f")
    assert not is_inside("f", "fa/a.yaml")
    assert not is_inside("f", "f/../g/a.yaml")
    assert not is_inside("f", "/f/a.yaml")
    assert is_inside("", "anything/at/all.yaml")
    assert not is_inside("", "../x.yaml")
    assert not is_inside("/abs", "/abs/a.yaml")  # an absolute directory is never a fabric's
    assert not is_inside("", "")


def test_every_generated_path_is_inside_its_directory():
    for directory in ["", ".", "f", "a/b/c"]:
        for kind in KINDS:
            for name in ["a", "a.b", "x-1", "ünïcode"]:
                path = new_resource_path(directory, kind, name)
                assert is_inside(directory, path)
                assert is_fabric_yaml(directory, path)


def test_is_fabric_yaml():
    assert is_fabric_yaml("fab", "fab/wiring.yaml")
    assert is_fabric_yaml("fab", "fab/deep/er/x.yml")
    assert is_fabric_yaml("fab", "fab/X.YAML")
    assert not is_fabric_yaml("fab", "fab/readme.md")
    assert not is_fabric_yaml("fab", "other/x.yaml")
    assert not is_fabric_yaml("fab", "fabric/x.yaml")
    assert is_fabric_yaml("", "x.yaml")
    assert is_fabric_yaml(".", "a/x.yaml")
    assert not is_fabric_yaml("", ".github/../x.yaml")


GIT_REF = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*@\{)(?!.*\.lock(/|$))[^\x00-\x20~^:?*\[\\\x7f]+(?<!/)(?<!\.)$")


def test_branch_name():
    op = uuid.UUID("3f2a9c1e-0000-4000-8000-000000000000")
    assert branch_name("fabric-1", op) == "hnp-sync/fabric-1/3f2a9c1e"
    assert branch_name("fabric-1", str(op)) == "hnp-sync/fabric-1/3f2a9c1e"
    assert short_operation_id("3F2A9C1E-aaaa") == "3f2a9c1e"


@pytest.mark.parametrize("fabric", ["fab ric", "a..b", "x.lock", "..", "-a-", "a/b", "~^:?*[\\", "", "ä"])
def test_branch_names_are_valid_git_refs_whatever_the_fabric_name(fabric):
    name = branch_name(fabric, uuid.uuid4())
    assert GIT_REF.match(name), name
    assert name.startswith("hnp-sync/")
    assert name.count("/") == 2


def test_branch_name_needs_an_operation_id():
    with pytest.raises(ValueError):
        branch_name("f", "xyz")
