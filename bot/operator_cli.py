"""Operator commands: `hnp-gitops fabric|resource|draft|sync|status|conflicts|drift`.

They talk to a running bot's HNP API over HTTP through the same client HNP imports
(hnp_gitops_client), so they work the same against a local `serve` and a remote one. Tables
and progress bars for people (rich), `--json` for scripts (the API's answer, unchanged).

Connection settings: `--url` (env HNP_GITOPS_URL, default http://127.0.0.1:8080), `--token`
(env HNP_API_TOKEN), `--fabric` (env HNP_GITOPS_FABRIC) for the commands that need one.

Exit codes (for scripts):
  0  done
  1  a sync (or the operation asked about) failed or was cancelled
  2  usage or configuration error (no token, unreadable file, bad YAML)
  3  the server answered with an error (its message is printed on one line)
  4  the server could not be reached
  5  --wait gave up before the operation finished (it goes on in the server)

The token is only ever sent in the Authorization header; it is never printed, and error
messages show the URL without any user:password part.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from bot.core import threeway
from bot.core.states import ResourceState
from hnp_gitops_client import (
    ApiError,
    ConflictResolutionStrategy,
    HnpGitopsClient,
    HnpGitopsError,
    NotAnApi,
    SyncRequest,
    Unreachable,
)
from hnp_gitops_client.models import FINISHED_STATUSES

DEFAULT_URL = "http://127.0.0.1:8080"
# The environment variables these commands read (the top-level help lists them).
ENVIRONMENT = {
    "HNP_GITOPS_URL": f"the bot's base URL for the operator commands (default {DEFAULT_URL})",
    "HNP_API_TOKEN": "the HNP API bearer token (serve: the token it accepts; operator commands: the one they send)",
    "HNP_GITOPS_FABRIC": "the fabric the operator commands work on when --fabric is not given",
}

EXIT_OK = 0
EXIT_SYNC_FAILED = 1
EXIT_USAGE = 2
EXIT_API_ERROR = 3
EXIT_UNREACHABLE = 4
EXIT_TIMEOUT = 5

DIRECTIONS = ("gui_to_github", "github_to_gui", "bidirectional")
STRATEGIES = tuple(strategy.value for strategy in ConflictResolutionStrategy)
STATES = tuple(state.value for state in ResourceState)
RESOLUTIONS = {
    "gui": "gui_wins",
    "git": "github_wins",
    "github": "github_wins",
    "merge": "merge",
    "manual": "manual",
    "gui_wins": "gui_wins",
    "github_wins": "github_wins",
}


class OperatorError(Exception):
    """A one-line reason the command failed, with the exit code it ends in."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def failure(error: HnpGitopsError) -> OperatorError:
    """The client's error as the command's one line and exit code."""
    if isinstance(error, ApiError):
        return OperatorError(error.line(), EXIT_API_ERROR)
    if isinstance(error, Unreachable):
        return OperatorError(str(error), EXIT_UNREACHABLE)
    if isinstance(error, NotAnApi):
        return OperatorError(str(error), EXIT_API_ERROR)
    return OperatorError(str(error), EXIT_API_ERROR)


# --- output ---------------------------------------------------------------------------------


def console(stream: TextIO | None = None) -> Console:
    """Styled for a terminal; plain, unwrapped lines for pipes (scripts split them)."""
    stream = stream or sys.stdout
    if stream.isatty():
        return Console(file=stream, highlight=False)
    return Console(file=stream, width=10_000, no_color=True, highlight=False, soft_wrap=True)


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """Columns without borders, values as plain text (never read as markup)."""
    out = Table(box=None, show_edge=False, pad_edge=False, header_style="bold")
    for header in headers:
        out.add_column(header.upper(), no_wrap=True)
    for row in rows:
        out.add_row(*(Text(cell(v)) for v in row))
    return out


def emit(args: argparse.Namespace, data: Any, human: Any) -> None:
    """`--json`: the API's answer as it came; otherwise the table or text for people."""
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    elif isinstance(human, str):
        console().print(Text(human))
    else:
        console().print(human)


def short_sha(sha: Any) -> str | None:
    return sha[:10] if isinstance(sha, str) else None


def state_counts(fabric: dict[str, Any]) -> str:
    counts = fabric.get("resources") or {}
    if isinstance(counts, dict) and counts:
        return ", ".join(f"{state} {n}" for state, n in sorted(counts.items()) if n)
    return "-"


def value_text(value: Any) -> str:
    return "(absent)" if value is None else json.dumps(value, sort_keys=True)


