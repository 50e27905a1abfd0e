"""What the bot shows on GitHub: check runs, the one PR comment, the PR body, and the commands
people type in PR comments. Data in, dicts and strings out.

GitHub's limits respected here: a check run's output.summary and .text are at most 65,535
characters, at most 50 annotations go in one request (`batches`, `check_run_requests`), at
most 3 requested actions with label <= 20, identifier <= 20 and description <= 40 characters;
an issue / PR comment or body is at most 65,536 characters. Long lists are cut with a note
("and 1,234 more").

Annotation levels: a conflict of severity critical, high or medium is a `failure`
annotation (it blocks the pull request), a low one a `warning`; validation errors are
`failure`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.filemap import UnreadEntry
from bot.core.kinds import lookup
from bot.core.threeway import ABSENT, FieldConflict

CONFLICTS_CHECK = "hnp-gitops/conflicts"
VALIDATE_CHECK = "hnp-gitops/validate"
COMMENT_MARKER = "<!-- hnp-gitops:conflicts -->"
PR_BODY_MARKER = "<!-- hnp-gitops:sync -->"

MAX_SUMMARY = 65_535
MAX_BODY = 65_536
MAX_ANNOTATIONS_PER_REQUEST = 50
MAX_ANNOTATION_MESSAGE = 64 * 1024 - 1
MAX_ANNOTATION_TITLE = 255
MAX_VALUE = 60  # characters of a value shown in a table cell

CONFLICT_ACTIONS = [
    {"label": "GUI wins", "identifier": "gui_wins", "description": "Use the GUI's value in every conflict"},
    {"label": "Git wins", "identifier": "github_wins", "description": "Use Git's value in every conflict"},
    {"label": "Merge", "identifier": "merge", "description": "Merge lists; other conflicts stay"},
]

COMMANDS_HELP = "`/hnp resolve gui|git|merge [kind/name]`, `/hnp recheck`, `/hnp rebase`"


# --------------------------------------------------------------------------------------------
# Text helpers

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")


def md_escape(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, specials backslash-escaped."""
    text = re.sub(r"\s*[\r\n]+\s*", " ", text)
    return _MD_SPECIAL.sub(r"\\\1", text)


