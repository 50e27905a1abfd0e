"""Changes to repositories that GitHub reacts to: ref updates (from the API, merges or git
pushes) and what follows them (push, pull_request synchronize, check_suite requested),
pull request merges and closes, comments, and check-run updates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import events, gitobj
from .errors import GhError
from .gitobj import ZERO_SHA, Commit, Person
from .model import Account, App, CheckRun, Comment, Pull, Repo, now

if TYPE_CHECKING:
    from .sim import Sim

MERGE_DOC = "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"


def person_for(acct: Account) -> Person:
    return Person(acct.login, acct.email or f"{acct.login}@users.noreply.github.com", now())


async def write_commit(
    repo: Repo, tree: str, parents: list[str], message: str, author: Person, committer: Person | None = None
) -> str:
    return await repo.git.write_object(
        "commit", gitobj.encode_commit(Commit(tree, parents, author, committer or author, message))
    )


async def ref_changed(
    sim: Sim,
    repo: Repo,
    changes: list[tuple[str, str, str]],
    sender: Account,
    before_refs: dict[str, str],
    pusher: Account | None = None,
) -> None:
    """Emit what GitHub emits after refs moved; call with the repo's ref lock held so that
    events leave in the order the refs changed."""
    repo.pushed_at = now()
    for ref, before, after in changes:
        others = [sha for name, sha in before_refs.items() if name != ref]
        await events.push(sim, repo, ref, before, after, sender, pusher, others)
        if not ref.startswith("refs/heads/"):
            continue
        branch = ref[len("refs/heads/") :]
        if after == ZERO_SHA:
            continue
        for pull in list(sim.state.pulls[repo.id].values()):
            if pull.state != "open":
                continue
            if pull.base_ref == branch:
                pull.base_sha = after
            if pull.head_ref == branch and pull.head_sha != after:
                old = pull.head_sha
                pull.head_sha = after
                pull.updated_at = now()
                await events.pull_request(sim, repo, pull, "synchronize", sender, before=old, after=after)
        await request_check_suites(sim, repo, after, branch, before, sender)


async def request_check_suites(sim: Sim, repo: Repo, sha: str, branch: str, before: str, sender: Account) -> None:
    """A new head commit gets a check suite per app with checks permission (check_suite requested)."""
    for inst in sim.state.installations_for(repo):
        if inst.permissions.get("checks") not in ("read", "write"):
            continue
        suite, created = sim.suite_for(repo, inst.app, sha, branch)
        if created:
            suite.before, suite.after = before, sha
            await events.check_suite(sim, repo, suite, "requested", sender)


async def set_ref(
    sim: Sim,
    repo: Repo,
    ref: str,
    new: str | None,
    *,
    sender: Account,
    force: bool = True,
    must_exist: bool | None = None,
    expect_old: str | None = None,
    doc: str = "https://docs.github.com/rest/git/refs",
) -> tuple[str, str]:
    """Create, move or (new=None) delete a ref as the git refs API does; emits webhooks.
    Returns (before, after). Raises GhError with GitHub's 422 answers."""
    async with repo.git.ref_lock:
        before_refs = await repo.git.refs()
        old = before_refs.get(ref)
        if must_exist is True and old is None:
            raise GhError(422, "Reference does not exist", doc)
        if must_exist is False and old is not None:
            raise GhError(422, "Reference already exists", doc)
        if expect_old is not None and old != expect_old:
            raise GhError(409, f"{ref.split('/', 2)[-1]} is at {old} but expected {expect_old}", doc)
        if new is None:
            if old is None or not await repo.git.delete_ref(ref, old):
                raise GhError(422, "Reference does not exist", doc)
            await ref_changed(sim, repo, [(ref, old, ZERO_SHA)], sender, before_refs)
            return old, ZERO_SHA
        if await repo.git.object_type(new) is None:
            raise GhError(422, "Object does not exist", doc)
        if old is not None and not force and old != new and not await repo.git.is_ancestor(old, new):
            raise GhError(422, "Update is not a fast forward", doc)
        if old == new:
            return old, new
        if not await repo.git.update_ref(ref, new, old):
            raise GhError(422, "Reference cannot be updated", doc)
        await ref_changed(sim, repo, [(ref, old or ZERO_SHA, new)], sender, before_refs)
        return old or ZERO_SHA, new


