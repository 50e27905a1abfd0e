"""The REST calls the bot makes on one repository, each written once."""

from __future__ import annotations

from bot.github.client import Client
from bot.github.errors import NotFound, UnprocessableEntity

BRANCH_REF = "/repos/{owner}/{repo}/git/refs/heads/{+branch}"  # '+': a/b stays a/b
PULL = "/repos/{owner}/{repo}/pulls/{number}"
ISSUE_COMMENTS = "/repos/{owner}/{repo}/issues/{number}/comments"


class Repository:
    """`owner/repo` as seen through one client (an installation's, counting its calls)."""

    def __init__(self, gh: Client, owner: str, repo: str) -> None:
        self.gh = gh
        self.owner, self.repo = owner, repo
        self.vars = {"owner": owner, "repo": repo}

    async def delete_branch(self, branch: str) -> None:
        """Delete a branch; one already gone is fine."""
        try:
            await self.gh.delete(BRANCH_REF, {**self.vars, "branch": branch})
        except (NotFound, UnprocessableEntity):
            pass

    async def close_pull_request(self, number: int) -> None:
        await self.gh.patch(PULL, {**self.vars, "number": number}, data={"state": "closed"})

    async def comment(self, number: int, body: str) -> None:
        """A new comment on an issue or pull request."""
        await self.gh.post(ISSUE_COMMENTS, {**self.vars, "number": number}, data={"body": body})