def compact(value: Any, limit: int = MAX_VALUE) -> str:
    """A value on one short line: strings as written, others as compact JSON; '(absent)'."""
    if value is ABSENT:
        text = "(absent)"
    elif isinstance(value, str):
        text = value if value else '""'
    else:
        text = json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False, default=str)
    text = re.sub(r"\s*[\r\n]+\s*", " ", text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _plain(value: Any) -> Any:
    if value is ABSENT:
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def cell(value: Any) -> str:
    return md_escape(compact(value))


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def _fit(head: str, rows: Sequence[str], tail: str, limit: int, more: str, max_rows: int | None = None) -> str:
    """head + as many rows as fit (at most `max_rows`) + a note on the rows left out + tail,
    within `limit` characters. `more` is a format string with {n}."""
    total = len(rows)
    cap = total if max_rows is None else min(total, max_rows)
    budget = limit - len(head) - len(tail) - (len(more.format(n=f"{total:,}")) + 4)
    shown = used = 0
    for row in rows[:cap]:
        if used + len(row) + 1 > budget:
            break
        used += len(row) + 1
        shown += 1
    text = head + "".join("\n" + row for row in rows[:shown])
    if shown < total:
        text += "\n\n" + more.format(n=f"{total - shown:,}")
    return (text + tail)[:limit]


def batches(items: Sequence[Any], size: int = MAX_ANNOTATIONS_PER_REQUEST) -> list[list[Any]]:
    """`items` cut into lists of at most `size` (GitHub takes 50 annotations per request)."""
    if size <= 0:
        raise ValueError("batch size must be positive")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def check_run_requests(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The payload to create the check run with (its first 50 annotations), then one update
    payload per further batch of 50 (title and summary repeated, as GitHub requires)."""
    output = dict(payload.get("output") or {})
    annotations = list(output.pop("annotations", []) or [])
    groups = batches(annotations) or [[]]
    first = dict(payload)
    first["output"] = {**output, **({"annotations": groups[0]} if groups[0] else {})}
    requests = [first]
    for group in groups[1:]:
        requests.append(
            {"output": {"title": output.get("title", ""), "summary": output.get("summary", ""), "annotations": group}}
        )
    return requests


# --------------------------------------------------------------------------------------------
# Conflicts check run


@dataclass(frozen=True)
class Location:
    """Where a conflicting field stands in the pull request's file (1-based lines)."""

    path: str
    start_line: int
    end_line: int | None = None


def _resource_label(conflict: FieldConflict) -> str:
    return conflict.resource or "(unknown)"


def _field_label(conflict: FieldConflict) -> str:
    return conflict.path or "(resource)"


def _annotation_level(conflict: FieldConflict) -> str:
    return "warning" if conflict.severity == "low" else "failure"


def conflict_annotation(conflict: FieldConflict, location: Location) -> dict[str, Any]:
    title = f"{conflict.type.replace('_', ' ').capitalize()}: {_resource_label(conflict)}"
    if conflict.path:
        title += f" {conflict.path}"
    message = (
        f"{conflict.message or conflict.type}\n"
        f"base: {compact(conflict.base, 500)}\n"
        f"GUI:  {compact(conflict.gui, 500)}\n"
        f"Git:  {compact(conflict.git, 500)}\n"
        f"Resolve with a button on this check, or comment "
        f"/hnp resolve gui|git|merge {_resource_label(conflict)}"
    )
    start = max(1, int(location.start_line))
    end = max(start, int(location.end_line or start))
    return {
        "path": location.path,
        "start_line": start,
        "end_line": end,
        "annotation_level": _annotation_level(conflict),
        "title": title[:MAX_ANNOTATION_TITLE],
        "message": message[:MAX_ANNOTATION_MESSAGE],
    }


def conflict_summary(conflicts: Sequence[FieldConflict], limit: int = MAX_SUMMARY) -> str:
    """A Markdown summary: counts and a table (resource, field, base, GUI, Git)."""
    if not conflicts:
        return "No conflicts: the GUI's changes and the repository agree."
    resources = {_resource_label(c) for c in conflicts}
    head = (
        f"{_count(len(conflicts), 'conflict')} in {_count(len(resources), 'resource')}. "
        "The GUI and Git changed the same fields; choose which side wins with the buttons "
        f"above, or comment {COMMANDS_HELP}.\n\n"
        "| Resource | Field | Type | Base | GUI | Git |\n|---|---|---|---|---|---|"
    )
    rows = [
        f"| {md_escape(_resource_label(c))} | {md_escape(_field_label(c))} | "
        f"{md_escape(c.type)} | {cell(c.base)} | {cell(c.gui)} | {cell(c.git)} |"
        for c in conflicts
    ]
    return _fit(head, rows, "", limit, "…and {n} more conflicts not shown.")


def conflict_check_output(
    conflicts: Sequence[FieldConflict],
    locations: Sequence[Location | None] | None = None,
    *,
    head_sha: str | None = None,
    external_id: str | None = None,
) -> dict[str, Any]:
    """The check run `hnp-gitops/conflicts` (a create-check-run payload without the repo).

    `locations[i]` is where conflict i stands in the pull request's files (None: nowhere to
    point at, e.g. a deleted resource). Annotations come all in `output.annotations`; send
    them with `check_run_requests` (50 per request). Actions are offered only when there
    are conflicts.
    """
    conflicts = list(conflicts)
    locations = list(locations or [])
    annotations = [
        conflict_annotation(c, loc)
        for c, loc in zip(conflicts, locations + [None] * (len(conflicts) - len(locations)))
        if loc is not None
    ]
    if conflicts:
        resources = {_resource_label(c) for c in conflicts}
        title = f"{_count(len(conflicts), 'conflict')} in {_count(len(resources), 'resource')}"
    else:
        title = "No conflicts"
    payload: dict[str, Any] = {
        "name": CONFLICTS_CHECK,
        "status": "completed",
        "conclusion": "action_required" if conflicts else "success",
        "output": {"title": title, "summary": conflict_summary(conflicts), "annotations": annotations},
    }
    if conflicts:
        payload["actions"] = [dict(a) for a in CONFLICT_ACTIONS]
    if head_sha:
        payload["head_sha"] = head_sha
    if external_id:
        payload["external_id"] = external_id
    return payload


# --------------------------------------------------------------------------------------------
# Validation check run


def _get(item: Any, key: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(key, default)
    return getattr(item, key, default)


def validate_check_output(
    errors_by_file: Mapping[str, Sequence[Any]],
    counts: Mapping[str, Mapping[str, int]] | None = None,
    *,
    head_sha: str | None = None,
) -> dict[str, Any]:
    """The check run `hnp-gitops/validate`.

    `errors_by_file` maps a file path to its errors; an error is a mapping or object with
    `message` and optionally `line`, `end_line`, `document` (index), `kind`, `name`, `path`
    (field path). Errors of one document (same file and `document`, or same line when no
    index is given) become one annotation at the document's first error line.
    `counts` maps a kind to {"created": n, "updated": n, "orphaned": n, ...}.
    """
    groups: dict[tuple[str, Any], list[Any]] = {}
    for path in sorted(errors_by_file):
        for error in errors_by_file[path] or []:
            document = _get(error, "document")
            key = (path, ("doc", document) if document is not None else ("line", _get(error, "line") or 1))
            groups.setdefault(key, []).append(error)

    payload: dict[str, Any] = {"name": VALIDATE_CHECK, "status": "completed"}
    if head_sha:
        payload["head_sha"] = head_sha
    if not groups:
        counts = counts or {}
        total = sum(sum(v.values()) for v in counts.values())
        head = f"All documents are valid ({_count(total, 'resource')})."
        columns = sorted(
            {c for v in counts.values() for c in v},
            key=lambda c: (["created", "updated", "deleted", "orphaned", "unchanged"] + [c]).index(c),
        )
        rows = []
        if columns:
            head += "\n\n| Kind | " + " | ".join(md_escape(c.capitalize()) for c in columns) + " |"
            head += "\n|---|" + "---|" * len(columns)
            for kind in sorted(counts):
                rows.append(
                    f"| {md_escape(kind)} | " + " | ".join(f"{counts[kind].get(c, 0):,}" for c in columns) + " |"
                )
        payload["conclusion"] = "success"
        payload["output"] = {"title": "Valid", "summary": _fit(head, rows, "", MAX_SUMMARY, "…and {n} more kinds.")}
        return payload

    annotations = []
    rows = []
    for (path, _), errors in groups.items():
        lines = [int(_get(e, "line") or 1) for e in errors]
        start = max(1, min(lines))
        end = max(start, max(int(_get(e, "end_line") or _get(e, "line") or 1) for e in errors))
        first = errors[0]
        kind, name = _get(first, "kind"), _get(first, "name")
        resource = f"{kind}/{name}" if kind and name else (kind or name or "")
        messages = []
        for e in errors:
            field_path = _get(e, "path") or _get(e, "field")
            text = str(_get(e, "message") or "invalid")
            messages.append(f"{field_path}: {text}" if field_path else text)
            rows.append(
                f"| {md_escape(path)} | {_get(e, 'line') or ''} | {md_escape(resource)} | "
                f"{md_escape(field_path or '')} | {md_escape(compact(text, 200))} |"
            )
        annotations.append(
            {
                "path": path,
                "start_line": start,
                "end_line": end,
                "annotation_level": "failure",
                "title": (f"Invalid {resource}" if resource else "Invalid document")[:MAX_ANNOTATION_TITLE],
                "message": "\n".join(messages)[:MAX_ANNOTATION_MESSAGE],
            }
        )
    files = {p for p, _ in groups}
    title = f"{_count(len(groups), 'invalid document')} in {_count(len(files), 'file')}"
    head = (
        f"{title}. Nothing from these documents was taken; fix them and push again.\n\n"
        "| File | Line | Resource | Field | Error |\n|---|---|---|---|---|"
    )
    payload["conclusion"] = "failure"
    payload["output"] = {
        "title": title,
        "summary": _fit(head, rows, "", MAX_SUMMARY, "…and {n} more errors."),
        "annotations": annotations,
    }
    return payload


def with_unread_entries(payload: Mapping[str, Any], unread: Sequence[UnreadEntry]) -> dict[str, Any]:
    """The validate check run, also listing the entries under the fabric's directory that were
    not read (symlinks, submodules, YAML files whose names are not plain paths): a warning
    annotation each, a table in the summary, and `neutral` where it would have said `success`,
    so that nothing is skipped in silence."""
    out = dict(payload)
    if not unread:
        return out
    output = dict(out.get("output") or {})
    annotations = list(output.get("annotations") or [])
    for entry in unread:
        # A name GitHub could not show (a newline, a tab) is annotated on its folder.
        plain = entry.shown_path == entry.path
        annotations.append(
            {
                "path": entry.path if plain else entry.path.rsplit("/", 1)[0],
                "start_line": 1,
                "end_line": 1,
                "annotation_level": "warning",
                "title": "Not read",
                "message": f"{entry.shown_path}: {entry.reason}"[:MAX_ANNOTATION_MESSAGE],
            }
        )
    output["annotations"] = annotations
    count = _count(len(unread), "entry", "entries")
    head = f"{output.get('summary', '')}\n\n{count} under the fabric's directory not read:\n\n| Path | Why |\n|---|---|"
    rows = [f"| {md_escape(e.shown_path)} | {md_escape(e.reason)} |" for e in unread]
    output["summary"] = _fit(head, rows, "", MAX_SUMMARY, "…and {n} more.")
    if out.get("conclusion") == "success":
        out["conclusion"] = "neutral"
        output["title"] = f"{output.get('title') or 'Valid'}; {count} not read"[:MAX_ANNOTATION_TITLE]
    out["output"] = output
    return out


# --------------------------------------------------------------------------------------------
# PR comment and body


def pr_comment(
    conflicts: Sequence[FieldConflict],
    *,
    fabric: str | None = None,
    check_url: str | None = None,
    max_rows: int = 200,
    limit: int = MAX_BODY,
) -> str:
    """The one bot comment of a pull request (found again by COMMENT_MARKER)."""
    where = f" for fabric `{md_escape(fabric)}`" if fabric else ""
    if not conflicts:
        return (
            f"{COMMENT_MARKER}\n### ✅ No conflicts{where}\n\n"
            "The GUI's changes and the repository agree; this pull request can be merged.\n"
        )
    resources = {_resource_label(c) for c in conflicts}
    check = f"[conflicts check]({check_url})" if check_url else "`hnp-gitops/conflicts` check"
    head = (
        f"{COMMENT_MARKER}\n"
        f"### ⚠️ {_count(len(conflicts), 'conflict')} in {_count(len(resources), 'resource')}{where}\n\n"
        "The GUI and the repository changed the same fields since this draft was made.\n\n"
        "| Resource | Field | Type | Base | GUI | Git |\n|---|---|---|---|---|---|"
    )
    tail = (
        "\n\n**How to resolve**\n\n"
        f"- Press **GUI wins**, **Git wins** or **Merge** on the {check}.\n"
        "- Or comment:\n"
        "  - `/hnp resolve gui [kind/name]`: keep the GUI's values (all resources, or one)\n"
        "  - `/hnp resolve git [kind/name]`: keep the repository's values\n"
        "  - `/hnp resolve merge [kind/name]`: merge lists; other conflicts stay\n"
        "  - `/hnp recheck`: check again\n"
        "  - `/hnp rebase`: rebuild this branch on the current base branch\n\n"
        "Only people with write access to the repository can run these commands.\n"
    )
    rows = [
        f"| {md_escape(_resource_label(c))} | {md_escape(_field_label(c))} | {md_escape(c.type)} | "
        f"{cell(c.base)} | {cell(c.gui)} | {cell(c.git)} |"
        for c in conflicts
    ]
    text = _fit(head, rows, tail, limit, "…and {n} more conflicts.", max_rows=max_rows)
    return text


@dataclass(frozen=True)
class Change:
    kind: str
    name: str
    change: str  # created | updated | deleted
    path: str | None = None


def _as_change(item: Any) -> Change:
    if isinstance(item, Change):
        return item
    if isinstance(item, (tuple, list)):
        return Change(*item)
    return Change(_get(item, "kind"), _get(item, "name"), _get(item, "change"), _get(item, "path"))


def pr_body(
    fabric: str,
    changes: Iterable[Any],
    *,
    operation_id: str | None = None,
    limit: int = MAX_BODY,
) -> str:
    """The body of a bot pull request: counts, then a table of every resource and its change
    (cut with "and N more" if it would not fit). Items are `Change`s or (kind, name, change
    [, path]) tuples."""
    items = sorted((_as_change(c) for c in changes), key=lambda c: (c.kind, c.name))
    by_change: dict[str, int] = {}
    for c in items:
        by_change[c.change] = by_change.get(c.change, 0) + 1
    order = ["created", "updated", "deleted"]
    counts = ", ".join(
        f"{by_change[k]:,} {k}"
        for k in sorted(by_change, key=lambda k: (order.index(k) if k in order else len(order), k))
    )
    marker = PR_BODY_MARKER
    head = (
        f"{marker}\n"
        f"Changes made in the GUI for fabric `{md_escape(fabric)}`"
        + (f" (sync operation `{md_escape(str(operation_id))}`)" if operation_id else "")
        + f": {_count(len(items), 'resource')}"
        + (f" ({counts})" if counts else "")
        + ".\n\n"
        "| Kind | Name | Change | File |\n|---|---|---|---|"
    )
    rows = [
        f"| {md_escape(c.kind)} | {md_escape(c.name)} | {md_escape(c.change)} | {md_escape(c.path) if c.path else ''} |"
        for c in items
    ]
    tail = "\n\nMerging this pull request makes these changes the fabric's desired state.\n"
    return _fit(head, rows, tail, limit, "…and {n} more resources.")


# --------------------------------------------------------------------------------------------
# Commands


@dataclass(frozen=True)
class Command:
    """A `/hnp ...` command from a PR comment. `error` is set when it cannot be run."""

    name: str  # resolve | recheck | rebase | the unknown word typed
    side: str | None = None  # gui | git | merge (resolve only)
    kind: str | None = None  # optional target of resolve
    resource_name: str | None = None
    error: str | None = None
    line: str = ""

    @property
    def resolution(self) -> str | None:
        """The conflict table's resolution for `side`: gui_wins | github_wins | merge."""
        return {"gui": "gui_wins", "git": "github_wins", "merge": "merge"}.get(self.side or "")

    @property
    def target(self) -> str | None:
        return f"{self.kind}/{self.resource_name}" if self.kind else None


_SIDES = {
    "gui": "gui",
    "gui_wins": "gui",
    "git": "git",
    "github": "git",
    "github_wins": "git",
    "git_wins": "git",
    "merge": "merge",
    "merge_strategy": "merge",
}
USAGE = "Usage: " + COMMANDS_HELP.replace("`", "")


def parse_command(comment_body: str | None) -> Command | None:
    """The first `/hnp` command in a comment (a line starting with /hnp, outside code blocks
    and quotes), or None when there is none. Case and extra whitespace do not matter."""
    if not comment_body:
        return None
    in_code = False
    for raw in comment_body.splitlines():
        line = raw.strip()
        if line.startswith("```") or line.startswith("~~~"):
            in_code = not in_code
            continue
        if in_code:
            continue
        words = line.split()
        if not words or words[0].lower() != "/hnp":
            continue
        if len(words) == 1:
            return Command("", error=f"A subcommand is missing. {USAGE}", line=line)
        sub = words[1].lower()
        args = words[2:]
        if sub == "resolve":
            if not args:
                return Command(sub, error=f"Say which side wins: gui, git or merge. {USAGE}", line=line)
            side = _SIDES.get(args[0].lower())
            if side is None:
                return Command(sub, error=f"Unknown side {args[0]!r}: use gui, git or merge. {USAGE}", line=line)
            if len(args) > 2:
                return Command(sub, side=side, error=f"Too many arguments. {USAGE}", line=line)
            if len(args) == 2:
                kind_text, _, name = args[1].partition("/")
                kind = lookup(kind_text)
                if not name or "/" in name or kind is None:
                    return Command(
                        sub, side=side, error=(f"{args[1]!r} is not kind/name (e.g. vpc/vpc-1). {USAGE}"), line=line
                    )
                return Command(sub, side=side, kind=kind.kind, resource_name=name, line=line)
            return Command(sub, side=side, line=line)
        if sub in ("recheck", "rebase"):
            if args:
                return Command(sub, error=f"/hnp {sub} takes no arguments. {USAGE}", line=line)
            return Command(sub, line=line)
        return Command(sub, error=f"Unknown command {words[1]!r}. {USAGE}", line=line)
    return None
