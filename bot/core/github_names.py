"""GitHub's rules for the account and repository names the bot puts into GitHub URLs.

A name GitHub would refuse is refused before any request is made: `..` as a repository turns
`/repos/acme/../installation` into `/repos/installation` once a client normalises the path,
and no URI template can escape a dot segment. The rules are GitHub's own:
- an account (user or organisation): 1 to 39 ASCII letters, digits and hyphens, no two
  hyphens in a row, none at the start or the end;
- a repository: 1 to 100 ASCII letters, digits, `.`, `-` and `_`; not `.` or `..`; not ending
  in `.git` (GitHub drops that suffix, so no repository is named so) or `.wiki` (refused).
"""

from __future__ import annotations

import re

MAX_OWNER = 39
MAX_REPOSITORY = 100
_OWNER = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9])*")
_REPOSITORY = re.compile(r"[A-Za-z0-9._-]+")
# The same characters as one pattern, for a JSON Schema (lengths, `.`/`..` and the suffixes
# are `full_name_problem`'s).
FULL_NAME_PATTERN = r"^[A-Za-z0-9](-?[A-Za-z0-9])*/[A-Za-z0-9._-]+$"


def owner_problem(owner: str) -> str | None:
    """Why GitHub would refuse `owner` as an account name, or None."""
    if not owner or len(owner) > MAX_OWNER:
        return f"the owner must be 1 to {MAX_OWNER} characters"
    if not _OWNER.fullmatch(owner):
        return "the owner takes ASCII letters, digits and single hyphens, not at its start or end"
    return None


def repository_name_problem(name: str) -> str | None:
    """Why GitHub would refuse `name` as a repository's name (without its owner), or None."""
    if not name or len(name) > MAX_REPOSITORY:
        return f"the repository name must be 1 to {MAX_REPOSITORY} characters"
    if not _REPOSITORY.fullmatch(name):
        return "the repository name takes ASCII letters, digits, '.', '-' and '_'"
    if name in (".", ".."):
        return "the repository name cannot be '.' or '..'"
    if name.lower().endswith((".git", ".wiki")):
        return "the repository name cannot end in '.git' or '.wiki'"
    return None


def full_name_problem(full_name: object) -> str | None:
    """Why `full_name` is not an `owner/repo` GitHub would accept, or None."""
    if not isinstance(full_name, str) or full_name.count("/") != 1:
        return "must be 'owner/repo'"
    owner, name = full_name.split("/")
    return owner_problem(owner) or repository_name_problem(name)
