"""The emulator as one object: state, git repositories on disk, rate limits, faults,
request log and webhook deliverer; plus the setup actions the control API exposes."""

from __future__ import annotations

import os
import re
import secrets
from datetime import datetime, timedelta

from . import events, gitobj, shapes
from .auth import generate_key_pair
from .faults import Faults
from .gitobj import MODE_BLOB, Commit, Person, TreeEntry
from .gitrepo import GitRepo
from .model import (
    DEFAULT_APP_EVENTS,
    DEFAULT_APP_PERMISSIONS,
    PERMISSION_LEVELS,
    Account,
    App,
    CheckRun,
    CheckSuite,
    Installation,
    Pull,
    Repo,
    State,
    User,
    node_id,
    now,
)
from .ratelimit import RateLimiter
from .webhooks import Deliverer

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
TOKEN_TTL = timedelta(hours=1)
MANIFEST_CODE_TTL = timedelta(hours=1)  # GitHub: a manifest's code must be exchanged within an hour


class SetupError(ValueError):
    """A control-API request that cannot be carried out (answered with 400/404)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class Sim:
    def __init__(self, data_dir: str, base_url: str = "http://127.0.0.1") -> None:
        self.data_dir = os.path.abspath(data_dir)
        self.repos_dir = os.path.join(self.data_dir, "repos")
        os.makedirs(self.repos_dir, exist_ok=True)
        self.base_url = base_url.rstrip("/")
        self.state = State()
        self.ratelimits = RateLimiter()
        self.faults = Faults()
        self.deliverer = Deliverer(self.state.apps, self.faults)
        self.requests: list[dict] = []
        self.downloads: dict[str, tuple[int, str, float]] = {}  # tarball token -> (repo id, sha, expiry)
        self.manifest_codes: dict[str, tuple[int, datetime]] = {}  # code -> (app id, expiry)

    async def close(self) -> None:
        await self.deliverer.close()
        for repo in self.state.repos_by_id.values():
            await repo.git.close()

    # -- setup --------------------------------------------------------------------------
    def create_app(
        self,
        webhook_url: str | None,
        webhook_secret: str,
        *,
        name: str | None = None,
        owner: str | None = None,
        permissions: dict | None = None,
        events_: list[str] | None = None,
    ) -> App:
        app_id = self.state.next_id("app")
        name = name or f"hnp-gitops-{app_id}"
        slug = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
        if any(a.slug == slug for a in self.state.apps.values()):
            raise SetupError(f"an app with slug {slug!r} exists")
        owner_acct = self.state.account(owner or "ghsim-owner", "User")
        bot_login = f"{slug}[bot]"
        bot_id = self.state.next_id("account")
        bot = Account(
            bot_id,
            bot_login,
            "Bot",
            node_id("BOT", bot_id),
            email=f"{bot_id}+{bot_login}@users.noreply.github.com",
            app_slug=slug,
        )
        self.state.accounts[bot_login.lower()] = bot
        pem, public = generate_key_pair()
        app = App(
            app_id,
            slug,
            name,
            owner_acct,
            bot,
            webhook_url,
            webhook_secret,
            pem,
            public,
            dict(permissions or DEFAULT_APP_PERMISSIONS),
            list(events_ or DEFAULT_APP_EVENTS),
            self.state.next_id("hook"),
        )
        self.state.apps[app_id] = app
        if webhook_url:
            events.ping(self, app)
        return app

    def issue_manifest_code(self, app_id: int) -> str:
        """The code the manifest flow's redirect carries: exchanged once, within an hour."""
        code = secrets.token_hex(10)
        self.manifest_codes[code] = (app_id, now() + MANIFEST_CODE_TTL)
        return code

    def take_manifest_code(self, code: str) -> App | None:
        found = self.manifest_codes.pop(code, None)
        if found is None or found[1] <= now():
            return None
        return self.state.apps.get(found[0])

    def set_webhook(self, app_id: int, url: str | None, secret: str | None = None) -> App:
        app = self._app(app_id)
        app.webhook_url = url
        if secret is not None:
            app.webhook_secret = secret
        return app

    async def create_repo(
        self,
        owner: str,
        name: str,
        *,
        default_branch: str = "main",
        private: bool = True,
        auto_init: bool = True,
        files: dict[str, str] | None = None,
        owner_type: str | None = None,
        description: str | None = None,
    ) -> Repo:
        if not NAME_RE.match(owner) or not NAME_RE.match(name) or name.endswith(".git"):
            raise SetupError("owner and name must be [A-Za-z0-9_.-]+ (name without .git)")
        if self.state.repo(owner, name):
            raise SetupError(f"repository {owner}/{name} exists", 422)
        known = self.state.accounts.get(owner.lower())
        acct = known or self.state.account(owner, owner_type or "Organization")
        path = os.path.join(self.repos_dir, acct.login, f"{name}.git")
        if os.path.isdir(path):  # reuse a repository left by an earlier run on the same --data
            git = GitRepo(path)
        else:
            git = await GitRepo.init(path, default_branch)
        repo = Repo(self.state.next_id("repo"), acct, name, default_branch, private, git, description)
        self.state.repos[(acct.login.lower(), name.lower())] = repo
        self.state.repos_by_id[repo.id] = repo
        self.state.pulls[repo.id] = {}
        if (auto_init or files) and not await git.refs("refs/heads/"):
            content = {"README.md": f"# {name}\n", **(files or {})} if auto_init else dict(files or {})
            entries = [{"path": p, "mode": MODE_BLOB, "type": "blob", "content": c} for p, c in content.items()]
            tree = await self.build_tree(repo, None, entries)
            who = Person(acct.login, acct.email or f"{acct.login}@example.com", now())
            sha = await git.write_object("commit", gitobj.encode_commit(Commit(tree, [], who, who, "Initial commit")))
            await git.update_ref(f"refs/heads/{default_branch}", sha, None)
        return repo

    def create_installation(
        self,
        app_id: int,
        account: str,
        repositories: list[str],
        *,
        permissions: dict | None = None,
        events_: list[str] | None = None,
    ) -> Installation:
        app = self._app(app_id)
        acct = self.state.accounts.get(account.lower()) or self.state.account(account, "Organization")
        if any(i.app.id == app.id and i.account.id == acct.id for i in self.state.installations.values()):
            raise SetupError(f"app {app.id} is already installed on {acct.login}", 422)
        repos = [self._repo(full) for full in repositories]
        inst = Installation(
            self.state.next_id("installation"),
            app,
            acct,
            [r.id for r in repos],
            dict(permissions or app.permissions),
            list(events_ or app.events),
        )
        self.state.installations[inst.id] = inst
        events.installation(self, inst, "created", acct)
        return inst

    def delete_installation(self, inst_id: int) -> None:
        inst = self.state.installations.pop(inst_id, None)
        if inst is None:
            raise SetupError("installation not found", 404)
        for tok in [t for t in self.state.tokens.values() if t.installation_id == inst_id]:
            del self.state.tokens[tok.token]
        events.installation(self, inst, "deleted", inst.account)

    def change_installation_repos(self, inst_id: int, add: list[str], remove: list[str]) -> Installation:
        inst = self.state.installations.get(inst_id)
        if inst is None:
            raise SetupError("installation not found", 404)
        added = [r for r in (self._repo(f) for f in add) if r.id not in inst.repo_ids]
        removed = [r for r in (self._repo(f) for f in remove) if r.id in inst.repo_ids]
        inst.repo_ids += [r.id for r in added]
        inst.repo_ids = [i for i in inst.repo_ids if i not in {r.id for r in removed}]
        inst.updated_at = now()
        if added:
            events.installation_repositories(self, inst, added, [], inst.account)
        if removed:
            events.installation_repositories(self, inst, [], removed, inst.account)
        return inst

    def create_user(self, login: str, permission: str, repositories: list[str], email: str | None = None) -> User:
        if permission not in PERMISSION_LEVELS:
            raise SetupError(f"permission must be one of {sorted(PERMISSION_LEVELS)}")
        if login.lower() in self.state.users:
            user = self.state.users[login.lower()]
        else:
            acct = self.state.account(login, "User")
            if email:
                acct.email = email
            tok = self.state.issue_token("user", user_login=acct.login)
            user = User(acct, tok.token, {})
            self.state.users[login.lower()] = user
        for full in repositories:
            user.permissions[self._repo(full).id] = permission
        return user

    def installation_token(self, inst: Installation) -> tuple[str, datetime | None]:
        tok = self.state.issue_token("installation", installation_id=inst.id, ttl=TOKEN_TTL)
        return tok.token, tok.expires_at

    def _app(self, app_id: int) -> App:
        app = self.state.apps.get(int(app_id))
        if app is None:
            raise SetupError(f"app {app_id} not found", 404)
        return app

    def _repo(self, full_name: str) -> Repo:
        owner, _, name = full_name.partition("/")
        repo = self.state.repo(owner, name)
        if repo is None:
            raise SetupError(f"repository {full_name} not found", 404)
        return repo

    # -- trees ----------------------------------------------------------------------------
    async def build_tree(self, repo: Repo, base_tree: str | None, entries: list[dict]) -> str:
        """Apply trees-API entries (nested paths; inline content, sha, or sha null to delete)
        to `base_tree` and write the new trees and blobs in one batch; returns the root sha."""
        root: dict = {}
        new_objects: list[tuple[str, bytes]] = []
        for e in entries:
            parts = [p for p in e["path"].split("/") if p]
            node = root
            for part in parts[:-1]:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise ValueError(f"path {e['path']} crosses a file")
            if "content" in e and e["content"] is not None:
                data = e["content"].encode() if isinstance(e["content"], str) else e["content"]
                new_objects.append(("blob", data))
                leaf = (e["mode"], gitobj.hash_object("blob", data))
            else:
                leaf = (e["mode"], e["sha"])  # sha None deletes
            if isinstance(node.get(parts[-1]), dict):
                raise ValueError(f"path {e['path']} is both a file and a directory")
            node[parts[-1]] = leaf

        async def apply(tree_sha: str | None, node: dict) -> str | None:
            current = {t.name: t for t in (await repo.git.read_tree(tree_sha) or [])} if tree_sha else {}
            for name, change in node.items():
                if isinstance(change, dict):
                    sub = current.get(name)
                    sub_sha = sub.sha if sub is not None and sub.mode == gitobj.MODE_TREE else None
                    new_sha = await apply(sub_sha, change)
                    if new_sha is None:
                        current.pop(name, None)
                    else:
                        current[name] = TreeEntry(gitobj.MODE_TREE, name, new_sha)
                elif change[1] is None:
                    current.pop(name, None)
                else:
                    current[name] = TreeEntry(change[0], name, change[1])
            if not current:
                return None
            body = gitobj.encode_tree(list(current.values()))
            new_objects.append(("tree", body))
            return gitobj.hash_object("tree", body)

        sha = await apply(base_tree, root)
        if sha is None:  # everything deleted: the empty tree
            body = gitobj.encode_tree([])
            new_objects.append(("tree", body))
            sha = gitobj.hash_object("tree", body)
        await repo.git.write_objects(new_objects)
        return sha

    # -- JSON views that need git ---------------------------------------------------------
    async def refresh_pull(self, repo: Repo, pull: Pull) -> None:
        """An open PR follows its branches, as on GitHub."""
        if pull.state != "open":
            return
        head = await repo.git.ref(f"refs/heads/{pull.head_ref}")
        base = await repo.git.ref(f"refs/heads/{pull.base_ref}")
        if head:
            pull.head_sha = head
        if base:
            pull.base_sha = base

    async def pull_stats(self, repo: Repo, pull: Pull) -> dict:
        if pull.stats is not None:
            return pull.stats
        mb = await repo.git.merge_base(pull.base_sha, pull.head_sha) or pull.base_sha
        changes = await repo.git.diff(mb, pull.head_sha, patches=False)
        return {
            "commits": await repo.git.count(pull.head_sha, mb),
            "additions": sum(c.additions for c in changes),
            "deletions": sum(c.deletions for c in changes),
            "changed_files": len(changes),
        }

    async def mergeability(self, repo: Repo, pull: Pull, *, look: bool = True) -> tuple[bool | None, str]:
        """(mergeable, mergeable_state) as GitHub answers: null/unknown until its background job
        for the current base and head has run. A `look` (a REST read) starts the job or, on a
        later look, finds it done; webhooks only report what is known."""
        if pull.state != "open":
            return None, "unknown"
        pair = (pull.base_sha, pull.head_sha)
        if pull.mergeability_known != pair:
            if not look:
                return None, "unknown"
            if pull.mergeability_started != pair:
                pull.mergeability_started = pair
                return None, "unknown"
            pull.mergeability_known = pair
        tree = await repo.git.merge_tree(pull.base_sha, pull.head_sha)
        return (tree is not None), ("clean" if tree is not None else "dirty")

    async def compute_mergeability(self, repo: Repo, pull: Pull) -> None:
        """Let GitHub's background job finish now (the control API's shortcut)."""
        await self.refresh_pull(repo, pull)
        pull.mergeability_started = pull.mergeability_known = (pull.base_sha, pull.head_sha)

    async def pull_json(self, repo: Repo, pull: Pull, *, look: bool = True) -> dict:
        await self.refresh_pull(repo, pull)
        mergeable, state = await self.mergeability(repo, pull, look=look)
        return shapes.pull_request(
            self.base_url,
            repo,
            pull,
            mergeable=mergeable,
            mergeable_state=state,
            stats=await self.pull_stats(repo, pull),
        )

    async def pull_diff_base(self, repo: Repo, pull: Pull) -> str:
        """Where a pull request's files and commits are counted from: the merge base while open,
        the base side of the merge commit once merged."""
        if pull.merged and pull.merge_commit_sha:
            merged = await repo.git.read_commit(pull.merge_commit_sha)
            if merged is not None and merged.parents:
                return merged.parents[0]
        return await repo.git.merge_base(pull.base_sha, pull.head_sha) or pull.base_sha

    def pulls_for_sha(self, repo: Repo, sha: str) -> list[Pull]:
        return [p for p in self.state.pulls[repo.id].values() if p.state == "open" and p.head_sha == sha]

    def check_run_json(self, repo: Repo, run: CheckRun, with_suite: bool = False) -> dict:
        app = self.state.apps[run.app_id]
        out = shapes.check_run(self.base_url, repo, run, app, self.pulls_for_sha(repo, run.head_sha))
        if with_suite:  # webhooks carry the whole suite
            suite = self.state.check_suites[run.suite_id]
            s = shapes.check_suite(
                self.base_url, repo, suite, app, self.pulls_for_sha(repo, suite.head_sha), self._runs_in(suite)
            )
            s.pop("head_commit")
            out["check_suite"] = s
        return out

    def _runs_in(self, suite: CheckSuite) -> int:
        return sum(1 for r in self.state.check_runs.values() if r.suite_id == suite.id)

    async def check_suite_json(self, repo: Repo, suite: CheckSuite) -> dict:
        app = self.state.apps[suite.app_id]
        out = shapes.check_suite(
            self.base_url, repo, suite, app, self.pulls_for_sha(repo, suite.head_sha), self._runs_in(suite)
        )
        got = await repo.git.log([suite.head_sha], [], limit=1)
        if got:
            c = got[0]
            out["head_commit"] = {
                "id": c.sha,
                "tree_id": c.tree,
                "message": c.message,
                "timestamp": c.committer[2],
                "author": {"name": c.author[0], "email": c.author[1]},
                "committer": {"name": c.committer[0], "email": c.committer[1]},
            }
        return out

    def suite_for(self, repo: Repo, app: App, sha: str, branch: str | None) -> tuple[CheckSuite, bool]:
        for s in self.state.check_suites.values():
            if s.repo_id == repo.id and s.app_id == app.id and s.head_sha == sha:
                return s, False
        s = CheckSuite(self.state.next_id("check_suite"), repo.id, app.id, sha, branch)
        self.state.check_suites[s.id] = s
        return s, True
