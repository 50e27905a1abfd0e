"""GitHub's JSON representations of users, repositories, commits, pull requests, check
runs, comments and installations, as REST answers and webhook payloads carry them.

`base` is the emulator's root URL; it stands for both api.github.com and github.com.
"""

from __future__ import annotations

from .gitobj import Commit, Person
from .gitrepo import FileChange
from .model import Account, App, CheckRun, CheckSuite, Comment, Installation, Pull, Repo, iso, node_id


def user(base: str, a: Account) -> dict:
    u = f"{base}/users/{a.login}"
    html = f"{base}/apps/{a.app_slug}" if a.app_slug else f"{base}/{a.login}"
    return {
        "login": a.login,
        "id": a.id,
        "node_id": a.node_id,
        "avatar_url": f"{base}/avatars/u/{a.id}?v=4",
        "gravatar_id": "",
        "url": u,
        "html_url": html,
        "followers_url": f"{u}/followers",
        "following_url": f"{u}/following{{/other_user}}",
        "gists_url": f"{u}/gists{{/gist_id}}",
        "starred_url": f"{u}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{u}/subscriptions",
        "organizations_url": f"{u}/orgs",
        "repos_url": f"{u}/repos",
        "events_url": f"{u}/events{{/privacy}}",
        "received_events_url": f"{u}/received_events",
        "type": a.type,
        "user_view_type": "public",
        "site_admin": False,
    }


def repository(base: str, r: Repo, *, permissions: dict | None = None, push_style: bool = False) -> dict:
    """The full repository object. Push webhooks carry epoch integers for two dates."""
    api = f"{base}/repos/{r.full_name}"
    html = f"{base}/{r.full_name}"
    out = {
        "id": r.id,
        "node_id": node_id("R", r.id),
        "name": r.name,
        "full_name": r.full_name,
        "private": r.private,
        "owner": user(base, r.owner),
        "html_url": html,
        "description": r.description,
        "fork": False,
        "url": api,
        "forks_url": f"{api}/forks",
        "keys_url": f"{api}/keys{{/key_id}}",
        "collaborators_url": f"{api}/collaborators{{/collaborator}}",
        "teams_url": f"{api}/teams",
        "hooks_url": f"{api}/hooks",
        "issue_events_url": f"{api}/issues/events{{/number}}",
        "events_url": f"{api}/events",
        "assignees_url": f"{api}/assignees{{/user}}",
        "branches_url": f"{api}/branches{{/branch}}",
        "tags_url": f"{api}/tags",
        "blobs_url": f"{api}/git/blobs{{/sha}}",
        "git_tags_url": f"{api}/git/tags{{/sha}}",
        "git_refs_url": f"{api}/git/refs{{/sha}}",
        "trees_url": f"{api}/git/trees{{/sha}}",
        "statuses_url": f"{api}/statuses/{{sha}}",
        "languages_url": f"{api}/languages",
        "stargazers_url": f"{api}/stargazers",
        "contributors_url": f"{api}/contributors",
        "subscribers_url": f"{api}/subscribers",
        "subscription_url": f"{api}/subscription",
        "commits_url": f"{api}/commits{{/sha}}",
        "git_commits_url": f"{api}/git/commits{{/sha}}",
        "comments_url": f"{api}/comments{{/number}}",
        "issue_comment_url": f"{api}/issues/comments{{/number}}",
        "contents_url": f"{api}/contents/{{+path}}",
        "compare_url": f"{api}/compare/{{base}}...{{head}}",
        "merges_url": f"{api}/merges",
        "archive_url": f"{api}/{{archive_format}}{{/ref}}",
        "downloads_url": f"{api}/downloads",
        "issues_url": f"{api}/issues{{/number}}",
        "pulls_url": f"{api}/pulls{{/number}}",
        "milestones_url": f"{api}/milestones{{/number}}",
        "notifications_url": f"{api}/notifications{{?since,all,participating}}",
        "labels_url": f"{api}/labels{{/name}}",
        "releases_url": f"{api}/releases{{/id}}",
        "deployments_url": f"{api}/deployments",
        "created_at": iso(r.created_at),
        "updated_at": iso(r.updated_at),
        "pushed_at": iso(r.pushed_at),
        "git_url": f"{base.replace('http', 'git', 1)}/{r.full_name}.git",
        "ssh_url": f"git@{base.split('://', 1)[-1]}:{r.full_name}.git",
        "clone_url": f"{html}.git",
        "svn_url": html,
        "homepage": None,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": "YAML",
        "has_issues": True,
        "has_projects": False,
        "has_downloads": True,
        "has_wiki": False,
        "has_pages": False,
        "has_discussions": False,
        "forks_count": 0,
        "mirror_url": None,
        "archived": False,
        "disabled": False,
        "open_issues_count": 0,
        "license": None,
        "allow_forking": True,
        "is_template": False,
        "web_commit_signoff_required": False,
        "topics": [],
        "visibility": "private" if r.private else "public",
        "forks": 0,
        "open_issues": 0,
        "watchers": 0,
        "default_branch": r.default_branch,
        "custom_properties": {},
    }
    if permissions is not None:
        out["permissions"] = permissions
    if push_style:
        out["created_at"] = int(r.created_at.timestamp())
        out["pushed_at"] = int(r.pushed_at.timestamp())
        out["stargazers"] = 0
        out["master_branch"] = r.default_branch
        if r.owner.type == "Organization":
            out["organization"] = r.owner.login
    return out


