"""File mapping, behaviour by behaviour: which names and paths are refused and why (the reason
is what an operator reads), how a managed path reads back, and how branch names are cleaned."""

from __future__ import annotations

import pytest

from bot.core.filemap import (
    UnsafePath,
    branch_name,
    file_stem,
    is_fabric_yaml,
    new_resource_path,
    normalize_directory,
    parse_managed_path,
    safe_join,
    short_operation_id,
    unread_entry,
)
from bot.core.kinds import KINDS
from bot.core.render import load_documents
from tests.conftest import shared_path

OPERATION = "0123abcd-0000-4000-8000-000000000000"


# --------------------------------------------------------------------------------------------
# Names that are refused, with the reason


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "resource name is empty"),
        ("a\x00b", "resource name 'a\\x00b' contains NUL"),
        ("a\\b", "resource name 'a\\\\b' contains a backslash"),
        ("a\x01b", "resource name 'a\\x01b' contains a control character"),
        ("a\x1fb", "resource name 'a\\x1fb' contains a control character"),
        ("a\x7fb", "resource name 'a\\x7fb' contains a control character"),
        ("a/b", "resource name 'a/b' contains '/'"),
        (".hidden", "resource name '.hidden' starts with '.'"),
    ],
)
def test_a_resource_name_that_could_escape_or_hide_is_refused_with_the_reason(name, reason):
    with pytest.raises(UnsafePath) as refused:
        new_resource_path("fab", "VPC", name)
    assert str(refused.value) == reason


def test_a_name_that_is_not_a_string_is_refused_as_empty():
    with pytest.raises(UnsafePath, match="^resource name is empty$"):
        file_stem("VPC", None)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["a b", "a\x80b", "a~b", "ü", "a.b", "a..b", "-a", "a\u2028b"])
def test_the_characters_just_outside_the_refused_ranges_are_allowed(name):
    # 0x20 (space) and 0x80 are the first characters after the control ranges 0x00-0x1F, 0x7F
    path = new_resource_path("fab", "VPC", name)
    assert parse_managed_path("fab", path) == ("VPC", name)


# --------------------------------------------------------------------------------------------
# Paths that are refused, with the reason


@pytest.mark.parametrize(
    ("relative", "reason"),
    [
        ("", "path is empty"),
        ("/etc/passwd", "path '/etc/passwd' is absolute"),
        ("C:/x.yaml", "path 'C:/x.yaml' looks like a drive path"),
        ("c:x.yaml", "path 'c:x.yaml' looks like a drive path"),
        ("a//b.yaml", "path 'a//b.yaml' has an empty, '.' or '..' segment"),
        ("./b.yaml", "path './b.yaml' has an empty, '.' or '..' segment"),
        ("a/../b.yaml", "path 'a/../b.yaml' has an empty, '.' or '..' segment"),
        ("a/", "path 'a/' has an empty, '.' or '..' segment"),
        ("a\\b.yaml", "path 'a\\\\b.yaml' contains a backslash"),
        ("a\x00.yaml", "path 'a\\x00.yaml' contains NUL"),
        ("a\n.yaml", "path 'a\\n.yaml' contains a control character"),
    ],
)
def test_a_path_that_is_not_plain_is_refused_with_the_reason(relative, reason):
    with pytest.raises(UnsafePath) as refused:
        safe_join("fab", relative)
    assert str(refused.value) == reason


def test_a_path_that_is_not_a_string_is_refused_with_its_type():
    with pytest.raises(UnsafePath, match="^path must be a string, not int$"):
        safe_join("fab", 5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("directory", "reason"),
    [
        ("/abs", "fabric directory '/abs' is absolute"),
        ("a/..", "fabric directory 'a/..' has an empty, '.' or '..' segment"),
        ("a\\b", "fabric directory 'a\\\\b' contains a backslash"),
    ],
)
def test_a_fabric_directory_that_is_not_plain_is_refused_with_the_reason(directory, reason):
    with pytest.raises(UnsafePath) as refused:
        normalize_directory(directory)
    assert str(refused.value) == reason


def test_the_repository_root_is_written_as_nothing():
    assert normalize_directory(None) == normalize_directory("") == normalize_directory(".") == ""
    assert safe_join(".", "a.yaml") == "a.yaml"
    assert safe_join("fabrics/one", "a.yaml") == "fabrics/one/a.yaml"
    assert new_resource_path("", "VPC", "v") == "managed/vpcs/v.yaml"


def test_fabric_yaml_is_any_case_of_yaml_or_yml_inside_the_directory():
    assert is_fabric_yaml("fab", "fab/x.YAML") and is_fabric_yaml("fab", "fab/x.Yml")
    assert not is_fabric_yaml("fab", "fab/x.yaml.txt")
    assert not is_fabric_yaml("fab", "other/x.yaml")


# --------------------------------------------------------------------------------------------
# Managed paths read back


def test_every_resource_of_the_real_samples_maps_to_a_file_and_back():
    seen: dict[str, tuple[str, str]] = {}
    for sample in ("lab-ci_wiring.yaml", "gitops-test-1_prepop.yaml", "demo-gitops_demo.yaml"):
        for body in load_documents(shared_path("hedgehog", "samples", sample).read_text()):
            kind, name = body["kind"], body["metadata"]["name"]
            path = new_resource_path("fabrics/lab", kind, name)
            assert path.startswith(f"fabrics/lab/managed/{KINDS[kind].folder}/")
            assert parse_managed_path("fabrics/lab", path) == (kind, name)
            assert seen.setdefault(path, (kind, name)) == (kind, name), "two resources share a file"


