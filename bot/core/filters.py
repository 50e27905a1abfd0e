"""A sync request's `resource_filters`: which drafts it publishes.

Two forms, both kept on the operation as normalised here:

- The contract's list of strings; a draft is selected when any entry matches it:
      "VPC"          every resource of a kind (its name, case-insensitive, or its plural: "vpcs")
      "VPC/vpc-1"    one resource of a kind
      "vpc-1"        resources of that name, whatever their kind
  A bare word that names a kind selects the kind; write "VPC/vpc" for a resource named like
  a kind. Kinds are stored by their canonical name ("vpcs" -> "VPC").
- The object {"kinds": [...], "names": [...]}: selected when its kind is in `kinds` (if given)
  and its name in `names` (if given).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.core.kinds import lookup

OBJECT_KEYS = ("kinds", "names")


class FilterError(ValueError):
    """The filters cannot be read; the message says why (for a 422)."""


def normalize(filters: Any) -> list[str] | dict[str, list[str]] | None:
    """The filters in their stored form, or FilterError."""
    if filters is None:
        return None
    if isinstance(filters, list):
        if not all(isinstance(entry, str) and entry for entry in filters):
            raise FilterError("a list of filters holds non-empty strings: 'KIND', 'KIND/NAME' or 'NAME'")
        return [_entry(entry) for entry in filters]
    if isinstance(filters, Mapping):
        unknown = set(filters) - set(OBJECT_KEYS)
        if unknown:
            raise FilterError(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}: use 'kinds' and 'names'")
        out: dict[str, list[str]] = {}
        for key in OBJECT_KEYS:
            values = filters.get(key)
            if values is None:
                continue
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise FilterError(f"'{key}' must be a list of strings")
            out[key] = [_kind(v) for v in values] if key == "kinds" else list(values)
        return out
    raise FilterError("must be a list of strings ('KIND', 'KIND/NAME', 'NAME') or an object with 'kinds' and 'names'")


def _kind(value: str) -> str:
    found = lookup(value)
    if found is None:
        raise FilterError(f"unknown kind {value!r}")
    return found.kind


def _entry(entry: str) -> str:
    if "/" in entry:
        kind, name = entry.split("/", 1)
        if not name:
            raise FilterError(f"{entry!r} names no resource after the '/'")
        return f"{_kind(kind)}/{name}"
    found = lookup(entry)
    return found.kind if found is not None else entry


def matches(filters: Sequence[str] | Mapping[str, Sequence[str]] | None, kind: str, name: str) -> bool:
    """Whether a resource is selected by filters in their stored form (none: every one)."""
    if not filters:
        return True
    if isinstance(filters, Mapping):
        kinds, names = filters.get("kinds") or (), filters.get("names") or ()
        return (not kinds or kind in kinds) and (not names or name in names)
    for entry in filters:
        if "/" in entry:
            if entry == f"{kind}/{name}":
                return True
        elif entry == kind or (lookup(entry) is None and entry == name):
            return True
    return False
