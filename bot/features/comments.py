"""The one bot comment of a pull request, edited in place; and short replies to people.

The comment is found again by its id (pull_request.comment_id) or, when that is unknown or
gone (a lost write, a restored database), by the hidden marker `checks.COMMENT_MARKER` in a
comment the app itself wrote (bedevere's way): never a second copy. Its text comes from
bot.core.checks.pr_comment, which keeps it under GitHub's size limit.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.core import checks
from bot.github.client import Client
from bot.github.errors import NotFound
from bot.storage import Executor
from bot.storage.fabrics import Fabric

log = logging.getLogger(__name__)

ISSUE_COMMENTS = "/repos/{owner}/{repo}/issues/{number}/comments"
ISSUE_COMMENT = "/repos/{owner}/{repo}/issues/comments/{comment_id}"


def _ours(comment: dict[str, Any]) -> bool:
    # Only the app writes as a Bot account here; a person quoting the marker is not us.
    user = comment.get("user") or {}
    return user.get("type") == "Bot" and checks.COMMENT_MARKER in (comment.get("body") or "")


async def find(gh: Client, fabric: Fabric, number: int) -> int | None:
    """The id of the bot comment on pull request `number`, by its marker."""
    async for comment in gh.getiter(ISSUE_COMMENTS, {"owner": fabric.owner, "repo": fabric.repo, "number": number}):
        if _ours(comment):
            return int(comment["id"])
    return None


async def upsert(pool: Executor, gh: Client, fabric: Fabric, pull_request_id: int, number: int, body: str) -> int:
    """Write `body` into the pull request's one bot comment (edit, or post the first time);
    returns its id, which is kept on the pull request row."""
    vars_ = {"owner": fabric.owner, "repo": fabric.repo}
    comment_id = await pool.fetchval("SELECT comment_id FROM pull_request WHERE id = $1", pull_request_id)
    if comment_id is None:
        comment_id = await find(gh, fabric, number)
    if comment_id is not None:
        try:
            await gh.patch(ISSUE_COMMENT, {**vars_, "comment_id": comment_id}, data={"body": body})
        except NotFound:  # deleted by a person: post it again
            comment_id = None
    if comment_id is None:
        posted = await gh.post(ISSUE_COMMENTS, {**vars_, "number": number}, data={"body": body})
        comment_id = int(posted["id"])
    await pool.execute(
        "UPDATE pull_request SET comment_id = $2, updated_at = now() WHERE id = $1", pull_request_id, comment_id
    )
    return comment_id


async def reply(gh: Client, fabric: Fabric, number: int, text: str) -> None:
    """A short answer to a person's command (not the bot comment: it carries no marker)."""
    await gh.post(
        ISSUE_COMMENTS,
        {"owner": fabric.owner, "repo": fabric.repo, "number": number},
        data={"body": text[: checks.MAX_BODY]},
    )