@pytest.mark.parametrize(
    "path",
    [
        "fab/managed/vpcs/a.yml",  # not .yaml
        "fab/managed/vpcs/.yaml",  # no stem
        "fab/managed/nothing/a.yaml",  # not a kind's folder
        "fab/other/vpcs/a.yaml",  # not managed/
        "fab/managed/vpcs/deeper/a.yaml",  # too deep
        "fab/managed/a.yaml",  # too shallow
        "other/managed/vpcs/a.yaml",  # another fabric
        "fab/managed/vpcs/a.yaml/x",
    ],
)
def test_a_path_the_bot_would_not_write_is_not_a_managed_path(path):
    assert parse_managed_path("fab", path) is None


def test_a_stem_that_is_only_a_kind_suffix_is_a_primary_resource_of_that_name():
    assert parse_managed_path("fab", "fab/managed/vpcs/.vpcattachment.yaml") == ("VPC", ".vpcattachment")
    assert parse_managed_path("fab", "fab/managed/vpcs/a.VPCAttachment.yaml") == ("VPCAttachment", "a")
    assert parse_managed_path("", "managed/switches/leaf-1.yaml") == ("Switch", "leaf-1")
    assert parse_managed_path("", "managed/switches/g.switchgroup.yaml") == ("SwitchGroup", "g")


def test_a_primary_name_ending_in_its_own_kind_gets_the_suffix_too():
    assert file_stem("VPC", "a.vpc") == "a.vpc.vpc"
    assert file_stem("VPC", "a.VPCPeering") == "a.VPCPeering.vpc"
    assert file_stem("VPC", "a.switch") == "a.switch"  # another folder's kind
    assert parse_managed_path("", new_resource_path("", "VPC", "a.vpc")) == ("VPC", "a.vpc")


def test_an_unknown_kind_is_refused_by_name():
    with pytest.raises(ValueError, match="^unknown kind 'Nope'$"):
        new_resource_path("fab", "Nope", "a")
    assert new_resource_path("fab", KINDS["Server"], "s") == "fab/managed/servers/s.yaml"


# --------------------------------------------------------------------------------------------
# Branch names


@pytest.mark.parametrize(
    ("fabric", "component"),
    [
        ("lab", "lab"),
        ("Lab One", "Lab-One"),
        ("a..b", "a.b"),
        ("a...b", "a.b"),
        ("a--b", "a-b"),
        ("a - b", "a-b"),
        ("a/b", "a-b"),
        ("a@{b}", "a-b"),
        (".a.", "a"),
        ("-a-", "a"),
        ("a.lock", "a"),
        ("a.lock.lock", "a"),
        ("a-.lock", "a"),
        ("a.locked", "a.locked"),
        ("X.lab.X", "X.lab.X"),
        ("labX.lock", "labX"),
        ("", "fabric"),
        ("...", "fabric"),
        (".lock", "lock"),
        ("ü", "fabric"),
        ("x" * 150, "x" * 100),
    ],
)
def test_a_fabric_name_is_cleaned_into_one_valid_ref_component(fabric, component):
    assert branch_name(fabric, OPERATION) == f"hnp-sync/{component}/0123abcd"


def test_the_operation_id_gives_its_first_eight_hex_digits():
    assert short_operation_id("0123ABCD-ffff") == "0123abcd"
    assert short_operation_id("x0-1-2-3-4-5-6-7-8") == "01234567"
    with pytest.raises(ValueError, match="^operation id 'abc' has fewer than 8 hex digits$"):
        short_operation_id("abc")
    assert short_operation_id("0123abcd") == "0123abcd"


def test_every_folder_has_one_primary_kind_whose_files_carry_no_suffix():
    folders = {kind.folder for kind in KINDS.values()}
    for folder in folders:
        assert [k.kind for k in KINDS.values() if k.folder == folder and k.primary], folder
        assert len([k for k in KINDS.values() if k.folder == folder and k.primary]) == 1, folder


# --------------------------------------------------------------------------------------------
# Entries of a fabric's directory that are not read, with the reason


@pytest.mark.parametrize(
    ("directory", "path", "mode", "reason"),
    [
        ("fab", "fab/link.yaml", "120000", "a symbolic link: links are not followed, so what it points to is not read"),
        ("fab", "fab/vendor", "160000", "a submodule (a commit of another repository): its files are not read"),
        ("fab", "fab/a\nb.yaml", "100644", "a YAML file whose path contains a control character: it is not read"),
        ("", "a\tb.yml", "100755", "a YAML file whose path contains a control character: it is not read"),
        ("fab", "fab/x/../b.yaml", "100644", "a YAML file whose path is not a plain relative path: it is not read"),
    ],
)
def test_an_entry_that_is_not_read_says_why(directory, path, mode, reason):
    entry = unread_entry(directory, path, mode)
    assert entry is not None and entry.reason == reason and entry.path == path


def test_a_shown_path_escapes_exactly_the_control_characters():
    entry = unread_entry("", "a \x1f\x7f\x80é.yaml", "100644")
    assert entry is not None and entry.shown_path == "a \\x1f\\x7f\x80é.yaml"