def full_repository(base: str, r: Repo, permissions: dict | None) -> dict:
    """GET /repos/{o}/{r}: the repository plus the fields only that answer has."""
    out = repository(base, r, permissions=permissions)
    out.update(
        {
            "temp_clone_token": "",
            "allow_squash_merge": True,
            "allow_merge_commit": True,
            "allow_rebase_merge": True,
            "allow_auto_merge": False,
            "delete_branch_on_merge": False,
            "allow_update_branch": False,
            "use_squash_pr_title_as_default": False,
            "squash_merge_commit_message": "COMMIT_MESSAGES",
            "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
            "merge_commit_message": "PR_TITLE",
            "merge_commit_title": "MERGE_MESSAGE",
            "network_count": 0,
            "subscribers_count": 0,
        }
    )
    if r.owner.type == "Organization":
        out["organization"] = user(base, r.owner)
    return out


def minimal_repository(base: str, r: Repo) -> dict:
    return {"id": r.id, "node_id": node_id("R", r.id), "name": r.name, "full_name": r.full_name, "private": r.private}


def verification() -> dict:
    return {"verified": False, "reason": "unsigned", "signature": None, "payload": None, "verified_at": None}


def git_person(p: Person) -> dict:
    return {"name": p.name, "email": p.email, "date": iso(p.when)}


def git_commit(base: str, r: Repo, sha: str, c: Commit) -> dict:
    """The git data API's commit (GET/POST /git/commits)."""
    api = f"{base}/repos/{r.full_name}"
    return {
        "sha": sha,
        "node_id": node_id("C", int(sha[:12], 16)),
        "url": f"{api}/git/commits/{sha}",
        "html_url": f"{base}/{r.full_name}/commit/{sha}",
        "author": git_person(c.author),
        "committer": git_person(c.committer),
        "message": c.message,
        "tree": {"sha": c.tree, "url": f"{api}/git/trees/{c.tree}"},
        "parents": [
            {"sha": p, "url": f"{api}/git/commits/{p}", "html_url": f"{base}/{r.full_name}/commit/{p}"}
            for p in c.parents
        ],
        "verification": verification(),
    }


