"""Repository names follow GitHub's rules, and every name the bot puts into a GitHub URL goes
through gidgethub's URI template: `acme/..` would have made the bot ask for
`/repos/acme/../installation`, which a client normalises to `/repos/installation`."""

from __future__ import annotations

import ast
from pathlib import Path

import aiohttp
import pytest

from bot.github.client import GitHub
from tests.core.test_github_names import REFUSED
from tests.reliability.system import System

BOT = Path(__file__).resolve().parents[2] / "bot"


@pytest.mark.scenario(
    "bad input",
    "POST /api/fabrics with repositories GitHub would refuse: `acme/..`, `./.`, `a/..`, hyphens "
    "at the ends, over-long names, `.git` suffixes, three segments",
    "422 naming `repository`; no fabric stored and no request to GitHub",
)
async def test_a_fabric_on_a_repository_github_would_refuse_is_not_created(system: System) -> None:
    before = await system.state_snapshot()
    mark = await system.request_mark()
    for i, (repository, why) in enumerate(REFUSED.items()):
        body = {"name": f"bad-{i}", "repository": repository, "directory": "fabric", "branch": "main"}
        status, answer = await system.call("POST", "/api/fabrics", body)
        assert status == 422, (why, status, answer)
        paths = [e["path"] for e in answer["error"]["details"]["errors"]]
        assert paths == ["repository"], (why, answer)
    assert await system.state_snapshot() == before
    assert await system.bot_requests(mark) == []
    status, answer = await system.call(
        "POST", "/api/fabrics", {"name": "good", "repository": "Acme-Labs/fabric.v2_final-1", "directory": "x"}
    )
    assert status == 201, answer


@pytest.mark.scenario(
    "security",
    "a GitHub request whose expanded path has a dot segment (`acme/..`, a `{+path}` with `../`), as "
    "a fabric row written before the name rules would make",
    "ValueError before any request or token is asked for",
)
async def test_the_github_layer_refuses_a_path_with_a_dot_segment_before_any_request() -> None:
    """A repository row written before the rules (or by hand) cannot steer a request either:
    the template keeps `..` as it is, so the layer refuses the expanded path itself."""
    async with aiohttp.ClientSession() as session:  # port 9 (discard): nothing may be sent to it
        github = GitHub(session, api_url="http://127.0.0.1:9", app_id=None, private_key=None)
        for owner, repo in (("acme", ".."), ("acme", "."), ("..", "fabric")):
            with pytest.raises(ValueError, match="dot segment"):
                await github.installation(1).getitem(
                    "/repos/{owner}/{repo}/installation", {"owner": owner, "repo": repo}
                )
        with pytest.raises(ValueError, match="dot segment"):  # `{+path}` keeps its slashes, and so its dots
            await github.installation(1).getitem(
                "/repos/{owner}/{repo}/contents/{+path}", {"owner": "acme", "repo": "fabric", "path": "fabric/../../x"}
            )
    assert github.total_calls == 0


def _github_path_builders(tree: ast.AST) -> list[int]:
    """Lines where an f-string or a `+` puts a value into a GitHub REST path."""
    markers = ("/repos/", "/app/", "/installation", "/orgs/", "/users/", "/check-runs/", "/git/")
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and any(isinstance(v, ast.FormattedValue) for v in node.values):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
            if any(m in text for m in markers) and not text.startswith(("/api/", "/_ghsim/")):
                found.append(node.lineno)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
            for side in (node.left, node.right):
                if isinstance(side, ast.Constant) and isinstance(side.value, str) and "{" not in side.value:
                    if any(m in side.value for m in markers):
                        found.append(node.lineno)
    return found


@pytest.mark.scenario(
    "security",
    "a static scan of bot/ for f-strings or `+` that put values into GitHub REST paths",
    "none: every path segment goes through gidgethub's URI template (`url_vars`)",
)
def test_no_github_path_is_built_by_string_formatting() -> None:
    """Every owner, repository, branch, path and number goes into a GitHub URL through
    `url_vars` (gidgethub's URI template), which escapes it. The demo script is a person
    driving the emulator with constant names, not the bot's GitHub client."""
    offenders = {}
    for source in sorted(BOT.rglob("*.py")):
        if source.name == "demo.py":
            continue
        lines = _github_path_builders(ast.parse(source.read_text(encoding="utf-8")))
        if lines:
            offenders[str(source.relative_to(BOT.parent))] = lines
    assert offenders == {}


def test_the_path_check_finds_a_formatted_github_path() -> None:
    tree = ast.parse('x = f"/repos/{owner}/{repo}/installation"\ny = "/repos/" + name\n')
    assert _github_path_builders(tree) == [1, 2]