# --- fabrics ------------------------------------------------------------------------------


def cmd_fabric_add(client: HnpGitopsClient, args: argparse.Namespace) -> int:
    fabric = client.create_fabric(
        args.name,
        args.repository,
        directory=args.directory or "",
        branch=args.branch or "main",
        create_pr=args.create_pr,
    )
    emit(
        args,
        fabric,
        f"fabric {fabric.get('name', args.name)} added: {fabric.get('repository')} "
        f"branch {fabric.get('branch')} directory '{fabric.get('directory') or ''}'"
        + (" (syncs open pull requests unless told otherwise)" if fabric.get("create_pr") else ""),
    )
    return EXIT_OK


def cmd_fabric_list(client: HnpGitopsClient, args: argparse.Namespace) -> int:
    fabrics = client.list_fabrics()
    rows = [
        (
            f.get("name"),
            f.get("repository"),
            f.get("branch"),
            f.get("directory") or "/",
            short_sha(f.get("last_ingested_sha")),
            f.get("connection_status"),
            state_counts(f),
        )
        for f in fabrics
    ]
    human = table(("fabric", "repository", "branch", "directory", "ingested", "connection", "resources"), rows)
    emit(args, {"fabrics": fabrics}, human if fabrics else "no fabrics yet (add one with `hnp-gitops fabric add`)")
    return EXIT_OK


FABRIC_FIELDS = (
    "name",
    "repository",
    "branch",
    "directory",
    "create_pr",
    "installation_id",
    "last_ingested_sha",
    "last_ingested_at",
    "connection_status",
    "status_detail",
    "created_at",
)


def cmd_fabric_show(client: HnpGitopsClient, args: argparse.Namespace) -> int:
    fabric = client.get_fabric(args.name or need_fabric(args))
    lines = [f"{key + ':':<20} {cell(fabric[key])}" for key in FABRIC_FIELDS if key in fabric]
    lines.append(f"{'resources:':<20} {state_counts(fabric)}")
    pr = fabric.get("pull_request")
    if isinstance(pr, dict):
        lines.append(f"{'pull_request:':<20} #{pr.get('number')} {pr.get('url') or ''} ({pr.get('state')})")
    emit(args, fabric, "\n".join(lines))
    return EXIT_OK


# --- resources ----------------------------------------------------------------------------


def split_resource(value: str) -> tuple[str, str]:
    kind, _, name = value.partition("/")
    if not kind or not name:
        raise OperatorError(f"name a resource as KIND/NAME (e.g. VPC/vpc-1), not {value!r}", EXIT_USAGE)
    return kind, name


def cmd_resource_list(client: HnpGitopsClient, args: argparse.Namespace) -> int:
    fabric = need_fabric(args)
    resources = client.list_resources(fabric, kind=args.kind, state=args.state)
    rows = []
    for r in resources:
        pr = r.get("pull_request") or {}
        draft = r.get("draft") or {}
        rows.append(
            (
                r.get("kind"),
                r.get("name"),
                r.get("state"),
                (r.get("file") or {}).get("path"),
                ("delete" if draft.get("delete") else draft.get("drafted_by") or "yes") if draft else None,
                f"#{pr.get('number')}" if pr.get("number") else None,
            )
        )
    shown = ", ".join(f"{k} {v}" for k, v in (("kind", args.kind), ("state", args.state)) if v)
    human = (
        table(("kind", "name", "state", "file", "draft", "pull request"), rows)
        if rows
        else f"no resources in fabric {fabric}" + (f" with {shown}" if shown else "")
    )
    emit(args, {"fabric": fabric, "resources": resources}, human)
    return EXIT_OK


def spec_yaml(spec: Any) -> list[str]:
    if spec is None:
        return []
    return yaml.safe_dump(spec, sort_keys=True, default_flow_style=False).splitlines()


def spec_diff(label_a: str, a: Any, label_b: str, b: Any) -> list[str]:
    """Field by field (the conflict and drift paths), then the YAML as a unified diff."""
    changed = threeway.diff(threeway.make_resource(a), threeway.make_resource(b))
    lines = [
        f"  {path or '(resource)'}: {value_text(threeway.to_json(old))} -> {value_text(threeway.to_json(new))}"
        for path, (old, new) in sorted(changed.items())
    ]
    if not lines:
        return [f"  no difference between {label_a} and {label_b}"]
    lines.append("")
    lines += [
        "  " + line.rstrip("\n")
        for line in difflib.unified_diff(spec_yaml(a), spec_yaml(b), label_a, label_b, lineterm="")
    ]
    return lines


