"""Planning a publish, pure: the selected drafts and the base commit's files in, the files of
one commit out (plus what changed, for statistics, the commit message and the PR body).

A resource is found in the base commit by identity (kind, namespace, name): in the file the
database says, else at its managed path, else anywhere in the fabric's directory (the base may
be a pull request branch, or a file moved). Its document alone is rewritten or removed
(`render.apply_edits`); a resource with no document is appended to
`filemap.new_resource_path`. Files are read with the ingest's safe reader first: a file with a
document that does not parse, or that is not UTF-8, is never edited, and its resources are
reported instead of being written a second time elsewhere.
"""

from __future__ import annotations

import io
import tarfile
import uuid
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot.core import checks, documents, filemap, render
from bot.core import filters as resource_filters
from bot.core.resource import Resource

MAX_FILE_BYTES = 5 * 1024 * 1024  # as ingest: bigger files are never parsed, so never edited


# --------------------------------------------------------------------------------------------
# Planning (pure): drafts + the base commit's files -> the new file contents


@dataclass(frozen=True)
class FileState:
    text: str | None  # None: not UTF-8 (never edited)
    mode: str = "100644"


@dataclass
class Plan:
    files: dict[str, str | None] = field(default_factory=dict)  # path -> new text; None deletes
    modes: dict[str, str] = field(default_factory=dict)
    changes: list[checks.Change] = field(default_factory=list)  # what this commit changes
    unchanged: list[Resource] = field(default_factory=list)  # already as drafted on the base
    published: list[Resource] = field(default_factory=list)  # drafts the result carries (not failed)
    errors: list[str] = field(default_factory=list)
    created_files: int = 0
    updated_files: int = 0
    deleted_files: int = 0


def _identity(body: Any) -> tuple[str, str, str] | None:
    if not isinstance(body, dict) or not isinstance(body.get("kind"), str):
        return None
    meta = body.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        return None
    return body["kind"], meta.get("namespace") or "default", meta["name"]


class Unreadable(Exception):
    """A file the bot will not edit: it has a document that does not parse (or hostile YAML)."""


def document_index(text: str) -> dict[tuple[str, str, str], int]:
    """identity -> the document's index as render.apply_edits counts them (the YAML stream,
    empty documents included). The file is read with documents.parse_text first, which
    enforces the limits on hostile YAML; a file with a broken document is not edited at all
    (Unreadable), so render never loads it and no resource of it is duplicated elsewhere."""
    docs = documents.parse_text(text)
    broken = next((d for d in docs if d.error is not None), None)
    if broken is not None:
        raise Unreadable(f"line {broken.error_line}: {broken.error}")
    indices = [s.index for s in render.document_spans(text) if s.index is not None]  # non-empty ones
    if len(indices) != len(docs):  # the two readers disagree on what a document is: do not guess
        raise Unreadable("its documents cannot be told apart reliably")
    found: dict[tuple[str, str, str], int] = {}
    for doc, index in zip(docs, indices):
        ident = documents.identity(doc)
        if ident is not None:
            found.setdefault(ident, index)
    return found


_BROKEN = ("", -1)


def plan_commit(directory: str, selected: list[Resource], files: dict[str, FileState]) -> Plan:
    """The files to write so that the base commit (`files`: every YAML file of the fabric's
    directory in it) says what the drafts say."""
    plan = Plan()
    indexes: dict[str, dict[tuple[str, str, str], int] | str] = {}

    def index_of(path: str) -> dict[tuple[str, str, str], int] | str:
        """The file's identities, or why it cannot be edited."""
        if path not in indexes:
            state = files[path]
            if state.text is None:
                indexes[path] = "is not UTF-8 text (or is over 5 MiB)"
            else:
                try:
                    indexes[path] = document_index(state.text)
                except (Unreadable, yaml.YAMLError) as error:
                    indexes[path] = f"has a document that does not parse ({error})"
        return indexes[path]

    everywhere: dict[tuple[str, str, str], str] | None = None

    def locate(r: Resource) -> tuple[str, int] | None:
        """(path, index) of the resource's document in the base commit; None when it has none;
        _BROKEN when its file cannot be edited (then plan.errors says why)."""
        nonlocal everywhere
        ident = (r.kind, r.namespace, r.name)
        managed = filemap.new_resource_path(directory, r.kind, r.name)
        for path in (r.file_path, managed):
            if not path or path not in files:
                continue
            index = index_of(path)
            if isinstance(index, str):
                if path == r.file_path:
                    plan.errors.append(f"{path} {index}; {r.kind} {r.name} was not published")
                    return _BROKEN
                continue
            if ident in index:
                return path, index[ident]
        if everywhere is None:  # the database's path is stale (a PR branch, a moved file)
            everywhere = {}
            for path in sorted(files):
                index = index_of(path)
                for found in index if isinstance(index, dict) else {}:
                    everywhere.setdefault(found, path)
        path = everywhere.get(ident)
        if not path:
            return None
        index = index_of(path)  # a readable one: `everywhere` holds no other
        return (path, index[ident]) if isinstance(index, dict) else None

    failed: set[int] = set()
    edits: dict[str, list[render.Edit]] = {}
    owners: dict[str, list[tuple[Resource, str]]] = {}
    for r in selected:
        where = locate(r)
        if where == _BROKEN:
            failed.add(r.id)
            continue
        labels = (r.draft_metadata or {}).get("labels")
        annotations = (r.draft_metadata or {}).get("annotations")
        if r.draft_delete:
            if where is None:
                plan.unchanged.append(r)  # already gone from the base
                continue
            path, index = where
            edits.setdefault(path, []).append(render.Edit.delete(index))
            owners.setdefault(path, []).append((r, "deleted"))
        elif where is not None:
            path, index = where
            edits.setdefault(path, []).append(render.Edit.replace(index, r.draft_spec, labels, annotations))
            owners.setdefault(path, []).append((r, "updated"))
        else:
            path = filemap.new_resource_path(directory, r.kind, r.name)
            edits.setdefault(path, []).append(
                render.Edit.append(r.kind, r.name, r.draft_spec, r.namespace, labels or None, annotations or None)
            )
            owners.setdefault(path, []).append((r, "created"))

    for path in sorted(edits):
        state = files.get(path)
        if state is not None and isinstance(index_of(path), str):
            plan.errors.append(f"{path} {index_of(path)}; {len(owners[path])} resource(s) not published")
            failed.update(r.id for r, _ in owners[path])
            continue
        old = state.text if state is not None else None
        try:
            new = render.apply_edits(old, edits[path])
        except (ValueError, yaml.YAMLError) as error:
            plan.errors.append(f"{path} could not be edited: {error}")
            failed.update(r.id for r, _ in owners[path])
            continue
        if new == old:
            plan.unchanged.extend(r for r, _ in owners[path])
            continue
        plan.files[path] = new
        plan.modes[path] = state.mode if state is not None else "100644"
        if old is None:
            plan.created_files += 1
        elif new is None:
            plan.deleted_files += 1
        else:
            plan.updated_files += 1
        for r, change in owners[path]:
            if change == "updated" and old is not None and new is not None and _same_document(old, new, r):
                plan.unchanged.append(r)
            else:
                plan.changes.append(checks.Change(r.kind, r.name, change, path))
    plan.published = [r for r in selected if r.id not in failed]
    return plan


