"""Entries under a fabric's directory that the bot does not read are named, with the reason,
and listed on the validate check run (never skipped in silence)."""

from __future__ import annotations

import pytest

from bot.core.checks import validate_check_output, with_unread_entries
from bot.core.filemap import GITLINK_MODE, SYMLINK_MODE, UnreadEntry, unread_entry


@pytest.mark.parametrize(
    ("path", "mode", "why"),
    [
        ("fabric/link.yaml", SYMLINK_MODE, "symbolic link"),
        ("fabric/docs", SYMLINK_MODE, "symbolic link"),  # may stand for a folder of YAML
        ("fabric/vendor", GITLINK_MODE, "submodule"),
        ("fabric/deep/er/vendor", GITLINK_MODE, "submodule"),
        ("fabric/tab\tname.yaml", "100644", "control character"),
        ("fabric/new\nline.yml", "100755", "control character"),
        ("fabric/trailing.YAML\n", "100644", "control character"),
        # a control a whitespace split would cut the name at: the name is cut at "/" only
        ("fabric/split.ya\x1cml", "100644", "control character"),
        ("fabric/back\\slash.yaml", "100644", "backslash"),
    ],
)
def test_an_entry_the_bot_cannot_read_is_named_with_its_reason(path: str, mode: str, why: str) -> None:
    entry = unread_entry("fabric", path, mode)
    assert entry is not None and entry.path == path
    assert why in entry.reason
    assert "\n" not in entry.shown_path and "\t" not in entry.shown_path


@pytest.mark.parametrize(
    ("directory", "path", "mode"),
    [
        ("fabric", "fabric/vpcs.yaml", "100644"),  # read
        ("fabric", "fabric/run.yml", "100755"),  # read
        ("fabric", "other/link.yaml", SYMLINK_MODE),  # not the fabric's
        ("fabric", "fabricx/vendor", GITLINK_MODE),  # a sibling folder with the same prefix
        ("fabric", "fabric/notes\t.txt", "100644"),  # not YAML: never read anyway
    ],
)
def test_an_entry_that_is_read_or_not_the_fabrics_is_not_listed(directory: str, path: str, mode: str) -> None:
    assert unread_entry(directory, path, mode) is None


def test_at_the_repository_root_every_symlink_and_submodule_is_the_fabrics() -> None:
    assert unread_entry("", "a.yaml", SYMLINK_MODE) is not None
    assert unread_entry(".", "x/vendor", GITLINK_MODE) is not None


def test_a_shown_path_escapes_control_characters() -> None:
    assert UnreadEntry("f/a\tb\nc\x01.yaml", "x").shown_path == "f/a\\tb\\nc\\x01.yaml"


UNREAD = [
    UnreadEntry("fabric/link.yaml", "a symbolic link"),
    UnreadEntry("fabric/tab\tname.yaml", "a bad name"),
]


def test_a_valid_commit_with_entries_not_read_is_neutral_not_valid() -> None:
    payload = with_unread_entries(validate_check_output({}, {"VPC": {"created": 1}}), UNREAD)
    assert payload["conclusion"] == "neutral"
    assert payload["output"]["title"] == "Valid; 2 entries not read"
    summary = payload["output"]["summary"]
    assert "| fabric/link.yaml | a symbolic link |" in summary
    assert "fabric/tab\\\\tname.yaml" in summary  # the escape, escaped for Markdown
    annotations = payload["output"]["annotations"]
    assert [(a["path"], a["annotation_level"], a["title"]) for a in annotations] == [
        ("fabric/link.yaml", "warning", "Not read"),
        ("fabric", "warning", "Not read"),  # a name GitHub could not show: its folder
    ]
    assert annotations[1]["message"] == "fabric/tab\\tname.yaml: a bad name"


def test_an_invalid_commit_stays_a_failure_and_also_lists_what_was_not_read() -> None:
    invalid = validate_check_output({"fabric/a.yaml": [{"message": "bad", "line": 3, "document": 0}]})
    payload = with_unread_entries(invalid, UNREAD[:1])
    assert payload["conclusion"] == "failure"
    assert payload["output"]["title"] == invalid["output"]["title"]
    assert [a["annotation_level"] for a in payload["output"]["annotations"]] == ["failure", "warning"]
    assert "1 entry under the fabric's directory not read" in payload["output"]["summary"]


def test_nothing_not_read_leaves_the_check_run_as_it_was() -> None:
    valid = validate_check_output({}, {})
    assert with_unread_entries(valid, []) == valid