def rest_commit(base: str, r: Repo, sha: str, c: Commit, author: Account | None, committer: Account | None) -> dict:
    """The repos API's commit (GET /commits, /commits/{ref}, compare)."""
    api = f"{base}/repos/{r.full_name}"
    return {
        "sha": sha,
        "node_id": node_id("C", int(sha[:12], 16)),
        "commit": {
            "author": git_person(c.author),
            "committer": git_person(c.committer),
            "message": c.message,
            "tree": {"sha": c.tree, "url": f"{api}/git/trees/{c.tree}"},
            "url": f"{api}/git/commits/{sha}",
            "comment_count": 0,
            "verification": verification(),
        },
        "url": f"{api}/commits/{sha}",
        "html_url": f"{base}/{r.full_name}/commit/{sha}",
        "comments_url": f"{api}/commits/{sha}/comments",
        "author": user(base, author) if author else None,
        "committer": user(base, committer) if committer else None,
        "parents": [
            {"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{base}/{r.full_name}/commit/{p}"} for p in c.parents
        ],
    }


def diff_entry(base: str, r: Repo, head_sha: str, ch: FileChange) -> dict:
    api = f"{base}/repos/{r.full_name}"
    out = {
        "sha": ch.sha,
        "filename": ch.filename,
        "status": ch.status,
        "additions": ch.additions,
        "deletions": ch.deletions,
        "changes": ch.additions + ch.deletions,
        "blob_url": f"{base}/{r.full_name}/blob/{head_sha}/{ch.filename}",
        "raw_url": f"{base}/{r.full_name}/raw/{head_sha}/{ch.filename}",
        "contents_url": f"{api}/contents/{ch.filename}?ref={head_sha}",
    }
    if ch.patch is not None:
        out["patch"] = ch.patch
    if ch.previous_filename:
        out["previous_filename"] = ch.previous_filename
    return out


def app(base: str, a: App) -> dict:
    return {
        "id": a.id,
        "slug": a.slug,
        "node_id": node_id("A", a.id),
        "client_id": a.client_id,
        "owner": user(base, a.owner),
        "name": a.name,
        "description": "",
        "external_url": f"{base}/apps/{a.slug}",
        "html_url": f"{base}/apps/{a.slug}",
        "created_at": iso(a.created_at),
        "updated_at": iso(a.created_at),
        "permissions": dict(a.permissions),
        "events": list(a.events),
    }


def installation(base: str, i: Installation) -> dict:
    return {
        "id": i.id,
        "account": user(base, i.account),
        "repository_selection": i.repository_selection,
        "access_tokens_url": f"{base}/app/installations/{i.id}/access_tokens",
        "repositories_url": f"{base}/installation/repositories",
        "html_url": f"{base}/settings/installations/{i.id}",
        "app_id": i.app.id,
        "app_slug": i.app.slug,
        "client_id": i.app.client_id,
        "target_id": i.account.id,
        "target_type": i.account.type,
        "permissions": dict(i.permissions),
        "events": list(i.events),
        "created_at": iso(i.created_at),
        "updated_at": iso(i.updated_at),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }


def installation_ref(i: Installation) -> dict:
    """The `installation` object webhooks for repository events carry."""
    return {"id": i.id, "node_id": node_id("MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u", i.id)}


def _link(href: str) -> dict:
    return {"href": href}


