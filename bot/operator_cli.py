"""Operator commands: `hnp-gitops fabric|draft|sync|status|conflicts|drift`.

They talk to a running bot's HNP API over HTTP, as HNP does, so they work the same against a
local `serve` and a remote one. Tables for people by default, `--json` for scripts.

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
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8080"

EXIT_OK = 0
EXIT_SYNC_FAILED = 1
EXIT_USAGE = 2
EXIT_API_ERROR = 3
EXIT_UNREACHABLE = 4
EXIT_TIMEOUT = 5

DIRECTIONS = ("gui_to_github", "github_to_gui", "bidirectional")
STRATEGIES = ("user_guided", "timestamp_wins", "gui_wins", "github_wins", "merge_strategy")
RESOLUTIONS = {
    "gui": "gui_wins",
    "git": "github_wins",
    "github": "github_wins",
    "merge": "merge",
    "manual": "manual",
    "gui_wins": "gui_wins",
    "github_wins": "github_wins",
}
FINISHED = ("completed", "failed", "cancelled")


class OperatorError(Exception):
    """A one-line reason the command failed, with the exit code it ends in."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# --- the HTTP client ------------------------------------------------------------------------


class Client:
    """A tiny synchronous client of the HNP API (urllib: no session, no event loop)."""

    def __init__(self, url: str, token: str, *, timeout: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OperatorError(f"--url must be an http(s) URL, not {shown_url(url)!r}", EXIT_USAGE)
        if parts.username or parts.password:
            raise OperatorError("--url must not carry credentials; the token goes in HNP_API_TOKEN", EXIT_USAGE)
        self.base = url.rstrip("/")
        self._token = token
        self.timeout = timeout

    def request(
        self, method: str, path: str, body: Any = None, *, query: dict | None = None, timeout: float | None = None
    ) -> Any:
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = None
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/json",
            "User-Agent": "hnp-gitops-cli",
        }
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise OperatorError(api_error_line(error.code, _read(error)), EXIT_API_ERROR) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            text = getattr(reason, "strerror", None) or str(reason) or reason.__class__.__name__
            raise OperatorError(f"cannot reach {shown_url(self.base)}: {text}", EXIT_UNREACHABLE) from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise OperatorError(
                f"{shown_url(self.base)} answered something that is not JSON (is --url the hnp-gitops server?)",
                EXIT_API_ERROR,
            ) from None