def describe_resource(fabric: str, r: dict[str, Any]) -> str:
    draft, desired, actual = r.get("draft"), r.get("desired"), r.get("actual")
    file = r.get("file") or {}
    pr = r.get("pull_request") or {}
    lines = [f"{r.get('kind')}/{r.get('name')} in fabric {fabric}", f"{'state:':<14} {r.get('state')}"]
    if file:
        where = file.get("path", "")
        if file.get("line"):
            where += f" line {file['line']}"
        lines.append(f"{'file:':<14} {where} (document {file.get('document_index')})")
    else:
        lines.append(f"{'file:':<14} - (not in Git yet)")
    if pr.get("number"):
        lines.append(f"{'pull request:':<14} #{pr['number']} {pr.get('url') or ''}")
    if draft:
        who = f" by {draft['drafted_by']}" if draft.get("drafted_by") else ""
        what = "deletion" if draft.get("delete") else "spec"
        moved = " (Git moved since it was made)" if draft.get("base_moved") else ""
        lines.append(f"{'draft:':<14} {what}{who} at {draft.get('drafted_at')}{moved}")
    else:
        lines.append(f"{'draft:':<14} none")
    if desired:
        lines.append(f"{'desired:':<14} commit {short_sha(desired.get('sha'))} at {desired.get('at')}")
    else:
        lines.append(f"{'desired:':<14} none (not in Git)")
    if actual:
        lines.append(f"{'actual:':<14} reported at {actual.get('reported_at')}")
    else:
        lines.append(f"{'actual:':<14} not reported (the fabric never said what it runs)")
    desired_spec = desired.get("spec") if desired else None
    if draft:
        draft_spec = None if draft.get("delete") else draft.get("spec")
        lines += ["", "desired -> draft:", *spec_diff("desired", desired_spec, "draft", draft_spec)]
    if actual:
        lines += ["", "desired -> actual:", *spec_diff("desired", desired_spec, "actual", actual.get("spec"))]
    for label, spec in (
        ("draft", draft.get("spec") if draft else None),
        ("desired", desired_spec),
        ("actual", actual.get("spec") if actual else None),
    ):
        if spec is not None:
            lines += ["", f"{label} spec:", *("  " + line for line in spec_yaml(spec))]
    return "\n".join(lines)


def cmd_resource_show(client: HnpGitopsClient, args: argparse.Namespace) -> int:
    fabric = need_fabric(args)
    kind, name = split_resource(args.resource)
    resource = client.get_resource(fabric, kind, name)
    emit(args, resource, describe_resource(fabric, resource))
    return EXIT_OK


# --- drafts -------------------------------------------------------------------------------