def pull_request(
    base: str,
    r: Repo,
    p: Pull,
    *,
    mergeable: bool | None = None,
    mergeable_state: str = "unknown",
    stats: dict | None = None,
) -> dict:
    api = f"{base}/repos/{r.full_name}"
    html = f"{base}/{r.full_name}/pull/{p.number}"
    repo_json = repository(base, r)
    stats = stats or {}

    def side(ref: str, sha: str) -> dict:
        return {
            "label": f"{r.owner.login}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": user(base, r.owner),
            "repo": repo_json,
        }

    return {
        "url": f"{api}/pulls/{p.number}",
        "id": p.id,
        "node_id": node_id("PR", p.id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": f"{api}/issues/{p.number}",
        "number": p.number,
        "state": p.state,
        "locked": False,
        "title": p.title,
        "user": user(base, p.user),
        "body": p.body,
        "created_at": iso(p.created_at),
        "updated_at": iso(p.updated_at),
        "closed_at": iso(p.closed_at),
        "merged_at": iso(p.merged_at),
        "merge_commit_sha": p.merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "labels": [],
        "milestone": None,
        "draft": p.draft,
        "commits_url": f"{api}/pulls/{p.number}/commits",
        "review_comments_url": f"{api}/pulls/{p.number}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{api}/issues/{p.number}/comments",
        "statuses_url": f"{api}/statuses/{p.head_sha}",
        "head": side(p.head_ref, p.head_sha),
        "base": side(p.base_ref, p.base_sha),
        "_links": {
            "self": _link(f"{api}/pulls/{p.number}"),
            "html": _link(html),
            "issue": _link(f"{api}/issues/{p.number}"),
            "comments": _link(f"{api}/issues/{p.number}/comments"),
            "review_comments": _link(f"{api}/pulls/{p.number}/comments"),
            "review_comment": _link(f"{api}/pulls/comments{{/number}}"),
            "commits": _link(f"{api}/pulls/{p.number}/commits"),
            "statuses": _link(f"{api}/statuses/{p.head_sha}"),
        },
        "author_association": "OWNER" if p.user.id == r.owner.id else "COLLABORATOR",
        "auto_merge": None,
        "active_lock_reason": None,
        "merged": p.merged,
        "mergeable": mergeable,
        "rebaseable": mergeable,
        "mergeable_state": mergeable_state,
        "merged_by": user(base, p.merged_by) if p.merged_by else None,
        "comments": p.comments,
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": stats.get("commits", 0),
        "additions": stats.get("additions", 0),
        "deletions": stats.get("deletions", 0),
        "changed_files": stats.get("changed_files", 0),
    }


def pull_request_simple(base: str, r: Repo, p: Pull) -> dict:
    """The list form (GET /pulls) has no merge or stats fields."""
    full = pull_request(base, r, p)
    for key in (
        "merged",
        "mergeable",
        "rebaseable",
        "mergeable_state",
        "merged_by",
        "comments",
        "review_comments",
        "maintainer_can_modify",
        "commits",
        "additions",
        "deletions",
        "changed_files",
    ):
        full.pop(key)
    return full


def pull_request_minimal(base: str, r: Repo, p: Pull) -> dict:
    """The form check runs and suites carry in `pull_requests`."""
    api = f"{base}/repos/{r.full_name}"
    mini_repo = {"id": r.id, "url": api, "name": r.name}
    return {
        "url": f"{api}/pulls/{p.number}",
        "id": p.id,
        "number": p.number,
        "head": {"ref": p.head_ref, "sha": p.head_sha, "repo": mini_repo},
        "base": {"ref": p.base_ref, "sha": p.base_sha, "repo": mini_repo},
    }


def issue(base: str, r: Repo, p: Pull) -> dict:
    """A pull request seen as an issue (issue_comment webhooks)."""
    api = f"{base}/repos/{r.full_name}"
    return {
        "url": f"{api}/issues/{p.number}",
        "repository_url": api,
        "labels_url": f"{api}/issues/{p.number}/labels{{/name}}",
        "comments_url": f"{api}/issues/{p.number}/comments",
        "events_url": f"{api}/issues/{p.number}/events",
        "html_url": f"{base}/{r.full_name}/pull/{p.number}",
        "id": p.id + 50_000_000,
        "node_id": node_id("I", p.id),
        "number": p.number,
        "title": p.title,
        "user": user(base, p.user),
        "labels": [],
        "state": p.state,
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": p.comments,
        "created_at": iso(p.created_at),
        "updated_at": iso(p.updated_at),
        "closed_at": iso(p.closed_at),
        "author_association": "OWNER" if p.user.id == r.owner.id else "COLLABORATOR",
        "active_lock_reason": None,
        "draft": p.draft,
        "body": p.body,
        "pull_request": {
            "url": f"{api}/pulls/{p.number}",
            "html_url": f"{base}/{r.full_name}/pull/{p.number}",
            "diff_url": f"{base}/{r.full_name}/pull/{p.number}.diff",
            "patch_url": f"{base}/{r.full_name}/pull/{p.number}.patch",
            "merged_at": iso(p.merged_at),
        },
        "reactions": reactions(f"{api}/issues/{p.number}/reactions"),
        "timeline_url": f"{api}/issues/{p.number}/timeline",
        "performed_via_github_app": None,
        "state_reason": None,
    }


def reactions(url: str) -> dict:
    return {
        "url": url,
        "total_count": 0,
        "+1": 0,
        "-1": 0,
        "laugh": 0,
        "hooray": 0,
        "confused": 0,
        "heart": 0,
        "rocket": 0,
        "eyes": 0,
    }


def comment(base: str, r: Repo, c: Comment) -> dict:
    api = f"{base}/repos/{r.full_name}"
    return {
        "id": c.id,
        "node_id": node_id("IC", c.id),
        "url": f"{api}/issues/comments/{c.id}",
        "html_url": f"{base}/{r.full_name}/pull/{c.issue_number}#issuecomment-{c.id}",
        "body": c.body,
        "user": user(base, c.user),
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
        "issue_url": f"{api}/issues/{c.issue_number}",
        "author_association": "OWNER" if c.user.id == r.owner.id else ("NONE" if c.via_app else "COLLABORATOR"),
        "performed_via_github_app": app(base, c.via_app) if c.via_app else None,
        "reactions": reactions(f"{api}/issues/comments/{c.id}/reactions"),
    }


def check_suite(base: str, r: Repo, s: CheckSuite, a: App, pulls: list[Pull], runs_count: int) -> dict:
    api = f"{base}/repos/{r.full_name}"
    return {
        "id": s.id,
        "node_id": node_id("CS", s.id),
        "head_branch": s.head_branch,
        "head_sha": s.head_sha,
        "status": s.status,
        "conclusion": s.conclusion,
        "url": f"{api}/check-suites/{s.id}",
        "before": s.before,
        "after": s.after,
        "pull_requests": [pull_request_minimal(base, r, p) for p in pulls],
        "app": app(base, a),
        "created_at": iso(s.created_at),
        "updated_at": iso(s.updated_at),
        "rerequestable": True,
        "runs_rerequestable": True,
        "latest_check_runs_count": runs_count,
        "check_runs_url": f"{api}/check-suites/{s.id}/check-runs",
        "head_commit": None,
    }


def check_run(base: str, r: Repo, c: CheckRun, a: App, pulls: list[Pull]) -> dict:
    api = f"{base}/repos/{r.full_name}"
    out = c.output
    return {
        "id": c.id,
        "head_sha": c.head_sha,
        "node_id": node_id("CR", c.id),
        "external_id": c.external_id or "",
        "url": f"{api}/check-runs/{c.id}",
        "html_url": f"{base}/{r.full_name}/runs/{c.id}",
        "details_url": c.details_url or f"{base}/{r.full_name}/runs/{c.id}",
        "status": c.status,
        "conclusion": c.conclusion,
        "started_at": iso(c.started_at),
        "completed_at": iso(c.completed_at),
        "output": {
            "title": out.get("title"),
            "summary": out.get("summary"),
            "text": out.get("text"),
            "annotations_count": len(c.annotations),
            "annotations_url": f"{api}/check-runs/{c.id}/annotations",
        },
        "name": c.name,
        "check_suite": {"id": c.suite_id},
        "app": app(base, a),
        "pull_requests": [pull_request_minimal(base, r, p) for p in pulls],
    }


def annotation(base: str, r: Repo, c: CheckRun, a: dict) -> dict:
    return {
        "path": a["path"],
        "blob_href": f"{base}/{r.full_name}/blob/{c.head_sha}/{a['path']}",
        "start_line": a["start_line"],
        "end_line": a["end_line"],
        "start_column": a.get("start_column"),
        "end_column": a.get("end_column"),
        "annotation_level": a["annotation_level"],
        "title": a.get("title"),
        "message": a["message"],
        "raw_details": a.get("raw_details"),
    }
