"""The REST calls the bot makes on one repository, each written once: every URL the bot uses
is in this module (and the app-level ones in bot.github.client)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from bot.github.client import Client
from bot.github.errors import NotFound, UnprocessableEntity

REPOSITORY = "/repos/{owner}/{repo}"
BRANCH_HEAD = "/repos/{owner}/{repo}/git/ref/heads/{+branch}"  # '+': a/b stays a/b
BRANCH_REF = "/repos/{owner}/{repo}/git/refs/heads/{+branch}"
REFS = "/repos/{owner}/{repo}/git/refs"
TREES = "/repos/{owner}/{repo}/git/trees"
RECURSIVE_TREE = "/repos/{owner}/{repo}/git/trees/{sha}?recursive=1"
COMMITS = "/repos/{owner}/{repo}/git/commits"
COMMIT = "/repos/{owner}/{repo}/commits/{+ref}"
COMPARE = "/repos/{owner}/{repo}/compare/{base}...{+head}"
CONTENTS = "/repos/{owner}/{repo}/contents/{+path}{?ref}"
PULLS = "/repos/{owner}/{repo}/pulls"
PULLS_BY_HEAD = "/repos/{owner}/{repo}/pulls{?head,state}"
PULL = "/repos/{owner}/{repo}/pulls/{number}"
CHECK_RUNS = "/repos/{owner}/{repo}/check-runs"
CHECK_RUN = "/repos/{owner}/{repo}/check-runs/{check_run_id}"
ISSUE_COMMENTS = "/repos/{owner}/{repo}/issues/{number}/comments"
ISSUE_COMMENT = "/repos/{owner}/{repo}/issues/comments/{comment_id}"
PERMISSION = "/repos/{owner}/{repo}/collaborators/{username}/permission"


class Repository:
    """`owner/repo` as seen through one client (an installation's, counting its calls)."""

    def __init__(self, gh: Client, owner: str, repo: str) -> None:
        self.gh = gh
        self.owner, self.repo = owner, repo
        self.vars = {"owner": owner, "repo": repo}

    def _at(self, **more: Any) -> dict[str, Any]:
        return {**self.vars, **more}

    # the repository and its branches

    async def get(self) -> dict[str, Any]:
        return await self.gh.getitem(REPOSITORY, self.vars)

    async def branch_head(self, branch: str) -> str:
        """The commit a branch points at (NotFound when there is no such branch)."""
        ref = await self.gh.getitem(BRANCH_HEAD, self._at(branch=branch))
        return ref["object"]["sha"]

    async def branch_head_if_changed(self, branch: str, etag: str | None) -> tuple[int, str | None, str | None]:
        """(200, head sha, new ETag) or (304, None, the ETag given): a 304 costs no rate limit."""
        status, ref, new_etag = await self.gh.conditional_get(BRANCH_HEAD, self._at(branch=branch), etag=etag)
        return status, (ref["object"]["sha"] if ref else None), new_etag

    async def commit_and_tree(self, ref: str) -> tuple[str, str] | None:
        """(commit sha, tree sha) of a branch or commit, in one call; None when it is missing."""
        try:
            data = await self.gh.getitem(COMMIT, self._at(ref=ref))
        except (NotFound, UnprocessableEntity):
            return None
        return data["sha"], data["commit"]["tree"]["sha"]

    async def tree(self, sha: str) -> dict[str, Any]:
        """The commit's recursive tree listing, in one call."""
        return await self.gh.getitem(RECURSIVE_TREE, self._at(sha=sha))

    async def tarball(self, sha: str) -> bytes:
        return await self.gh.tarball(self.owner, self.repo, sha)

    async def file(self, path: str, ref: str) -> bytes:
        """A file's raw contents at `ref` (NotFound when it is not there)."""
        return await self.gh.getraw(CONTENTS, self._at(path=path, ref=ref))

    async def create_tree(self, base_tree: str, entries: Sequence[Mapping[str, Any]]) -> str:
        tree = await self.gh.post(TREES, self.vars, data={"base_tree": base_tree, "tree": list(entries)})
        return tree["sha"]

    async def create_commit(self, message: str, tree: str, parents: Sequence[str]) -> str:
        commit = await self.gh.post(
            COMMITS, self.vars, data={"message": message, "tree": tree, "parents": list(parents)}
        )
        return commit["sha"]

    async def create_branch(self, branch: str, sha: str) -> None:
        """A new branch at `sha`; one that exists already (a re-run's own) is moved there."""
        try:
            await self.gh.post(REFS, self.vars, data={"ref": f"refs/heads/{branch}", "sha": sha})
        except UnprocessableEntity as error:
            if "already exists" not in str(error):
                raise
            await self.gh.patch(BRANCH_REF, self._at(branch=branch), data={"sha": sha, "force": True})

    async def move_branch(self, branch: str, sha: str, *, force: bool = False) -> bool:
        """Fast-forward (or force) a branch; False when it moved and is not an ancestor."""
        try:
            await self.gh.patch(BRANCH_REF, self._at(branch=branch), data={"sha": sha, "force": force})
        except UnprocessableEntity as error:
            if "fast forward" in str(error).lower():
                return False
            raise
        return True

    async def delete_branch(self, branch: str) -> None:
        """Delete a branch; one already gone is fine."""
        try:
            await self.gh.delete(BRANCH_REF, self._at(branch=branch))
        except (NotFound, UnprocessableEntity):
            pass

    async def contains(self, branch: str, sha: str) -> bool:
        """Is commit `sha` on `branch`?"""
        try:
            data = await self.gh.getitem(COMPARE, self._at(base=sha, head=branch))
        except (NotFound, UnprocessableEntity):
            return False  # the branch (or, after a force-push, the commit) is not there
        return data.get("status") in ("identical", "ahead")

    # pull requests

    async def pull_request(self, number: int) -> dict[str, Any]:
        return await self.gh.getitem(PULL, self._at(number=number))

    async def open_pull_request(self, title: str, head: str, base: str, body: str) -> dict[str, Any]:
        return await self.gh.post(PULLS, self.vars, data={"title": title, "head": head, "base": base, "body": body})

    async def open_pull_requests_from(self, branch: str) -> list[dict[str, Any]]:
        return await self.gh.getitem(PULLS_BY_HEAD, self._at(head=f"{self.owner}:{branch}", state="open"))

    async def update_pull_request(self, number: int, **fields: Any) -> dict[str, Any]:
        return await self.gh.patch(PULL, self._at(number=number), data=fields)

    async def close_pull_request(self, number: int) -> None:
        await self.update_pull_request(number, state="closed")

    # check runs

    async def create_check_run(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return await self.gh.post(CHECK_RUNS, self.vars, data=dict(data))

    async def update_check_run(self, check_run_id: int, data: Mapping[str, Any]) -> dict[str, Any]:
        return await self.gh.patch(CHECK_RUN, self._at(check_run_id=check_run_id), data=dict(data))

    # comments and people

    async def comments(self, number: int) -> AsyncIterator[dict[str, Any]]:
        async for comment in self.gh.getiter(ISSUE_COMMENTS, self._at(number=number)):
            yield comment

    async def comment(self, number: int, body: str) -> dict[str, Any]:
        """A new comment on an issue or pull request."""
        return await self.gh.post(ISSUE_COMMENTS, self._at(number=number), data={"body": body})

    async def edit_comment(self, comment_id: int, body: str) -> None:
        await self.gh.patch(ISSUE_COMMENT, self._at(comment_id=comment_id), data={"body": body})

    async def permission(self, username: str) -> dict[str, Any]:
        return await self.gh.getitem(PERMISSION, self._at(username=username))
