"""The one place that maps a resource to its file, and keeps every path inside its fabric.

Repository paths here are always relative, '/'-separated and normalised (no '.', '..' or
empty segments, no backslash, no NUL or other control character). A fabric's `directory` is
such a path, or '' / '.' for the repository root.

File naming for new resources (`new_resource_path`)
    <directory>/managed/<folder>/<stem>.yaml, where <folder> is the kind's folder from
    `kinds.KINDS` and <stem> is:

    * ``<name>`` for the folder's primary kind (VPC "a" -> managed/vpcs/a.yaml);
    * ``<name>.<kind lowercased>`` for every other kind sharing the folder
      (VPCAttachment "a" -> managed/vpcs/a.vpcattachment.yaml);
    * ``<name>.<kind lowercased>`` for the primary kind too, when the bare name would itself
      end in ".<some kind of that folder>" (VPC "a.vpcattachment" ->
      managed/vpcs/a.vpcattachment.vpc.yaml).

    So a stem ends in ".<kind>" exactly when it carries a kind suffix, which makes the mapping
    reversible (`parse_managed_path`) and two resources of different kinds, or with different
    names, never share a file, whatever their names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

from bot.core.kinds import KINDS, Kind, lookup

MANAGED = "managed"


class UnsafePath(ValueError):
    """A path or name that could leave the fabric's directory (or is not a plain path)."""


def _bad_chars(value: str) -> str | None:
    if "\x00" in value:
        return "contains NUL"
    if "\\" in value:
        return "contains a backslash"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "contains a control character"
    return None


def _check_relative(value: str, what: str) -> list[str]:
    """The segments of a normalised relative path, or UnsafePath saying why it is not one."""
    if not isinstance(value, str):
        raise UnsafePath(f"{what} must be a string, not {type(value).__name__}")
    if value == "":
        raise UnsafePath(f"{what} is empty")
    problem = _bad_chars(value)
    if problem:
        raise UnsafePath(f"{what} {value!r} {problem}")
    if value.startswith("/"):
        raise UnsafePath(f"{what} {value!r} is absolute")
    if re.match(r"^[A-Za-z]:", value):
        raise UnsafePath(f"{what} {value!r} looks like a drive path")
    segments = value.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise UnsafePath(f"{what} {value!r} has an empty, '.' or '..' segment")
    return segments


def normalize_directory(directory: str | None) -> str:
    """'' for the repository root ('' / '.' / None), else the directory checked and unchanged."""
    if directory is None or directory in ("", "."):
        return ""
    _check_relative(directory, "fabric directory")
    return directory


def safe_join(directory: str, relative: str) -> str:
    """`relative` under `directory`, or UnsafePath when it could escape or is not normalised."""
    base = normalize_directory(directory)
    _check_relative(relative, "path")
    return f"{base}/{relative}" if base else relative


def is_inside(directory: str, path: str) -> bool:
    """True when `path` is a normalised relative path strictly inside `directory`."""
    try:
        base = normalize_directory(directory)
        _check_relative(path, "path")
    except UnsafePath:
        return False
    return path.startswith(base + "/") if base else True


def is_fabric_yaml(directory: str, path: str) -> bool:
    """A *.yaml / *.yml file (any case of the suffix) anywhere under the fabric's directory."""
    if not is_inside(directory, path):
        return False
    return path.lower().endswith((".yaml", ".yml"))


# Git tree entry modes: what the bot reads (regular files), and what it cannot read.
REGULAR_FILE_MODES = ("100644", "100755")
SYMLINK_MODE = "120000"
GITLINK_MODE = "160000"  # a submodule: a commit of another repository


@dataclass(frozen=True)
class UnreadEntry:
    """An entry under a fabric's directory that the bot does not read, and why."""

    path: str
    reason: str

    @property
    def shown_path(self) -> str:
        """The path with its control characters escaped (`\\n`, `\\t`), fit for one line."""
        return "".join(_ESCAPES.get(c, f"\\x{ord(c):02x}") if _is_control(c) else c for c in self.path)


_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _is_control(c: str) -> bool:
    return ord(c) < 0x20 or ord(c) == 0x7F


