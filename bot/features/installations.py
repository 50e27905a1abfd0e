"""Which repositories the app can reach, kept current from `installation` and
`installation_repositories` events; fabrics whose repository drops out are marked
disconnected (with the reason in status_detail, which the API shows) and reconnected when
it comes back."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol

from gidgethub import routing, sansio

from bot.github.client import GitHub
from bot.github.errors import NotFound
from bot.jobs.queue import JobContext
from bot.storage import Executor
from bot.storage import installations as store

log = logging.getLogger(__name__)

router = routing.Router()


class FabricLike(Protocol):
    """What finding a fabric's installation reads of it (read-only, as a Fabric row is)."""

    @property
    def id(self) -> int: ...
    @property
    def repository(self) -> str: ...
    @property
    def installation_id(self) -> int | None: ...


def _names(repositories: Iterable[dict[str, Any]] | None) -> list[str]:
    return [r["full_name"] for r in repositories or () if isinstance(r, dict) and r.get("full_name")]


def _installation(event: sansio.Event) -> tuple[int, str, bool]:
    installation = event.data["installation"]
    account = (installation.get("account") or {}).get("login") or str(installation["id"])
    return int(installation["id"]), account, bool(installation.get("suspended_at"))


@router.register("installation", action="created")
@router.register("installation", action="new_permissions_accepted")
async def installation_created(event: sansio.Event, ctx: JobContext) -> None:
    installation_id, account, suspended = _installation(event)
    repositories = _names(event.data.get("repositories"))
    async with ctx.pool.acquire() as conn, conn.transaction():
        await store.upsert(conn, installation_id, account, suspended=suspended)
        if "repositories" in event.data:
            await store.replace_repositories(conn, installation_id, repositories)
        if not suspended:
            connected = await store.connect_fabrics(conn, installation_id, repositories)
            if connected:
                log.info("installation %d on %s reaches fabrics %s", installation_id, account, connected)


@router.register("installation", action="deleted")
async def installation_deleted(event: sansio.Event, ctx: JobContext) -> None:
    installation_id, account, _ = _installation(event)
    async with ctx.pool.acquire() as conn, conn.transaction():
        repositories = set(_names(event.data.get("repositories")))
        repositories.update(await store.repositories(conn, installation_id))
        lost = await store.disconnect_fabrics(
            conn,
            installation_id,
            repositories=repositories,
            whole_installation=True,
            detail=f"the GitHub App was uninstalled from {account}",
        )
        await store.delete(conn, installation_id)
    if lost:
        log.warning("installation %d on %s deleted; fabrics %s disconnected", installation_id, account, lost)


@router.register("installation", action="suspend")
async def installation_suspended(event: sansio.Event, ctx: JobContext) -> None:
    installation_id, account, _ = _installation(event)
    async with ctx.pool.acquire() as conn, conn.transaction():
        await store.upsert(conn, installation_id, account, suspended=True)
        lost = await store.disconnect_fabrics(
            conn,
            installation_id,
            whole_installation=True,
            forget_installation=False,
            repositories=await store.repositories(conn, installation_id),
            detail=f"the GitHub App's installation on {account} is suspended",
        )
    if lost:
        log.warning("installation %d on %s suspended; fabrics %s disconnected", installation_id, account, lost)


@router.register("installation", action="unsuspend")
async def installation_unsuspended(event: sansio.Event, ctx: JobContext) -> None:
    installation_id, account, _ = _installation(event)
    async with ctx.pool.acquire() as conn, conn.transaction():
        await store.upsert(conn, installation_id, account, suspended=False)
        repositories = set(_names(event.data.get("repositories")))
        repositories.update(await store.repositories(conn, installation_id))
        await store.connect_fabrics(conn, installation_id, repositories)


@router.register("installation_repositories")
async def repositories_changed(event: sansio.Event, ctx: JobContext) -> None:
    installation_id, account, suspended = _installation(event)
    added = _names(event.data.get("repositories_added"))
    removed = _names(event.data.get("repositories_removed"))
    async with ctx.pool.acquire() as conn, conn.transaction():
        await store.upsert(conn, installation_id, account, suspended=suspended)
        if added:
            await store.add_repositories(conn, installation_id, added)
            if not suspended:
                await store.connect_fabrics(conn, installation_id, added)
        for repository in removed:
            await store.remove_repositories(conn, installation_id, [repository])
            lost = await store.disconnect_fabrics(
                conn,
                installation_id,
                repositories=[repository],
                detail=f"{repository} was removed from the GitHub App's installation on {account}",
            )
            if lost:
                log.warning(
                    "%s removed from installation %d; fabrics %s disconnected", repository, installation_id, lost
                )


async def ensure_installation(pool: Executor, github: GitHub, fabric: FabricLike) -> int | None:
    """The installation id through which the fabric's repository is reached, recorded on the
    fabric. Known ids are used as they are; else the installation tables; else GitHub's
    GET /repos/{o}/{r}/installation. None (and the fabric disconnected) when the app is not
    installed on the repository."""
    if fabric.installation_id is not None:
        return fabric.installation_id
    installation_id = await store.for_repository(pool, fabric.repository)
    if installation_id is None:
        owner, repo = fabric.repository.split("/", 1)
        try:
            answer = await github.repository_installation(owner, repo)
        except NotFound:
            await store.disconnect_fabrics(
                pool,
                0,
                repositories=[fabric.repository],
                detail=f"the GitHub App is not installed on {fabric.repository}",
            )
            return None
        installation_id = int(answer["id"])
        account = (answer.get("account") or {}).get("login") or owner
        suspended = bool(answer.get("suspended_at"))
        await store.upsert(pool, installation_id, account, suspended=suspended)
        await store.add_repositories(pool, installation_id, [fabric.repository])
        if suspended:
            await store.disconnect_fabrics(
                pool,
                installation_id,
                repositories=[fabric.repository],
                forget_installation=False,
                detail=f"the GitHub App's installation on {account} is suspended",
            )
            return None
    await store.connect_fabrics(pool, installation_id, [fabric.repository])
    return installation_id