def _same_document(old: str, new: str, r: Resource) -> bool:
    """Is this resource's document the same in both texts (another one of the file changed)?"""
    ident = (r.kind, r.namespace, r.name)
    before = {documents.identity(d): d.body for d in documents.parse_text(old) if d.body is not None}
    after = {documents.identity(d): d.body for d in documents.parse_text(new) if d.body is not None}
    return ident in before and ident in after and render.strict_equal(before[ident], after[ident])


def tree_entries(plan: Plan) -> list[dict[str, Any]]:
    """The POST /git/trees entries: inline contents, `sha: null` for deletions."""
    entries = []
    for path in sorted(plan.files):
        text = plan.files[path]
        entry: dict[str, Any] = {"path": path, "mode": plan.modes.get(path, "100644"), "type": "blob"}
        if text is None:
            entry["sha"] = None
        else:
            entry["content"] = text
        entries.append(entry)
    return entries


def read_tarball(data: bytes, directory: str) -> dict[str, FileState]:
    """Every YAML file under `directory` in a GitHub tarball (whose paths start with one
    top-level folder, `owner-repo-sha/`)."""
    found: dict[str, FileState] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        for member in archive:
            if not member.isfile():
                continue
            parts = member.name.split("/", 1)
            if len(parts) != 2 or not filemap.is_fabric_yaml(directory, parts[1]):
                continue
            if member.size > MAX_FILE_BYTES:
                found[parts[1]] = FileState(None)
                continue
            extracted = archive.extractfile(member)
            if extracted is None:  # only for members that are not regular files
                continue
            raw = extracted.read()
            mode = "100755" if member.mode & 0o111 else "100644"
            try:
                found[parts[1]] = FileState(raw.decode("utf-8"), mode)
            except UnicodeDecodeError:
                found[parts[1]] = FileState(None, mode)
    return found


# --------------------------------------------------------------------------------------------
# Selection


def select(
    resources: list[Resource], filters: list[str] | dict[str, list[str]] | None, *, force: bool
) -> tuple[list[Resource], list[Resource]]:
    """(to publish, held back): drafts matching the filters (bot.core.filters, stored form);
    drafts in conflict are held back unless force_sync."""
    chosen: list[Resource] = []
    held: list[Resource] = []
    for r in resources:
        if not r.has_draft or not resource_filters.matches(filters, r.kind, r.name):
            continue
        (held if r.state == "conflict" and not force else chosen).append(r)
    return chosen, held


def body_changes(directory: str, resources: list[Resource]) -> list[checks.Change]:
    """Every resource a pull request carries and its change, as the fabric's branch sees it
    (for the PR body and title: created, updated or deleted relative to desired)."""
    out = []
    for r in resources:
        change = "deleted" if r.draft_delete else ("created" if r.desired_spec is None else "updated")
        out.append(
            checks.Change(r.kind, r.name, change, r.file_path or filemap.new_resource_path(directory, r.kind, r.name))
        )
    return out


def summary(changes: list[checks.Change]) -> str:
    """'3 resources (1 created, 1 updated, 1 deleted)'."""
    counts = {c: sum(1 for x in changes if x.change == c) for c in ("created", "updated", "deleted")}
    parts = ", ".join(f"{n} {c}" for c, n in counts.items() if n)
    noun = "resource" if len(changes) == 1 else "resources"
    return f"{len(changes)} {noun}" + (f" ({parts})" if parts else "")


def commit_message(fabric: str, operation_id: uuid.UUID | str, changes: list[checks.Change]) -> str:
    lines = [
        f"hnp-gitops: {summary(changes)} in fabric {fabric}",
        "",
        f"Published from the HNP GUI by sync operation {operation_id}.",
        "",
    ]
    shown = sorted(changes, key=lambda c: (c.kind, c.name))
    lines += [f"- {c.change} {c.kind} {c.name} ({c.path})" for c in shown[:100]]
    if len(shown) > 100:
        lines.append(f"- ...and {len(shown) - 100} more")
    return "\n".join(lines) + "\n"
