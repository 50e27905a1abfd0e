"""What GitHub would tell the apps: builds webhook payloads for repository activity and
queues them for every app installed on the repository (check events: the owning app)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import shapes
from .gitobj import ZERO_SHA
from .gitrepo import LogCommit
from .model import Account, App, CheckRun, CheckSuite, Comment, Installation, Pull, Repo, iso, now

if TYPE_CHECKING:
    from .sim import Sim

PUSH_COMMITS_CAP = 2048
ZEN = [
    "Design for failure.",
    "Keep it logically awesome.",
    "Practicality beats purity.",
    "Speak like a human.",
    "Approachable is better than simple.",
    "Mind your words, they are important.",
]


def organization(base: str, a: Account) -> dict:
    api = f"{base}/orgs/{a.login}"
    return {
        "login": a.login,
        "id": a.id,
        "node_id": a.node_id,
        "url": api,
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events",
        "hooks_url": f"{api}/hooks",
        "issues_url": f"{api}/issues",
        "members_url": f"{api}/members{{/member}}",
        "public_members_url": f"{api}/public_members{{/member}}",
        "avatar_url": f"{base}/avatars/u/{a.id}?v=4",
        "description": None,
    }


def _envelope(sim: Sim, repo: Repo, sender: Account, inst: Installation, *, push_style: bool = False) -> dict:
    out = {"repository": shapes.repository(sim.base_url, repo, push_style=push_style)}
    if repo.owner.type == "Organization":
        out["organization"] = organization(sim.base_url, repo.owner)
    out["sender"] = shapes.user(sim.base_url, sender)
    out["installation"] = shapes.installation_ref(inst)
    return out


def deliver(
    sim: Sim, repo: Repo, event: str, build: Callable[[Installation], dict], only_app: App | None = None
) -> int:
    """Queue `event` for each app installed on `repo` that subscribes to it; returns how many."""
    n = 0
    for inst in sim.state.installations_for(repo):
        if only_app is not None and inst.app.id != only_app.id:
            continue
        if event not in inst.events:
            continue
        if sim.deliverer.enqueue(inst.app, event, build(inst), inst.id):
            n += 1
    return n


# -- push ---------------------------------------------------------------------------------
def _push_commit(base: str, repo: Repo, c: LogCommit, usernames: dict[str, str]) -> dict:
    def person(p: tuple[str, str, str]) -> dict:
        out = {"name": p[0], "email": p[1]}
        if p[1].lower() in usernames:
            out["username"] = usernames[p[1].lower()]
        return out

    return {
        "id": c.sha,
        "tree_id": c.tree,
        "distinct": True,
        "message": c.message,
        "timestamp": c.author[2],
        "url": f"{base}/{repo.full_name}/commit/{c.sha}",
        "author": person(c.author),
        "committer": person(c.committer),
        "added": c.added,
        "removed": c.removed,
        "modified": c.modified,
    }


async def push(
    sim: Sim, repo: Repo, ref: str, before: str, after: str, sender: Account, pusher: Account | None, exclude: list[str]
) -> None:
    """The `push` webhook for one ref change; `exclude` are the other refs' tips before it."""
    base = sim.base_url
    created, deleted = before == ZERO_SHA, after == ZERO_SHA
    forced = False
    commits: list[LogCommit] = []
    head: LogCommit | None = None
    if not deleted:
        if not created:
            forced = not await repo.git.is_ancestor(before, after)
        # A new branch lists only commits no other ref had: none when made at an existing commit.
        stops = [before] if not created else exclude
        commits = await repo.git.log([after], stops, limit=PUSH_COMMITS_CAP, name_status=True)
        head = commits[-1] if commits and commits[-1].sha == after else None
        if head is None:
            got = await repo.git.log([after], [], limit=1, name_status=True)
            head = got[0] if got else None
    usernames = {a.email.lower(): a.login for a in sim.state.accounts.values() if a.email}
    short = lambda s: s[:12]  # noqa: E731
    if created:
        compare = f"{base}/{repo.full_name}/compare/{ref.split('/', 2)[-1]}"
    else:
        compare = f"{base}/{repo.full_name}/compare/{short(before)}...{short(after)}"
    who = pusher or sender
    payload_core = {
        "ref": ref,
        "before": before,
        "after": after,
        "pusher": {"name": who.login, "email": who.email or None},
        "created": created,
        "deleted": deleted,
        "forced": forced,
        "base_ref": None,
        "compare": compare,
        "commits": [_push_commit(base, repo, c, usernames) for c in commits],
        "head_commit": _push_commit(base, repo, head, usernames) if head else None,
    }
    deliver(sim, repo, "push", lambda inst: {**payload_core, **_envelope(sim, repo, sender, inst, push_style=True)})


