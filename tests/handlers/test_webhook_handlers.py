"""Every webhook handler, fed GitHub's own example deliveries (../shared/github/webhooks) as
gidgethub parses them at intake, through the bot's real event router: the jobs and rows a
delivery leads to, in milliseconds (no emulator, no HTTP; one database for the module)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from gidgethub import sansio

from bot.config import Config
from bot.core import checks
from bot.jobs.queue import JobContext
from bot.storage import database, fabrics, installations, pulls
from bot.storage.jobs import Job
from bot.web.app import event_router
from tests.conftest import create_database, drop_database, shared_path

SECRET = "handler-tests"
REPOSITORY = "Codertocat/Hello-World"  # the repository of GitHub's examples
ROUTER = event_router()


def delivery(name: str, **changes: Any) -> sansio.Event:
    """GitHub's example `name` (e.g. push.none.5), with top-level `changes`, signed and parsed
    by gidgethub exactly as intake parses a delivery."""
    data = json.loads(shared_path("github", "webhooks", f"{name}.json").read_text())
    data.update(changes)
    body = json.dumps(data).encode()
    headers = {
        "content-type": "application/json",
        "x-github-event": name.split(".")[0],
        "x-github-delivery": str(uuid.uuid4()),
        "x-hub-signature-256": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
    }
    return sansio.Event.from_http(headers, body, secret=SECRET)


def context(pool: asyncpg.Pool | None) -> JobContext:
    """What a worker hands the handlers of a 'webhook' job (no GitHub: none of them calls it)."""
    job = Job(
        id=1,
        kind="webhook",
        ordering_key="repo:test",
        fabric_id=None,
        delivery_id="test",
        operation_id=None,
        payload={},
        attempts=1,
        max_attempts=8,
        created_at=datetime.now(UTC),
    )
    return JobContext(pool=pool, config=Config(), github=None, job=job, router=ROUTER)  # type: ignore[arg-type]


def handler_names(event: sansio.Event) -> list[str]:
    return sorted(f"{h.__module__.rsplit('.', 1)[1]}.{h.__name__}" for h in ROUTER.fetch(event))


# --- which feature handles what: the composition ------------------------------------------------

ROUTES = {
    "push.none.5": ["ingest.on_push", "pulls.push_to_sync_branch"],
    "pull_request.opened.2": ["checkruns.on_pull_request", "ingest.on_pull_request"],
    "pull_request.synchronize.1": ["checkruns.on_pull_request", "ingest.on_pull_request"],
    "pull_request.reopened.2": ["checkruns.on_pull_request", "ingest.on_pull_request"],
    "pull_request.closed.1": ["pulls.pull_request_closed"],
    "check_run.requested_action.2": ["checkruns.on_requested_action"],
    "check_run.rerequested.1": ["checkruns.on_rerequested"],
    "issue_comment.created.4": ["commands.on_comment"],
    "installation.created.1": ["installations.installation_created"],
    "installation.deleted.2": ["installations.installation_deleted"],
    "installation_repositories.removed.1": ["installations.repositories_changed"],
    "check_run.completed.2": [],
    "check_suite.requested.1": [],
    "issue_comment.edited.2": [],
    "ping.none.1": [],
}


@pytest.mark.fast
@pytest.mark.parametrize("name", sorted(ROUTES))
def test_each_delivery_reaches_exactly_the_handlers_of_its_features(name: str) -> None:
    assert handler_names(delivery(name)) == ROUTES[name]


# --- deliveries the bot does not act on touch nothing (no database: the context has none) ------

IGNORED = {
    "a pushed tag": ("push.none.4", {}),
    "another app's check run button": ("check_run.requested_action.2", {}),
    "another app's check run re-run": ("check_run.rerequested.1", {}),
    "a comment on an issue, not a pull request": ("issue_comment.created.4", {}),
}


@pytest.mark.fast
@pytest.mark.parametrize("case", sorted(IGNORED))
async def test_deliveries_the_bot_does_not_act_on_touch_nothing(case: str) -> None:
    name, changes = IGNORED[case]
    await ROUTER.dispatch(delivery(name, **changes), context(None))  # a handler touching the database would raise


# --- deliveries the bot acts on --------------------------------------------------------------------


@pytest.fixture(scope="module")
async def shared_db(pg_server_dsn: str, template_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database(pg_server_dsn)
    pool = await database.create_pool(dsn, min_size=1, max_size=2)
    yield pool
    await pool.close()
    await drop_database(pg_server_dsn, dsn)


@pytest.fixture
async def db(shared_db: asyncpg.Pool) -> asyncpg.Pool:
    await shared_db.execute(
        "TRUNCATE fabric, job, installation, installation_repository, pull_request, pr_command RESTART IDENTITY CASCADE"
    )
    return shared_db


async def jobs(pool: asyncpg.Pool) -> list[tuple[str, dict]]:
    return [(r["kind"], r["payload"]) for r in await pool.fetch("SELECT kind, payload FROM job ORDER BY id")]


async def fabric(pool: asyncpg.Pool, branch: str = "master", installation_id: int | None = 1) -> fabrics.Fabric:
    return await fabrics.create(
        pool, name="dc1", repository=REPOSITORY, directory="fabric", branch=branch, installation_id=installation_id
    )


async def test_a_push_to_the_fabric_branch_queues_one_ingest_that_rechecks_conflicts(db: asyncpg.Pool) -> None:
    found = await fabric(db)
    event = delivery("push.none.5")
    await ROUTER.dispatch(event, context(db))
    await ROUTER.dispatch(event, context(db))  # redelivered: still one
    assert await jobs(db) == [
        (
            "ingest",
            {
                "fabric_id": found.id,
                "head_sha": event.data["after"],
                "trigger": "push",
                "deleted": False,
                "recheck_conflicts": True,
            },
        )
    ]


async def test_a_push_to_another_branch_queues_nothing(db: asyncpg.Pool) -> None:
    await fabric(db, branch="main")
    await ROUTER.dispatch(delivery("push.none.5"), context(db))
    assert await jobs(db) == []


async def test_a_pull_request_into_the_fabric_branch_queues_its_validate_check(db: asyncpg.Pool) -> None:
    found = await fabric(db)
    event = delivery("pull_request.opened.2")
    await ROUTER.dispatch(event, context(db))
    pr = event.data["pull_request"]
    assert await jobs(db) == [
        (
            "validate_pull_request",
            {"fabric_id": found.id, "head_sha": pr["head"]["sha"], "pull_request": pr["number"]},
        )
    ]


async def test_a_new_head_on_a_bot_pull_request_queues_a_conflicts_check(db: asyncpg.Pool) -> None:
    found = await fabric(db, branch="main")  # not the pull request's base: no validate check
    row = await pulls.create(db, fabric_id=found.id, branch="hnp-sync/dc1/0123abcd", base_sha=None, operation_id=None)
    event = delivery("pull_request.synchronize.1")
    event.data["pull_request"]["head"]["ref"] = row.branch
    await ROUTER.dispatch(event, context(db))
    head = event.data["pull_request"]["head"]["sha"]
    assert await jobs(db) == [("conflicts_check", {"fabric_id": found.id, "pull_request_id": row.id, "head_sha": head})]


async def test_a_bot_pull_request_closed_unmerged_is_recorded_and_its_drafts_released(db: asyncpg.Pool) -> None:
    found = await fabric(db)
    row = await pulls.create(db, fabric_id=found.id, branch="changes", base_sha=None, operation_id=None)
    await pulls.set_github(db, row.id, number=2)
    await ROUTER.dispatch(delivery("pull_request.closed.1"), context(db))
    assert (await pulls.get(db, row.id)).state == "closed"
    assert await jobs(db) == []


async def test_pressing_a_conflicts_button_queues_its_resolution(db: asyncpg.Pool) -> None:
    found = await fabric(db)
    row = await pulls.create(db, fabric_id=found.id, branch="hnp-sync/dc1/0123abcd", base_sha=None, operation_id=None)
    event = delivery("check_run.requested_action.2", requested_action={"identifier": "gui_wins"})
    event.data["check_run"].update(name=checks.CONFLICTS_CHECK, external_id=f"hnp-gitops:pr:{row.id}")
    await ROUTER.dispatch(event, context(db))
    actor = event.data["sender"]["login"]
    assert await jobs(db) == [
        (
            "conflicts_resolve",
            {"fabric_id": found.id, "pull_request_id": row.id, "resolution": "gui_wins", "actor": actor},
        )
    ]


async def test_re_running_the_conflicts_check_queues_it(db: asyncpg.Pool) -> None:
    found = await fabric(db)
    row = await pulls.create(db, fabric_id=found.id, branch="hnp-sync/dc1/0123abcd", base_sha=None, operation_id=None)
    event = delivery("check_run.rerequested.1", repository={"full_name": REPOSITORY})
    event.data["check_run"].update(name=checks.CONFLICTS_CHECK, external_id=f"hnp-gitops:pr:{row.id}")
    await ROUTER.dispatch(event, context(db))
    assert await jobs(db) == [("conflicts_check", {"fabric_id": found.id, "pull_request_id": row.id, "head_sha": None})]


async def test_an_hnp_command_on_a_bot_pull_request_queues_it_once(db: asyncpg.Pool) -> None:
    found = await fabric(db)
    row = await pulls.create(db, fabric_id=found.id, branch="hnp-sync/dc1/0123abcd", base_sha=None, operation_id=None)
    await pulls.set_github(db, row.id, number=1)
    event = delivery("issue_comment.created.4")
    event.data["issue"]["pull_request"] = {"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"}
    event.data["comment"]["body"] = "/hnp recheck"
    await ROUTER.dispatch(event, context(db))
    await ROUTER.dispatch(event, context(db))  # redelivered: still one
    [(kind, payload)] = await jobs(db)
    assert kind == "pr_command" and payload["pull_request_id"] == row.id and payload["body"] == "/hnp recheck"


async def test_an_installation_connects_the_fabrics_of_its_repositories(db: asyncpg.Pool) -> None:
    found = await fabric(db, installation_id=None)
    event = delivery("installation.created.1")
    await ROUTER.dispatch(event, context(db))
    installation_id = event.data["installation"]["id"]
    assert await installations.for_repository(db, REPOSITORY) == installation_id
    after = await fabrics.get(db, found.id)
    assert after.installation_id == installation_id and after.connection_status == "connected"


async def test_an_uninstalled_app_disconnects_the_fabrics_it_reached(db: asyncpg.Pool) -> None:
    event = delivery("installation.deleted.2")
    repository = event.data["repositories"][0]["full_name"]
    found = await fabrics.create(
        db,
        name="dc1",
        repository=repository,
        directory="fabric",
        branch="main",
        installation_id=event.data["installation"]["id"],
    )
    await ROUTER.dispatch(event, context(db))
    after = await fabrics.get(db, found.id)
    assert after.connection_status == "disconnected" and "uninstalled" in after.status_detail


async def test_a_repository_removed_from_the_installation_disconnects_its_fabric(db: asyncpg.Pool) -> None:
    event = delivery("installation_repositories.removed.1")
    repository = event.data["repositories_removed"][0]["full_name"]
    found = await fabrics.create(
        db,
        name="dc1",
        repository=repository,
        directory="fabric",
        branch="main",
        installation_id=event.data["installation"]["id"],
    )
    await ROUTER.dispatch(event, context(db))
    after = await fabrics.get(db, found.id)
    assert after.connection_status == "disconnected" and repository in after.status_detail