def load_documents(paths: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """(origin, document) for every YAML document in the files ('-' is stdin)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    found = []
    for path in paths:
        try:
            if path == "-":
                text = sys.stdin.read()
            else:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
        except OSError as error:
            raise OperatorError(f"cannot read {path}: {error.strerror}", EXIT_USAGE) from None
        except UnicodeDecodeError:
            raise OperatorError(f"{path} is not UTF-8 text", EXIT_USAGE) from None
        try:
            documents = list(yaml.load_all(text, Loader=loader))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            problem = getattr(error, "problem", None) or "not valid YAML"
            raise OperatorError(f"{path}{where}: {problem}", EXIT_USAGE) from None
        for index, document in enumerate(documents):
            if document is None:
                continue
            origin = f"{path} document {index + 1}"
            if not isinstance(document, dict):
                raise OperatorError(f"{origin} is not a mapping", EXIT_USAGE)
            metadata = document.get("metadata") or {}
            if (
                not isinstance(document.get("kind"), str)
                or not isinstance(metadata, dict)
                or not isinstance(metadata.get("name"), str)
            ):
                raise OperatorError(f"{origin} needs kind and metadata.name", EXIT_USAGE)
            found.append((origin, document))
    if not found:
        raise OperatorError("no YAML documents found in " + ", ".join(paths), EXIT_USAGE)
    return found


def cmd_draft_set(client: HnpGitopsClient, args: argparse.Namespace) -> int:
    fabric = need_fabric(args)
    results: list[dict[str, Any]] = []
    for _origin, document in load_documents(args.file):
        kind, metadata = document["kind"], document.get("metadata") or {}
        name = metadata["name"]
        spec = document.get("spec")
        spec = spec if spec is not None else {}
        try:
            answer = client.set_draft(
                fabric, kind, name, spec, labels=metadata.get("labels"), annotations=metadata.get("annotations")
            )
        except Unreachable as error:
            raise failure(error) from None
        except HnpGitopsError as error:
            results.append({"kind": kind, "name": name, "ok": False, "error": str(failure(error))})
            continue
        results.append({"kind": kind, "name": name, "ok": True, "state": answer.get("state"), "resource": answer})
    failures = [r for r in results if not r["ok"]]
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
    else:
        ok = [r for r in results if r["ok"]]
        if ok:
            console().print(
                table(("kind", "name", "state"), [(r["kind"], r["name"], r["state"] or "draft") for r in ok])
            )
        for r in failures:
            print(f"hnp-gitops: error: {r['kind']}/{r['name']}: {r['error']}", file=sys.stderr)
        print(
            f"{len(ok)} draft(s) saved in fabric {fabric}" + (f", {len(failures)} refused" if failures else ""),
            file=sys.stderr,
        )
    return EXIT_API_ERROR if failures else EXIT_OK


def cmd_draft_delete(client: HnpGitopsClient, args: argparse.Namespace) -> int:
    fabric = need_fabric(args)
    answer = client.delete_resource(fabric, args.kind, args.name)
    emit(
        args,
        answer,
        f"{args.kind}/{args.name} is marked for deletion in fabric {fabric} (publish with `hnp-gitops sync`)",
    )
    return EXIT_OK


def cmd_draft_discard(client: HnpGitopsClient, args: argparse.Namespace) -> int:
    fabric = need_fabric(args)
    answer = client.discard_draft(fabric, args.kind, args.name)
    emit(args, answer, f"draft of {args.kind}/{args.name} discarded in fabric {fabric}")
    return EXIT_OK


# --- sync operations ----------------------------------------------------------------------


def cmd_sync(client: HnpGitopsClient, args: argparse.Namespace) -> int:
    filters: list[str] | dict[str, list[str]] | None = None
    if args.kind or args.name:  # the object form: kind in kinds and name in names
        filters = {k: v for k, v in (("kinds", args.kind), ("names", args.name)) if v}
    elif args.filter:
        filters = list(args.filter)
    request = SyncRequest(
        need_fabric(args),
        force_sync=args.force,
        create_pr=args.create_pr,
        conflict_resolution=args.conflict_resolution,
        resource_filters=filters,
    )
    if args.direction:
        request.direction = args.direction
    operation_id = client.start_sync(request)
    if not args.wait:
        emit(
            args,
            {"operation_id": operation_id, "status": "pending", "status_url": f"/api/operations/{operation_id}"},
            f"sync {operation_id} started ({request.direction.value}); "
            f"follow it with `hnp-gitops status {operation_id}`",
        )
        return EXIT_OK
    operation = wait_for_operation(client, operation_id, timeout=args.timeout, quiet=args.json)
    if operation is None or operation.get("status") not in FINISHED_STATUSES:
        raise OperatorError(
            f"operation {operation_id} has not finished after {args.timeout:g} s; "
            f"it goes on in the server (`hnp-gitops status {operation_id}`)",
            EXIT_TIMEOUT,
        )
    emit(args, operation, describe_operation(operation))
    return operation_exit_code(operation)


def operation_exit_code(operation: dict[str, Any]) -> int:
    if operation.get("status") in ("failed", "cancelled"):
        return EXIT_SYNC_FAILED
    result = operation.get("result")
    if operation.get("status") == "completed" and isinstance(result, dict) and result.get("success") is False:
        return EXIT_SYNC_FAILED
    return EXIT_OK


class ProgressReport:
    """An operation's progress on stderr: a rich progress bar on a terminal, one plain line per
    change otherwise (logs of scripts stay readable)."""

    def __init__(self, stream: TextIO, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled
        self.last: str | None = None
        self.bar: Progress | None = None
        self.task: Any = None
        if enabled and stream.isatty():
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=Console(file=stream),
                transient=False,
            )
            self.task = self.bar.add_task("pending", total=None)
            self.bar.start()

    def update(self, operation: dict[str, Any]) -> None:
        if not self.enabled:
            return
        progress = operation.get("progress") or {}
        done, total = int(progress.get("done") or 0), int(progress.get("total") or 0)
        status = str(operation.get("status", "?"))
        if status == "completed" and total:
            done = total
        retrying = operation.get("retrying")
        if isinstance(retrying, dict):
            status += f" (retrying: attempt {retrying.get('attempt')} of {retrying.get('max_attempts')})"
        if self.bar is not None:
            self.bar.update(self.task, description=status, completed=done, total=total or None)
            return
        line = f"progress: {done}/{total}  {status}" if total else f"progress: -/-  {status}"
        if line != self.last:
            self.last = line
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def wait_for_operation(
    client: HnpGitopsClient, operation_id: str, *, timeout: float, quiet: bool = False
) -> dict[str, Any] | None:
    """Long-poll the operation until it finishes or `timeout` passes, drawing progress on stderr."""
    report = ProgressReport(sys.stderr, enabled=not quiet)
    try:
        return client.wait_for_operation(operation_id, timeout=timeout, on_progress=report.update)
    finally:
        report.close()


def describe_operation(operation: dict[str, Any]) -> str:
    request = operation.get("request") or {}
    head = f"operation {operation.get('operation_id')}: {operation.get('status')}"
    if operation.get("direction"):
        head += f" ({operation['direction']}" + (f", fabric {operation['fabric']}" if operation.get("fabric") else "")
        head += ")"
    lines = [head]
    if request.get("initiated_by"):
        lines.append(f"  initiated by: {request['initiated_by']}")
    progress = operation.get("progress") or {}
    if progress.get("total"):
        lines.append(f"  progress: {progress.get('done')}/{progress.get('total')}")
    if operation.get("error"):
        lines.append(f"  error: {' '.join(str(operation['error']).split())}")
    retrying = operation.get("retrying")
    if isinstance(retrying, dict):
        when = f", next try at {retrying['next_try_at']}" if retrying.get("next_try_at") else ", running"
        lines.append(f"  retrying: attempt {retrying.get('attempt')} of {retrying.get('max_attempts')}{when}")
        lines.append(f"  last error: {' '.join(str(retrying.get('last_error')).split())}")
    result = operation.get("result")
    if isinstance(result, dict):
        stats = result.get("statistics") or {}
        shown = ", ".join(f"{k.removeprefix('resources_')} {v}" for k, v in stats.items() if v)
        lines.append(f"  statistics: {shown or 'nothing changed'}")
        github = result.get("github_integration") or {}
        performance = result.get("performance") or {}
        if github.get("commit_sha"):
            branch = github.get("branch_name") or github.get("branch")
            lines.append(f"  commit: {github['commit_sha']}" + (f" on {branch}" if branch else ""))
        if github.get("pull_request_url"):
            lines.append(f"  pull request: {github['pull_request_url']}")
        if "api_calls_made" in performance:
            lines.append(f"  GitHub API calls: {performance['api_calls_made']}")
        if performance.get("processing_time_seconds"):
            lines.append(f"  duration: {performance['processing_time_seconds']:.2f} s")
        for error in result.get("errors") or []:
            lines.append(f"  error: {' '.join(str(error).split())}")
        for warning in result.get("warnings") or []:
            lines.append(f"  warning: {' '.join(str(warning).split())}")
    return "\n".join(lines)


def cmd_status(client: HnpGitopsClient, args: argparse.Namespace) -> int:
    if args.operation_id:
        operation = client.get_operation_status(args.operation_id)
        if operation is None:
            raise OperatorError(f"404 not_found: no operation {args.operation_id!r}", EXIT_API_ERROR)
        emit(args, operation, describe_operation(operation))
        return operation_exit_code(operation)
    fabric = need_fabric(args)
    operations = client.list_operations(fabric, active=args.active)
    rows = []
    for op in operations:
        progress = op.get("progress") or {}
        result = op.get("result")
        result = result if isinstance(result, dict) else {}
        pr = (result.get("github_integration") or {}).get("pull_request_url")
        rows.append(
            (
                op.get("operation_id"),
                op.get("direction"),
                op.get("status"),
                f"{progress.get('done', 0)}/{progress.get('total', 0)}",
                op.get("trigger"),
                (op.get("request") or {}).get("initiated_by"),
                op.get("created_at"),
                pr or op.get("error"),
            )
        )
    human = (
        table(
            ("operation", "direction", "status", "progress", "trigger", "by", "created", "pull request / error"), rows
        )
        if rows
        else f"no {'active ' if args.active else ''}operations in fabric {fabric}"
    )
    emit(args, {"fabric": fabric, "operations": operations}, human)
    return EXIT_OK


# --- conflicts and drift --------------------------------------------------------------------


def cmd_conflicts(client: HnpGitopsClient, args: argparse.Namespace) -> int:
    if getattr(args, "action", None) == "resolve":
        return cmd_conflicts_resolve(client, args)
    if getattr(args, "action", None) == "detect":
        return cmd_conflicts_detect(client, args)
    fabric = need_fabric(args)
    conflicts = [c.to_dict() for c in client.list_conflicts(fabric, status="all" if args.all else "open")]
    emit(
        args,
        {"fabric": fabric, "count": len(conflicts), "conflicts": conflicts},
        conflict_table(conflicts) if conflicts else f"no {'' if args.all else 'open '}conflicts in fabric {fabric}",
    )
    return EXIT_OK


def conflict_table(conflicts: list[dict[str, Any]]) -> Table:
    rows = []
    for c in conflicts:
        resource = c.get("resource")
        where = f"{resource.get('kind')}/{resource.get('name')}" if isinstance(resource, dict) else "-"
        rows.append(
            (
                c.get("id"),
                where,
                c.get("conflict_type"),
                (c.get("resolution") or {}).get("severity"),
                c.get("field_path"),
                value_text(c.get("base_value")),
                value_text(c.get("gui_value")),
                value_text(c.get("git_value")),
                c.get("status"),
            )
        )
    return table(("id", "resource", "type", "severity", "field", "base", "gui", "git", "status"), rows)


def cmd_conflicts_detect(client: HnpGitopsClient, args: argparse.Namespace) -> int:
    fabric = need_fabric(args)
    found = client.detect_conflicts(fabric)
    data = found.to_dict()
    summary = (
        f"{len(found.conflicts)} open conflict(s) in fabric {fabric}; {found.total_resources_checked} "
        f"resource(s) checked in {found.detection_time_seconds:.3f} s"
    )
    if not args.json and found.conflicts:
        console().print(conflict_table(data["conflicts"]))
    emit(args, data, summary)
    return EXIT_OK


def cmd_conflicts_resolve(client: HnpGitopsClient, args: argparse.Namespace) -> int:
    values = None
    if args.values:
        try:
            values = json.loads(args.values)
        except ValueError:
            raise OperatorError("--values must be a JSON object", EXIT_USAGE) from None
        if not isinstance(values, dict):
            raise OperatorError("--values must be a JSON object", EXIT_USAGE)
    try:
        conflict_id = int(args.conflict_id)
    except ValueError:
        raise OperatorError(f"a conflict id is a number, not {args.conflict_id!r}", EXIT_USAGE) from None
    resolution = RESOLUTIONS[args.resolution]
    conflict = client.resolve_conflict(conflict_id, resolution, values=values)
    emit(args, {"conflict": conflict.to_dict()}, f"conflict {conflict_id} resolved: {resolution}")
    return EXIT_OK


def cmd_drift(client: HnpGitopsClient, args: argparse.Namespace) -> int:
    fabric = need_fabric(args)
    answer = client.drift(fabric, kind=args.kind)
    rows = []
    for entry in answer.get("resources") or []:
        for d in entry.get("differences") or [{}]:
            rows.append(
                (
                    entry.get("kind"),
                    entry.get("name"),
                    d.get("field", "-"),
                    value_text(d.get("desired")),
                    value_text(d.get("actual")),
                )
            )
    unreported = int(answer.get("not_reported") or 0)
    note = (
        f"{unreported} resource(s) have no reported actual state (not reported: unknown, not agreeing)"
        if unreported
        else ""
    )
    if rows:
        human: Any = table(("kind", "name", "field", "desired", "actual"), rows)
        if note and not args.json:
            console().print(human)
            human = note
    elif unreported:
        listed = ", ".join(f"{r['kind']}/{r['name']}" for r in (answer.get("not_reported_resources") or [])[:10])
        human = f"no drift found in fabric {fabric} among reported resources; {note}" + (
            f": {listed}" + (", ..." if unreported > 10 else "") if listed else ""
        )
    else:
        human = f"no drift in fabric {fabric}: every resource's reported actual state agrees with the desired state"
    emit(args, answer, human)
    return EXIT_OK


# --- wiring ---------------------------------------------------------------------------------


def need_fabric(args: argparse.Namespace) -> str:
    fabric = getattr(args, "fabric", None) or os.environ.get("HNP_GITOPS_FABRIC")
    if not fabric:
        raise OperatorError("which fabric? pass --fabric NAME or set HNP_GITOPS_FABRIC", EXIT_USAGE)
    return str(fabric)


Command = Callable[[HnpGitopsClient, argparse.Namespace], int]


def _run(handler: Command) -> Callable[[Any, argparse.Namespace], int]:
    def run(config: Any, args: argparse.Namespace) -> int:
        args.json = getattr(args, "json", False)
        url = getattr(args, "url", None) or os.environ.get("HNP_GITOPS_URL") or DEFAULT_URL
        token = getattr(args, "token", None) or os.environ.get("HNP_API_TOKEN")
        try:
            if not token:
                raise OperatorError("HNP_API_TOKEN is not set (or pass --token)", EXIT_USAGE)
            try:
                client = HnpGitopsClient(url, token)
            except ValueError as error:
                raise OperatorError(f"--url: {error}", EXIT_USAGE) from None
            try:
                return handler(client, args)
            except HnpGitopsError as error:
                raise failure(error) from None
        except OperatorError as error:
            print(f"hnp-gitops: error: {error}", file=sys.stderr)
            return error.code
        except KeyboardInterrupt:
            print("", file=sys.stderr)
            return 130

    return run


def add_commands(subparsers: Any) -> None:
    # Defaults are SUPPRESS so that `conflicts --token T resolve ...` keeps the value given
    # before the nested action (a nested parser's defaults would overwrite it); _run fills in.
    connection = argparse.ArgumentParser(add_help=False)
    group = connection.add_argument_group("connection")
    group.add_argument(
        "--url", default=argparse.SUPPRESS, help=f"the bot's base URL (env HNP_GITOPS_URL; default {DEFAULT_URL})"
    )
    group.add_argument(
        "--token",
        default=argparse.SUPPRESS,
        help="HNP API token (env HNP_API_TOKEN; prefer the environment: arguments show up in process lists)",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print the API's JSON answer for scripts instead of tables",
    )
    with_fabric = argparse.ArgumentParser(add_help=False, parents=[connection])
    with_fabric.add_argument("--fabric", "-F", default=argparse.SUPPRESS, help="fabric name (env HNP_GITOPS_FABRIC)")

    fabric = subparsers.add_parser(
        "fabric", help="add, list and show fabrics", description="Add, list and show fabrics."
    )
    fabric_cmds = fabric.add_subparsers(dest="fabric_command", metavar="ACTION", title="actions")
    fabric_cmds.required = True
    add = fabric_cmds.add_parser("add", parents=[connection], help="register a fabric (a directory on a branch)")
    add.add_argument("name", help="fabric name (lowercase letters, digits, '-')")
    add.add_argument("--repository", "-r", required=True, help="owner/repo on GitHub")
    add.add_argument("--directory", "-d", default=None, help="directory in the repository (default: the root)")
    add.add_argument("--branch", "-b", default=None, help="branch (default: main)")
    add.add_argument(
        "--create-pr",
        action="store_true",
        help="syncs of this fabric open pull requests unless a request says otherwise (for a protected branch)",
    )
    add.set_defaults(run=_run(cmd_fabric_add))
    listing = fabric_cmds.add_parser("list", parents=[connection], help="list fabrics")
    listing.set_defaults(run=_run(cmd_fabric_list))
    show = fabric_cmds.add_parser("show", parents=[with_fabric], help="show one fabric")
    show.add_argument("name", nargs="?", help="fabric name (default: --fabric)")
    show.set_defaults(run=_run(cmd_fabric_show))

    resource = subparsers.add_parser(
        "resource", help="list resources and show one", description="List a fabric's resources and show one."
    )
    resource_cmds = resource.add_subparsers(dest="resource_command", metavar="ACTION", title="actions")
    resource_cmds.required = True
    rlist = resource_cmds.add_parser("list", parents=[with_fabric], help="the fabric's resources and their states")
    rlist.add_argument("--kind", "-k", help="only this kind (case-insensitive, or its plural)")
    rlist.add_argument("--state", "-s", choices=STATES, help="only resources in this state")
    rlist.set_defaults(run=_run(cmd_resource_list))
    rshow = resource_cmds.add_parser(
        "show",
        parents=[with_fabric],
        help="one resource: state, file and line, draft / desired / actual and their differences",
    )
    rshow.add_argument("resource", metavar="KIND/NAME", help="the resource, e.g. VPC/vpc-1")
    rshow.set_defaults(run=_run(cmd_resource_show))

    draft = subparsers.add_parser("draft", help="save or discard GUI drafts", description="Save or discard GUI drafts.")
    draft_cmds = draft.add_subparsers(dest="draft_command", metavar="ACTION", title="actions")
    draft_cmds.required = True
    put = draft_cmds.add_parser("set", parents=[with_fabric], help="save each YAML document of the files as a draft")
    put.add_argument(
        "-f",
        "--file",
        action="append",
        required=True,
        help="YAML file with one or many documents ('-' for stdin); repeatable",
    )
    put.set_defaults(run=_run(cmd_draft_set))
    delete = draft_cmds.add_parser("delete", parents=[with_fabric], help="draft the deletion of a resource")
    delete.add_argument("kind", help="the resource's kind, e.g. VPC")
    delete.add_argument("name", help="the resource's metadata.name")
    delete.set_defaults(run=_run(cmd_draft_delete))
    discard = draft_cmds.add_parser("discard", parents=[with_fabric], help="throw a draft away")
    discard.add_argument("kind", help="the resource's kind, e.g. VPC")
    discard.add_argument("name", help="the resource's metadata.name")
    discard.set_defaults(run=_run(cmd_draft_discard))

    sync = subparsers.add_parser(
        "sync", parents=[with_fabric], help="start a sync operation", description="Start a sync operation."
    )
    sync.add_argument(
        "--direction",
        choices=DIRECTIONS,
        default=None,
        help="gui_to_github publishes drafts, github_to_gui ingests the branch, bidirectional does both "
        "(default: the server's, bidirectional)",
    )
    sync.add_argument(
        "--create-pr",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="publish on a new branch with a pull request, or with --no-create-pr straight onto the "
        "fabric's branch (default: the fabric's own setting)",
    )
    sync.add_argument("--force", action="store_true", help="also publish drafts that are in conflict, as drafted")
    sync.add_argument(
        "--conflict-resolution",
        choices=STRATEGIES,
        default="user_guided",
        help="how conflicts found on the way are settled (default: user_guided, a person decides)",
    )
    sync.add_argument(
        "--filter",
        action="append",
        metavar="SELECTOR",
        help="only drafts matching KIND, KIND/NAME or NAME (repeatable; any one selects)",
    )
    sync.add_argument("--kind", action="append", help="only resources of this kind (repeatable; with --name: both)")
    sync.add_argument("--name", action="append", help="only resources of this name (repeatable)")
    sync.add_argument("--wait", action="store_true", help="wait for the end, with a progress bar on stderr")
    sync.add_argument("--timeout", type=float, default=600.0, help="seconds --wait waits at most (default 600)")
    sync.set_defaults(run=_run(cmd_sync))

    status = subparsers.add_parser(
        "status", parents=[with_fabric], help="one operation, or the fabric's recent operations"
    )
    status.add_argument("operation_id", nargs="?", help="operation id (default: list the fabric's operations)")
    status.add_argument("--active", action="store_true", help="only operations still running")
    status.set_defaults(run=_run(cmd_status))

    conflicts = subparsers.add_parser(
        "conflicts",
        parents=[with_fabric],
        help="list, detect or resolve conflicts",
        description="List the fabric's open conflicts, check for new ones (detect), or resolve one.",
    )
    conflicts.add_argument("--all", action="store_true", help="resolved and superseded ones too")
    conflicts.set_defaults(run=_run(cmd_conflicts))
    conflict_cmds = conflicts.add_subparsers(dest="action", metavar="[ACTION]", title="actions (optional)")
    detect = conflict_cmds.add_parser(
        "detect", parents=[with_fabric], help="check the fabric's drafts for conflicts now (nothing is overwritten)"
    )
    detect.set_defaults(run=_run(cmd_conflicts))
    resolve = conflict_cmds.add_parser("resolve", parents=[connection], help="resolve one conflict")
    resolve.add_argument("conflict_id", help="the conflict's id (the ID column of `hnp-gitops conflicts`)")
    resolve.add_argument(
        "resolution",
        choices=sorted(RESOLUTIONS),
        help="gui (the draft's value), git (Git's), merge (two lists), manual (with --values)",
    )
    resolve.add_argument("--values", help="JSON object of field path to value, for manual: '{\"spec.x\": 1}'")
    resolve.set_defaults(run=_run(cmd_conflicts))

    drift = subparsers.add_parser(
        "drift",
        parents=[with_fabric],
        help="differences between desired and what the fabric reports",
        description="Differences between desired and what the fabric reports, and resources never reported.",
    )
    drift.add_argument("--kind", "-k", help="only this kind")
    drift.set_defaults(run=_run(cmd_drift))