def _read(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read()
    except OSError:
        return b""


def api_error_line(status: int, raw: bytes) -> str:
    """The API's `{"error": {"code", "message", "details"}}` as one line."""
    try:
        error = json.loads(raw)["error"]
        code, message = error.get("code") or "error", error.get("message") or ""
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"HTTP {status} (the answer was not an HNP API error; is --url right?)"
    line = f"{status} {code}: {message}"
    details = error.get("details")
    if isinstance(details, dict) and isinstance(details.get("errors"), list):
        details = details["errors"]
    elif isinstance(details, dict) and details.get("operation_id"):
        details = [f"operation {details['operation_id']}"]
    if isinstance(details, list) and details:
        line += " (" + "; ".join(_detail(d) for d in details[:5])
        line += f"; and {len(details) - 5} more)" if len(details) > 5 else ")"
    return " ".join(line.split())  # one line, whatever the message held


def _detail(detail: Any) -> str:
    if isinstance(detail, dict):
        where = detail.get("path") or detail.get("field") or detail.get("loc")
        if isinstance(where, list):
            where = ".".join(str(p) for p in where)
        message = detail.get("message") or detail.get("msg") or json.dumps(detail, sort_keys=True)
        return f"{where}: {message}" if where else str(message)
    return str(detail)


def shown_url(url: str) -> str:
    """The URL without user:password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urllib.parse.urlunsplit(parts)


def quote(segment: str) -> str:
    return urllib.parse.quote(str(segment), safe="")


# --- output ---------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
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


def short_sha(sha: Any) -> str | None:
    return sha[:10] if isinstance(sha, str) else None


def items(answer: Any, *keys: str) -> list:
    """The list in an answer that is either a bare list or {"<key>": [...]}."""
    if isinstance(answer, list):
        return answer
    if isinstance(answer, dict):
        for key in keys:
            if isinstance(answer.get(key), list):
                return answer[key]
    return []


def emit(args: argparse.Namespace, data: Any, human: str) -> None:
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(human)


def state_counts(fabric: dict) -> str:
    counts = fabric.get("resources") or fabric.get("state_counts") or {}
    if isinstance(counts, dict) and counts:
        return ", ".join(f"{state} {n}" for state, n in sorted(counts.items()) if n)
    return "-"


# --- commands -------------------------------------------------------------------------------


def cmd_fabric_add(client: Client, args: argparse.Namespace) -> int:
    body = {"name": args.name, "repository": args.repository, "directory": args.directory, "branch": args.branch}
    fabric = client.request("POST", "/api/fabrics", {k: v for k, v in body.items() if v is not None})
    emit(
        args,
        fabric,
        f"fabric {fabric.get('name', args.name)} added: {fabric.get('repository')} "
        f"branch {fabric.get('branch')} directory '{fabric.get('directory') or ''}'",
    )
    return EXIT_OK


def cmd_fabric_list(client: Client, args: argparse.Namespace) -> int:
    answer = client.request("GET", "/api/fabrics")
    fabrics = items(answer, "fabrics", "items")
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
    emit(args, answer, human if fabrics else "no fabrics yet (add one with `hnp-gitops fabric add`)")
    return EXIT_OK


def cmd_fabric_show(client: Client, args: argparse.Namespace) -> int:
    name = args.name or need_fabric(args)
    fabric = client.request("GET", f"/api/fabrics/{quote(name)}")
    lines = []
    for key in (
        "name",
        "repository",
        "branch",
        "directory",
        "installation_id",
        "last_ingested_sha",
        "last_ingested_at",
        "connection_status",
        "status_detail",
        "created_at",
    ):
        if key in fabric:
            lines.append(f"{key + ':':<20} {_cell(fabric[key])}")
    lines.append(f"{'resources:':<20} {state_counts(fabric)}")
    for key, value in fabric.items():
        if key in ("resources", "state_counts") or any(line.startswith(key + ":") for line in lines):
            continue
        if key == "pull_request" and isinstance(value, dict):
            value = f"#{value.get('number')} {value.get('url') or ''} ({value.get('state')})"
        lines.append(f"{key + ':':<20} {_cell(value)}")
    emit(args, fabric, "\n".join(lines))
    return EXIT_OK


def load_documents(paths: Sequence[str]) -> list[tuple[str, dict]]:
    """(origin, document) for every YAML document in the files ('-' is stdin)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    found = []
    for path in paths:
        try:
            text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
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


def draft_body(document: dict) -> dict:
    metadata = document.get("metadata") or {}
    body: dict[str, Any] = {"spec": document.get("spec") if document.get("spec") is not None else {}}
    for key in ("labels", "annotations"):
        if metadata.get(key):
            body[key] = metadata[key]
    return body


def cmd_draft_set(client: Client, args: argparse.Namespace) -> int:
    fabric = need_fabric(args)
    documents = load_documents(args.file)
    results, failures = [], []
    for _origin, document in documents:
        kind, name = document["kind"], document["metadata"]["name"]
        path = f"/api/fabrics/{quote(fabric)}/resources/{quote(kind)}/{quote(name)}/draft"
        try:
            answer = client.request("PUT", path, draft_body(document))
        except OperatorError as error:
            if error.code == EXIT_UNREACHABLE:
                raise
            failures.append((kind, name, str(error)))
            results.append({"kind": kind, "name": name, "ok": False, "error": str(error)})
            continue
        state = answer.get("state") if isinstance(answer, dict) else None
        results.append({"kind": kind, "name": name, "ok": True, "state": state, "resource": answer})
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
    else:
        ok = [r for r in results if r["ok"]]
        if ok:
            print(table(("kind", "name", "state"), [(r["kind"], r["name"], r["state"] or "draft") for r in ok]))
        for kind, name, message in failures:
            print(f"hnp-gitops: error: {kind}/{name}: {message}", file=sys.stderr)
        print(
            f"{len(ok)} draft(s) saved in fabric {fabric}" + (f", {len(failures)} refused" if failures else ""),
            file=sys.stderr,
        )
    return EXIT_API_ERROR if failures else EXIT_OK


def cmd_draft_delete(client: Client, args: argparse.Namespace) -> int:
    fabric = need_fabric(args)
    path = f"/api/fabrics/{quote(fabric)}/resources/{quote(args.kind)}/{quote(args.name)}/draft"
    answer = client.request("PUT", path, {"delete": True})
    emit(
        args,
        answer,
        f"{args.kind}/{args.name} is marked for deletion in fabric {fabric} (publish with `hnp-gitops sync`)",
    )
    return EXIT_OK


def cmd_draft_discard(client: Client, args: argparse.Namespace) -> int:
    fabric = need_fabric(args)
    path = f"/api/fabrics/{quote(fabric)}/resources/{quote(args.kind)}/{quote(args.name)}/draft"
    answer = client.request("DELETE", path)
    emit(
        args,
        answer if answer is not None else {"kind": args.kind, "name": args.name, "discarded": True},
        f"draft of {args.kind}/{args.name} discarded in fabric {fabric}",
    )
    return EXIT_OK


def cmd_sync(client: Client, args: argparse.Namespace) -> int:
    fabric = need_fabric(args)
    body: dict[str, Any] = {
        "direction": args.direction,
        "force_sync": args.force,
        "conflict_resolution": args.conflict_resolution,
    }
    if args.create_pr is not None:  # unset: the server's default (a pull request)
        body["create_pr"] = args.create_pr
    filters = {key: values for key, values in (("kinds", args.kind), ("names", args.name)) if values}
    if filters:
        body["resource_filters"] = filters
    started = client.request("POST", f"/api/fabrics/{quote(fabric)}/sync", body)
    operation_id = started.get("operation_id")
    if not args.wait:
        emit(
            args,
            started,
            f"sync {operation_id} started ({args.direction}); follow it with `hnp-gitops status {operation_id}`",
        )
        return EXIT_OK
    operation = wait_for_operation(client, operation_id, timeout=args.timeout, quiet=args.json)
    if operation is None:
        raise OperatorError(
            f"operation {operation_id} has not finished after {args.timeout:g} s; "
            f"it goes on in the server (`hnp-gitops status {operation_id}`)",
            EXIT_TIMEOUT,
        )
    emit(args, operation, describe_operation(operation))
    return operation_exit_code(operation)


def operation_exit_code(operation: dict) -> int:
    if operation.get("status") in ("failed", "cancelled"):
        return EXIT_SYNC_FAILED
    result = operation.get("result")
    if operation.get("status") == "completed" and isinstance(result, dict) and result.get("success") is False:
        return EXIT_SYNC_FAILED
    return EXIT_OK


def wait_for_operation(
    client: Client, operation_id: str, *, timeout: float, quiet: bool = False, poll_seconds: float = 5.0
) -> dict | None:
    """Long-poll GET /api/operations/{id}?wait=S until it finishes, drawing progress on stderr."""
    bar = Progress(sys.stderr, enabled=not quiet)
    deadline = time.monotonic() + timeout
    path = f"/api/operations/{quote(operation_id)}"
    try:
        while True:
            left = deadline - time.monotonic()
            wait = max(0, min(poll_seconds, int(left)))
            operation = client.request("GET", path, query={"wait": wait}, timeout=wait + 30)
            bar.update(operation)
            if operation.get("status") in FINISHED:
                return operation
            if time.monotonic() >= deadline:
                return None
    finally:
        bar.close()


class Progress:
    """`[##########..........] 12/40  gui_to_github_sync` on stderr: redrawn in place on a
    terminal, one line per change otherwise (logs of scripts stay readable)."""

    WIDTH = 30

    def __init__(self, stream, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.last: str | None = None
        self.drawn = False

    def update(self, operation: dict) -> None:
        if not self.enabled:
            return
        progress = operation.get("progress") or {}
        done, total = int(progress.get("done") or 0), int(progress.get("total") or 0)
        status = operation.get("status", "?")
        if status == "completed" and total:
            done = total
        filled = int(self.WIDTH * done / total) if total else (self.WIDTH if status in FINISHED else 0)
        counts = f"{done}/{total}" if total else "-/-"
        line = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {counts:>11}  {status}"
        if line == self.last:
            return
        self.last = line
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
            self.drawn = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def describe_operation(operation: dict) -> str:
    lines = [
        f"operation {operation.get('operation_id')}: {operation.get('status')}"
        + (
            f" ({operation.get('direction')}"
            + (f", fabric {operation['fabric']}" if operation.get("fabric") else "")
            + ")"
            if operation.get("direction")
            else ""
        )
    ]
    progress = operation.get("progress") or {}
    if progress.get("total"):
        lines.append(f"  progress: {progress.get('done')}/{progress.get('total')}")
    if operation.get("error"):
        lines.append(f"  error: {' '.join(str(operation['error']).split())}")
    result = operation.get("result")
    if isinstance(result, dict):
        stats = result.get("statistics") or {}
        shown = ", ".join(f"{k.removeprefix('resources_')} {v}" for k, v in stats.items() if v)
        lines.append(f"  statistics: {shown or 'nothing changed'}")
        github = result.get("github_integration") or {}
        if github.get("commit_sha"):
            lines.append(
                f"  commit: {github['commit_sha']}"
                + (
                    f" on {github['branch_name'] or github.get('branch')}"
                    if github.get("branch_name") or github.get("branch")
                    else ""
                )
            )
        if github.get("pull_request_url"):
            lines.append(f"  pull request: {github['pull_request_url']}")
        if "api_calls_made" in github:
            lines.append(f"  GitHub API calls: {github['api_calls_made']}")
        duration = (result.get("performance") or {}).get("duration_ms")
        if duration:
            lines.append(f"  duration: {duration / 1000:.2f} s")
        for error in result.get("errors") or []:
            lines.append(f"  error: {' '.join(str(error).split())}")
        for warning in result.get("warnings") or []:
            lines.append(f"  warning: {' '.join(str(warning).split())}")
    return "\n".join(lines)


def cmd_status(client: Client, args: argparse.Namespace) -> int:
    if args.operation_id:
        operation = client.request("GET", f"/api/operations/{quote(args.operation_id)}")
        emit(args, operation, describe_operation(operation))
        return operation_exit_code(operation)
    fabric = need_fabric(args)
    answer = client.request(
        "GET", f"/api/fabrics/{quote(fabric)}/operations", query={"active": "true" if args.active else None}
    )
    operations = items(answer, "operations", "items")
    rows = []
    for op in operations:
        progress = op.get("progress") or {}
        result = op.get("result") or {}
        pr = (result.get("github_integration") or {}).get("pull_request_url") if isinstance(result, dict) else None
        rows.append(
            (
                op.get("operation_id"),
                op.get("direction"),
                op.get("status"),
                f"{progress.get('done', 0)}/{progress.get('total', 0)}",
                op.get("trigger"),
                op.get("created_at"),
                pr or op.get("error"),
            )
        )
    human = (
        table(("operation", "direction", "status", "progress", "trigger", "created", "pull request / error"), rows)
        if rows
        else f"no {'active ' if args.active else ''}operations in fabric {fabric}"
    )
    emit(args, answer, human)
    return EXIT_OK


def _value(value: Any) -> str:
    return "(absent)" if value is None else json.dumps(value, sort_keys=True)


def cmd_conflicts(client: Client, args: argparse.Namespace) -> int:
    if getattr(args, "action", None) == "resolve":
        return cmd_conflicts_resolve(client, args)
    fabric = need_fabric(args)
    answer = client.request(
        "GET", f"/api/fabrics/{quote(fabric)}/conflicts", query={"status": "all" if args.all else None}
    )
    conflicts = items(answer, "conflicts", "items")
    rows = []
    for c in conflicts:
        resource = c.get("resource")
        if isinstance(resource, dict):
            resource = f"{resource.get('kind')}/{resource.get('name')}"
        rows.append(
            (
                c.get("id"),
                resource or "-",
                c.get("type"),
                c.get("severity"),
                c.get("field_path"),
                _value(c.get("base_value")),
                _value(c.get("gui_value")),
                _value(c.get("git_value")),
                c.get("status"),
            )
        )
    human = (
        table(("id", "resource", "type", "severity", "field", "base", "gui", "git", "status"), rows)
        if rows
        else f"no open conflicts in fabric {fabric}"
    )
    emit(args, answer, human)
    return EXIT_OK


def cmd_conflicts_resolve(client: Client, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"resolution": RESOLUTIONS[args.resolution]}
    if args.values:
        try:
            body["values"] = json.loads(args.values)
        except ValueError:
            raise OperatorError("--values must be a JSON object", EXIT_USAGE) from None
    answer = client.request("POST", f"/api/conflicts/{quote(args.conflict_id)}/resolve", body)
    emit(args, answer, f"conflict {args.conflict_id} resolved: {body['resolution']}")
    return EXIT_OK


def cmd_drift(client: Client, args: argparse.Namespace) -> int:
    fabric = need_fabric(args)
    answer = client.request("GET", f"/api/fabrics/{quote(fabric)}/drift")
    entries = items(answer, "drift", "resources", "items")
    rows = []
    for entry in entries:
        differences = entry.get("differences") or entry.get("fields") or entry.get("diff") or []
        if isinstance(differences, dict):
            differences = [{"path": k, **(v if isinstance(v, dict) else {"actual": v})} for k, v in differences.items()]
        if not differences:
            rows.append((entry.get("kind"), entry.get("name"), "-", "-", "-"))
        for d in differences:
            rows.append(
                (
                    entry.get("kind"),
                    entry.get("name"),
                    d.get("path") or d.get("field_path") or d.get("field"),
                    _value(d.get("desired")),
                    _value(d.get("actual")),
                )
            )
    human = (
        table(("kind", "name", "field", "desired", "actual"), rows)
        if rows
        else f"no drift in fabric {fabric}: the running fabric agrees with the desired state"
    )
    emit(args, answer, human)
    return EXIT_OK


# --- wiring ---------------------------------------------------------------------------------


def need_fabric(args: argparse.Namespace) -> str:
    fabric = getattr(args, "fabric", None) or os.environ.get("HNP_GITOPS_FABRIC")
    if not fabric:
        raise OperatorError("which fabric? pass --fabric NAME or set HNP_GITOPS_FABRIC", EXIT_USAGE)
    return fabric


def _run(handler):
    def run(config, args: argparse.Namespace) -> int:
        args.json = getattr(args, "json", False)
        url = getattr(args, "url", None) or os.environ.get("HNP_GITOPS_URL") or DEFAULT_URL
        token = getattr(args, "token", None) or os.environ.get("HNP_API_TOKEN")
        try:
            if not token:
                raise OperatorError("HNP_API_TOKEN is not set (or pass --token)", EXIT_USAGE)
            return handler(Client(url, token), args)
        except OperatorError as error:
            print(f"hnp-gitops: error: {error}", file=sys.stderr)
            return error.code
        except KeyboardInterrupt:
            print("", file=sys.stderr)
            return 130

    return run


def add_commands(subparsers) -> None:
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
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts instead of tables"
    )
    with_fabric = argparse.ArgumentParser(add_help=False, parents=[connection])
    with_fabric.add_argument("--fabric", "-F", default=argparse.SUPPRESS, help="fabric name (env HNP_GITOPS_FABRIC)")

    fabric = subparsers.add_parser("fabric", help="add, list and show fabrics")
    fabric_cmds = fabric.add_subparsers(dest="fabric_command", metavar="ACTION")
    fabric_cmds.required = True
    add = fabric_cmds.add_parser("add", parents=[connection], help="register a fabric (a directory on a branch)")
    add.add_argument("name", help="fabric name (lowercase letters, digits, '-')")
    add.add_argument("--repository", "-r", required=True, help="owner/repo on GitHub")
    add.add_argument("--directory", "-d", default=None, help="directory in the repository (default: the root)")
    add.add_argument("--branch", "-b", default=None, help="branch (default: main)")
    add.set_defaults(run=_run(cmd_fabric_add))
    listing = fabric_cmds.add_parser("list", parents=[connection], help="list fabrics")
    listing.set_defaults(run=_run(cmd_fabric_list))
    show = fabric_cmds.add_parser("show", parents=[with_fabric], help="show one fabric")
    show.add_argument("name", nargs="?", help="fabric name (default: --fabric)")
    show.set_defaults(run=_run(cmd_fabric_show))

    draft = subparsers.add_parser("draft", help="save or discard GUI drafts")
    draft_cmds = draft.add_subparsers(dest="draft_command", metavar="ACTION")
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
    delete.add_argument("kind")
    delete.add_argument("name")
    delete.set_defaults(run=_run(cmd_draft_delete))
    discard = draft_cmds.add_parser("discard", parents=[with_fabric], help="throw a draft away")
    discard.add_argument("kind")
    discard.add_argument("name")
    discard.set_defaults(run=_run(cmd_draft_discard))

    sync = subparsers.add_parser("sync", parents=[with_fabric], help="start a sync operation")
    sync.add_argument("--direction", choices=DIRECTIONS, default="gui_to_github")
    sync.add_argument(
        "--create-pr",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="publish on a new branch with a pull request (the server's default), or "
        "with --no-create-pr straight onto the fabric's branch",
    )
    sync.add_argument("--force", action="store_true", help="force_sync: go ahead even when nothing seems changed")
    sync.add_argument("--conflict-resolution", choices=STRATEGIES, default="user_guided")
    sync.add_argument("--kind", action="append", help="only resources of this kind (repeatable)")
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

    conflicts = subparsers.add_parser("conflicts", parents=[with_fabric], help="list or resolve conflicts")
    conflicts.add_argument("--all", action="store_true", help="resolved ones too")
    conflicts.set_defaults(run=_run(cmd_conflicts))
    conflict_cmds = conflicts.add_subparsers(dest="action", metavar="ACTION")
    resolve = conflict_cmds.add_parser("resolve", parents=[connection], help="resolve one conflict")
    resolve.add_argument("conflict_id")
    resolve.add_argument("resolution", choices=sorted(RESOLUTIONS))
    resolve.add_argument("--values", help="JSON object of field values (for manual)")
    resolve.set_defaults(run=_run(cmd_conflicts))

    drift = subparsers.add_parser(
        "drift", parents=[with_fabric], help="differences between desired and what the fabric reports"
    )
    drift.set_defaults(run=_run(cmd_drift))