def unread_entry(directory: str, path: str, mode: str) -> UnreadEntry | None:
    """Why a tree entry under the fabric's directory is not read, or None (it is read, or it
    is not the fabric's). Symlinks are not followed and submodules not fetched, whatever their
    names (either may stand for a folder of YAML); a YAML file whose name is not a plain path
    (a newline, a tab, a backslash) cannot be mapped to a resource's file."""
    base = normalize_directory(directory)
    if base and not path.startswith(base + "/"):
        return None
    if mode == SYMLINK_MODE:
        return UnreadEntry(path, "a symbolic link: links are not followed, so what it points to is not read")
    if mode == GITLINK_MODE:
        return UnreadEntry(path, "a submodule (a commit of another repository): its files are not read")
    name = "".join(c for c in path.rsplit("/", 1)[-1] if not _is_control(c)).strip().lower()
    if mode in REGULAR_FILE_MODES and name.endswith((".yaml", ".yml")) and not is_fabric_yaml(directory, path):
        problem = _bad_chars(path) or "is not a plain relative path"
        return UnreadEntry(path, f"a YAML file whose path {problem}: it is not read")
    return None


def _check_name(name: str) -> None:
    if not isinstance(name, str) or name == "":
        raise UnsafePath("resource name is empty")
    problem = _bad_chars(name)
    if problem:
        raise UnsafePath(f"resource name {name!r} {problem}")
    if "/" in name:
        raise UnsafePath(f"resource name {name!r} contains '/'")
    if name.startswith("."):
        raise UnsafePath(f"resource name {name!r} starts with '.'")


def _folder_kinds(folder: str) -> list[Kind]:
    return [k for k in KINDS.values() if k.folder == folder]


def _kind_or_error(kind: str | Kind) -> Kind:
    found = kind if isinstance(kind, Kind) else lookup(kind)
    if found is None:
        raise ValueError(f"unknown kind {kind!r}")
    return found


def file_stem(kind: str | Kind, name: str) -> str:
    """The file name without '.yaml' for a resource (see the module docstring)."""
    k = _kind_or_error(kind)
    _check_name(name)
    suffixes = tuple("." + other.kind.lower() for other in _folder_kinds(k.folder))
    if k.primary and not name.lower().endswith(suffixes):
        return name
    return f"{name}.{k.kind.lower()}"


def new_resource_path(directory: str, kind: str | Kind, name: str) -> str:
    """`<directory>/managed/<folder>/<stem>.yaml` for a resource that has no file yet."""
    k = _kind_or_error(kind)
    return safe_join(directory, f"{MANAGED}/{k.folder}/{file_stem(k, name)}.yaml")


def parse_managed_path(directory: str, path: str) -> tuple[str, str] | None:
    """(kind, name) for a path `new_resource_path` would produce, else None (the inverse)."""
    if not is_inside(directory, path):
        return None
    base = normalize_directory(directory)
    rest = path[len(base) + 1 :] if base else path
    parts = rest.split("/")
    if len(parts) != 3 or parts[0] != MANAGED or not parts[2].endswith(".yaml"):
        return None
    folder, stem = parts[1], parts[2][: -len(".yaml")]
    kinds = _folder_kinds(folder)
    if not kinds or not stem:
        return None
    for k in kinds:
        suffix = "." + k.kind.lower()
        if stem.lower().endswith(suffix) and len(stem) > len(suffix):
            return k.kind, stem[: -len(suffix)]
    primary = [k for k in kinds if k.primary]
    return (primary[0].kind, stem) if primary else None


_REF_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def _ref_component(value: str) -> str:
    cleaned = _REF_BAD.sub("-", value)
    cleaned = re.sub(r"\.{2,}", ".", cleaned)
    cleaned = re.sub(r"-{2,}", "-", cleaned)
    cleaned = cleaned.strip(".-")
    while cleaned.endswith(".lock"):
        cleaned = cleaned[: -len(".lock")].rstrip(".-")
    return cleaned[:100] or "fabric"


def short_operation_id(operation_id: str | UUID) -> str:
    """The first 8 hex digits of an operation id (a UUID or its text)."""
    digits = "".join(c for c in str(operation_id).lower() if c in "0123456789abcdef")
    if len(digits) < 8:
        raise ValueError(f"operation id {operation_id!r} has fewer than 8 hex digits")
    return digits[:8]


def branch_name(fabric: str, operation_id: str | UUID) -> str:
    """`hnp-sync/<fabric>/<8 hex>`, the fabric name sanitised to a valid git ref component."""
    return f"hnp-sync/{_ref_component(fabric)}/{short_operation_id(operation_id)}"
