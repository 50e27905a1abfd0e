"""GitHub's rules for account and repository names, as the bot checks them before it puts a
name into a GitHub URL."""

from __future__ import annotations

import pytest

from bot.core.github_names import MAX_OWNER, MAX_REPOSITORY, full_name_problem

REFUSED = {
    "acme/..": "the repository is a dot segment",
    "./.": "both are dot segments",
    "a/..": "the repository is a dot segment",
    "acme/.": "the repository is a dot segment",
    "../fabric": "the owner is a dot segment",
    "-acme/fabric": "the owner starts with a hyphen",
    "acme-/fabric": "the owner ends with a hyphen",
    "ac--me/fabric": "two hyphens in a row",
    "ac_me/fabric": "an underscore in the owner",
    "a" * (MAX_OWNER + 1) + "/fabric": "an owner over 39 characters",
    "acme/" + "r" * (MAX_REPOSITORY + 1): "a repository over 100 characters",
    "acme/fab ric": "a space",
    "acme/fabrïc": "not ASCII",
    "acme/fab%2Fric": "a percent sign",
    "acme/fabric.git": "GitHub drops a .git suffix",
    "acme/fabric.wiki": "GitHub refuses a .wiki suffix",
    "acme/fabric/extra": "three segments",
    "acme/": "no repository",
    "/fabric": "no owner",
    "acme": "no slash",
}
ACCEPTED = [
    "acme/fabric",
    "a/b",
    "Acme-Labs/fabric.v2_final-1",
    "a1-b2-c3/.github",
    "a" * MAX_OWNER + "/" + "r" * MAX_REPOSITORY,
    "acme/..fabric",
    "acme/_",
]


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_name_github_would_refuse_is_refused(name: str) -> None:
    assert full_name_problem(name) is not None, REFUSED[name]


@pytest.mark.parametrize("name", ACCEPTED)
def test_a_name_github_accepts_is_accepted(name: str) -> None:
    assert full_name_problem(name) is None