# -- pull requests -------------------------------------------------------------------------
async def pull_request(sim: Sim, repo: Repo, pull: Pull, action: str, sender: Account, **extra: Any) -> None:
    body = await sim.pull_json(repo, pull, look=False)

    def build(inst: Installation) -> dict:
        return {
            "action": action,
            "number": pull.number,
            **extra,
            "pull_request": body,
            **_envelope(sim, repo, sender, inst),
        }

    deliver(sim, repo, "pull_request", build)


def issue_comment(
    sim: Sim, repo: Repo, pull: Pull, c: Comment, action: str, sender: Account, changes: dict | None = None
) -> None:
    def build(inst: Installation) -> dict:
        out: dict[str, Any] = {"action": action}
        if changes is not None:
            out["changes"] = changes
        out.update(
            {
                "issue": shapes.issue(sim.base_url, repo, pull),
                "comment": shapes.comment(sim.base_url, repo, c),
                **_envelope(sim, repo, sender, inst),
            }
        )
        return out

    deliver(sim, repo, "issue_comment", build)


# -- checks -----------------------------------------------------------------------------
def check_run(
    sim: Sim, repo: Repo, run: CheckRun, action: str, sender: Account, requested_action: dict | None = None
) -> None:
    app = sim.state.apps[run.app_id]

    def build(inst: Installation) -> dict:
        out = {"action": action, "check_run": sim.check_run_json(repo, run, with_suite=True)}
        if requested_action is not None:
            out["requested_action"] = requested_action
        out.update(_envelope(sim, repo, sender, inst))
        return out

    deliver(sim, repo, "check_run", build, only_app=app)


async def check_suite(sim: Sim, repo: Repo, suite: CheckSuite, action: str, sender: Account) -> None:
    app = sim.state.apps[suite.app_id]
    body = await sim.check_suite_json(repo, suite)
    deliver(
        sim,
        repo,
        "check_suite",
        lambda inst: {"action": action, "check_suite": body, **_envelope(sim, repo, sender, inst)},
        only_app=app,
    )


# -- installations and the app hook ---------------------------------------------------------
def installation(sim: Sim, inst: Installation, action: str, sender: Account) -> None:
    # GitHub sends installation events to the app whatever it subscribes to.
    repos = [
        shapes.minimal_repository(sim.base_url, sim.state.repos_by_id[r])
        for r in inst.repo_ids
        if r in sim.state.repos_by_id
    ]
    payload = {
        "action": action,
        "installation": shapes.installation(sim.base_url, inst),
        "repositories": repos,
        "requester": None,
        "sender": shapes.user(sim.base_url, sender),
    }
    sim.deliverer.enqueue(inst.app, "installation", payload, inst.id)


def installation_repositories(
    sim: Sim, inst: Installation, added: list[Repo], removed: list[Repo], sender: Account
) -> None:
    base = sim.base_url
    payload = {
        "action": "added" if added else "removed",
        "installation": shapes.installation(base, inst),
        "repository_selection": inst.repository_selection,
        "repositories_added": [shapes.minimal_repository(base, r) for r in added],
        "repositories_removed": [shapes.minimal_repository(base, r) for r in removed],
        "requester": None,
        "sender": shapes.user(base, sender),
    }
    sim.deliverer.enqueue(inst.app, "installation_repositories", payload, inst.id)


def ping(sim: Sim, app: App) -> None:
    """GitHub pings an app's webhook when the app is registered (an app-level hook)."""
    stamp = iso(now())
    payload = {
        "zen": random.choice(ZEN),
        "hook_id": app.hook_id,
        "hook": {
            "type": "App",
            "id": app.hook_id,
            "name": "web",
            "active": True,
            "events": list(app.events),
            "config": {"content_type": "json", "insecure_ssl": "0", "url": app.webhook_url},
            "updated_at": stamp,
            "created_at": stamp,
            "app_id": app.id,
            "deliveries_url": f"{sim.base_url}/app/hook/deliveries",
        },
        "sender": shapes.user(sim.base_url, app.owner),
    }
    sim.deliverer.enqueue(app, "ping", payload, None)