async def merge_pull(
    sim: Sim,
    repo: Repo,
    pull: Pull,
    actor: Account,
    *,
    method: str = "merge",
    sha: str | None = None,
    title: str | None = None,
    message: str | None = None,
) -> str:
    """Merge as GitHub's merge button does; returns the new base commit sha."""
    await sim.refresh_pull(repo, pull)
    if pull.state != "open":
        raise GhError(405, "Pull Request is not mergeable", MERGE_DOC)
    if sha is not None and sha != pull.head_sha:
        raise GhError(409, "Head branch was modified. Review and try the merge again.", MERGE_DOC)
    if method not in ("merge", "squash", "rebase"):
        raise GhError(422, "Invalid request.\n\nmerge_method is not a valid value.", MERGE_DOC)
    base_ref = f"refs/heads/{pull.base_ref}"
    async with repo.git.ref_lock:
        before_refs = await repo.git.refs()
        base_tip = before_refs.get(base_ref)
        if base_tip is None:
            raise GhError(405, "Pull Request is not mergeable", MERGE_DOC)
        tree = await repo.git.merge_tree(base_tip, pull.head_sha)
        if tree is None:
            raise GhError(405, "Pull Request is not mergeable", MERGE_DOC)
        stats = await sim.pull_stats(repo, pull)
        who = person_for(actor)
        if method == "merge":
            msg = f"{title or f'Merge pull request #{pull.number} from {repo.owner.login}/{pull.head_ref}'}\n\n{message if message is not None else pull.title}"
            new = await write_commit(repo, tree, [base_tip, pull.head_sha], msg.rstrip("\n"), who)
        elif method == "squash":
            msg = f"{title or f'{pull.title} (#{pull.number})'}" + (f"\n\n{message}" if message else "")
            new = await write_commit(repo, tree, [base_tip], msg, who)
        else:  # rebase: replay the PR's commits on the base (only when they apply cleanly as-is)
            if not await repo.git.is_ancestor(base_tip, pull.head_sha):
                raise GhError(405, "This branch can't be rebased", MERGE_DOC)
            new = base_tip
            for c in await repo.git.log([pull.head_sha], [base_tip]):
                original = await repo.git.existing_commit(c.sha)
                new = await write_commit(repo, original.tree, [new], original.message, original.author, who)
        if not await repo.git.update_ref(base_ref, new, base_tip):
            raise GhError(405, "Base branch was modified. Review and try the merge again.", MERGE_DOC)
        pull.stats = stats
        pull.state, pull.merged = "closed", True
        pull.merged_at = pull.closed_at = pull.updated_at = now()
        pull.merged_by, pull.merge_commit_sha = actor, new
        pull.base_sha = new if method != "merge" else base_tip
        await ref_changed(sim, repo, [(base_ref, base_tip, new)], actor, before_refs)
        await events.pull_request(sim, repo, pull, "closed", actor)
    return new


async def close_pull(sim: Sim, repo: Repo, pull: Pull, actor: Account) -> None:
    await sim.refresh_pull(repo, pull)
    if pull.state == "closed":
        return
    pull.stats = await sim.pull_stats(repo, pull)
    pull.state, pull.closed_at, pull.updated_at = "closed", now(), now()
    await events.pull_request(sim, repo, pull, "closed", actor)


async def reopen_pull(sim: Sim, repo: Repo, pull: Pull, actor: Account) -> None:
    if pull.state == "open" or pull.merged:
        raise GhError(
            422,
            "Validation Failed",
            "https://docs.github.com/rest/pulls/pulls#update-a-pull-request",
            errors=[
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": "state cannot be changed. The pull request cannot be reopened.",
                }
            ],
        )
    pull.state, pull.closed_at, pull.updated_at, pull.stats = "open", None, now(), None
    await events.pull_request(sim, repo, pull, "reopened", actor)


def add_comment(sim: Sim, repo: Repo, pull: Pull, actor: Account, body: str, via_app: App | None = None) -> Comment:
    c = Comment(sim.state.next_id("comment"), repo.id, pull.number, actor, body, via_app)
    sim.state.comments[c.id] = c
    pull.comments += 1
    events.issue_comment(sim, repo, pull, c, "created", actor)
    return c


def edit_comment(sim: Sim, repo: Repo, c: Comment, actor: Account, body: str) -> Comment:
    old = c.body
    c.body, c.updated_at = body, now()
    pull = sim.state.pulls[repo.id].get(c.issue_number)
    if pull is not None:
        events.issue_comment(sim, repo, pull, c, "edited", actor, changes={"body": {"from": old}})
    return c


def request_action(sim: Sim, repo: Repo, run: CheckRun, actor: Account, identifier: object) -> None:
    """A person pressed one of the run's buttons: `check_run` requested_action, to the app that
    owns the run only, as GitHub sends it."""
    if identifier not in [a["identifier"] for a in run.actions]:
        raise GhError(422, f"check run {run.id} offers no action {identifier!r}")
    events.check_run(sim, repo, run, "requested_action", actor, requested_action={"identifier": identifier})


async def complete_check_run_effects(sim: Sim, repo: Repo, run: CheckRun, was_completed: bool, actor: Account) -> None:
    """After a run reaches `completed`: check_run completed, and check_suite completed once
    every run of the suite is done."""
    if run.status != "completed" or was_completed:
        return
    events.check_run(sim, repo, run, "completed", actor)
    suite = sim.state.check_suites[run.suite_id]
    runs = [r for r in sim.state.check_runs.values() if r.suite_id == suite.id]
    if all(r.status == "completed" for r in runs):
        conclusions = [r.conclusion for r in runs]
        order = ["action_required", "cancelled", "timed_out", "failure", "neutral", "skipped", "stale", "success"]
        suite.status = "completed"
        suite.conclusion = next((c for c in order if c in conclusions), "success")
        suite.updated_at = now()
        await events.check_suite(sim, repo, suite, "completed", actor)
