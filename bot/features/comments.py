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
from bot.github.repository import Repository
from bot.storage import Executor
from bot.storage import pulls as pull_store
from bot.storage.fabrics import Fabric

log = logging.getLogger(__name__)


def _ours(comment: dict[str, Any]) -> bool:
    # Only the app writes as a Bot account here; a person quoting the marker is not us.
    user = comment.get("user") or {}
    return user.get("type") == "Bot" and checks.COMMENT_MARKER in (comment.get("body") or "")


async def find(gh: Client, fabric: Fabric, number: int) -> int | None:
    """The id of the bot comment on pull request `number`, by its marker."""
    async for comment in Repository(gh, fabric.owner, fabric.repo).comments(number):
        if _ours(comment):
            return int(comment["id"])
    return None


async def upsert(pool: Executor, gh: Client, fabric: Fabric, pull_request_id: int, number: int, body: str) -> int:
    """Write `body` into the pull request's one bot comment (edit, or post the first time);
    returns its id, which is kept on the pull request row."""
    repo = Repository(gh, fabric.owner, fabric.repo)
    comment_id = await pull_store.comment_id(pool, pull_request_id)
    if comment_id is None:
        comment_id = await find(gh, fabric, number)
    if comment_id is not None:
        try:
            await repo.edit_comment(comment_id, body)
        except NotFound:  # deleted by a person: post it again
            comment_id = None
    if comment_id is None:
        posted = await repo.comment(number, body)
        comment_id = int(posted["id"])
    await pull_store.set_comment_id(pool, pull_request_id, comment_id)
    return comment_id


async def reply(gh: Client, fabric: Fabric, number: int, text: str) -> None:
    """A short answer to a person's command (not the bot comment: it carries no marker)."""
    await Repository(gh, fabric.owner, fabric.repo).comment(number, text[: checks.MAX_BODY])
