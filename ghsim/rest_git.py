"""The git data API: refs, commits, trees and blobs."""

from __future__ import annotations

import base64
import binascii
import zlib

from aiohttp import web

from . import gitobj, ops, shapes
from .errors import GhError, invalid_request, missing_field, not_found
from .gitobj import VALID_MODES, Person, parse_git_date
from .gitrepo import run_git
from .model import Repo, node_id
from .rest_common import actor_of, body_json, json_response, repo_from, sim_of

routes = web.RouteTableDef()
DOC = "https://docs.github.com/rest/git"


def ref_json(base: str, repo: Repo, ref: str, sha: str, kind: str = "commit") -> dict:
    api = f"{base}/repos/{repo.full_name}"
    return {
        "ref": ref,
        "node_id": node_id("REF", zlib.crc32(f"{repo.id}:{ref}".encode())),
        "url": f"{api}/git/{ref}",
        "object": {"sha": sha, "type": kind, "url": f"{api}/git/{kind}s/{sha}"},
    }


async def _refs_json(request: web.Request, repo: Repo, refs: dict[str, str]) -> list[dict]:
    kinds = await repo.git.cat.get_many(list(refs.values()), contents=False)
    base = sim_of(request).base_url
    return [ref_json(base, repo, name, sha, k[1] if k else "commit") for (name, sha), k in zip(refs.items(), kinds)]


# -- refs -------------------------------------------------------------------------------
@routes.get("/repos/{owner}/{repo}/git/ref/{ref:.+}")
async def get_ref(request: web.Request) -> web.Response:
    doc = f"{DOC}/refs#get-a-reference"
    repo = repo_from(request, "contents", 1, doc)
    name = "refs/" + request.match_info["ref"]
    sha = await repo.git.ref(name)
    if sha is None:
        raise not_found(doc)
    return json_response((await _refs_json(request, repo, {name: sha}))[0])


@routes.get("/repos/{owner}/{repo}/git/matching-refs/{ref:.*}")
async def matching_refs(request: web.Request) -> web.Response:
    repo = repo_from(request, "contents", 1, f"{DOC}/refs#list-matching-references")
    prefix = "refs/" + request.match_info["ref"]
    refs = {n: s for n, s in (await repo.git.refs()).items() if n.startswith(prefix)}
    return json_response(await _refs_json(request, repo, refs))


@routes.get("/repos/{owner}/{repo}/git/refs")
@routes.get("/repos/{owner}/{repo}/git/refs/{ref:.+}")
async def get_refs(request: web.Request) -> web.Response:
    """The path each ref's own `url` names: one ref when it matches exactly, else the refs under
    it as a list (GitHub's older form of matching-refs), else 404."""
    doc = f"{DOC}/refs#get-a-reference"
    repo = repo_from(request, "contents", 1, doc)
    name = "refs/" + request.match_info.get("ref", "").strip("/")
    refs = await repo.git.refs()
    if name in refs:
        return json_response((await _refs_json(request, repo, {name: refs[name]}))[0])
    prefix = name.rstrip("/") + "/"
    under = {n: s for n, s in refs.items() if n.startswith(prefix)}
    if not under:
        raise not_found(doc)
    return json_response(await _refs_json(request, repo, under))


@routes.post("/repos/{owner}/{repo}/git/refs")
async def create_ref(request: web.Request) -> web.Response:
    doc = f"{DOC}/refs#create-a-reference"
    repo = repo_from(request, "contents", 2, doc)
    data = await body_json(request)
    for key in ("ref", "sha"):
        if key not in data:
            raise missing_field(key, doc)
    ref = data["ref"]
    if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
        raise GhError(422, "Reference name must start with 'refs/' and have at least two slashes.", doc)
    if not await _valid_ref_name(repo, ref):
        raise GhError(422, f"{ref} is not a valid ref name.", doc)
    await ops.set_ref(sim_of(request), repo, ref, data["sha"], sender=actor_of(request), must_exist=False, doc=doc)
    sha = await repo.git.ref(ref)
    if sha is None:  # deleted again meanwhile
        raise not_found(doc)
    out = (await _refs_json(request, repo, {ref: sha}))[0]
    return json_response(out, status=201, headers={"Location": out["url"]})


async def _valid_ref_name(repo: Repo, ref: str) -> bool:
    code, _ = await run_git(repo.git.git_dir, "check-ref-format", ref, ok_codes=(0, 1))
    return code == 0


@routes.patch("/repos/{owner}/{repo}/git/refs/{ref:.+}")
async def update_ref(request: web.Request) -> web.Response:
    doc = f"{DOC}/refs#update-a-reference"
    repo = repo_from(request, "contents", 2, doc)
    data = await body_json(request)
    if "sha" not in data:
        raise missing_field("sha", doc)
    ref = "refs/" + request.match_info["ref"]
    await ops.set_ref(
        sim_of(request),
        repo,
        ref,
        data["sha"],
        sender=actor_of(request),
        force=bool(data.get("force", False)),
        must_exist=True,
        doc=doc,
    )
    sha = await repo.git.ref(ref)
    if sha is None:  # deleted again meanwhile
        raise not_found(doc)
    return json_response((await _refs_json(request, repo, {ref: sha}))[0])


@routes.delete("/repos/{owner}/{repo}/git/refs/{ref:.+}")
async def delete_ref(request: web.Request) -> web.Response:
    doc = f"{DOC}/refs#delete-a-reference"
    repo = repo_from(request, "contents", 2, doc)
    ref = "refs/" + request.match_info["ref"]
    await ops.set_ref(sim_of(request), repo, ref, None, sender=actor_of(request), must_exist=True, doc=doc)
    return web.Response(status=204)


# -- commits ------------------------------------------------------------------------------
@routes.get("/repos/{owner}/{repo}/git/commits/{sha}")
async def get_commit(request: web.Request) -> web.Response:
    doc = f"{DOC}/commits#get-a-commit-object"
    repo = repo_from(request, "contents", 1, doc)
    sha = request.match_info["sha"]
    c = await repo.git.read_commit(sha)
    if c is None:
        raise not_found(doc)
    return json_response(shapes.git_commit(sim_of(request).base_url, repo, sha, c))


def _person(spec: object, fallback: Person, doc: str, field: str) -> Person:
    if spec is None:
        return fallback
    if not isinstance(spec, dict) or "name" not in spec or "email" not in spec:
        raise invalid_request(f'"name" and "email" are required in "{field}".', doc)
    try:
        when = parse_git_date(spec.get("date"))
    except ValueError:
        raise invalid_request(f'"{spec.get("date")}" is not a valid date-time for "{field}.date".', doc) from None
    return Person(spec["name"], spec["email"], when)


@routes.post("/repos/{owner}/{repo}/git/commits")
async def create_commit(request: web.Request) -> web.Response:
    doc = f"{DOC}/commits#create-a-commit"
    repo = repo_from(request, "contents", 2, doc)
    data = await body_json(request)
    for key in ("message", "tree"):
        if key not in data:
            raise missing_field(key, doc)
    parents = data.get("parents", [])
    if not isinstance(parents, list):
        raise invalid_request('"parents" must be an array.', doc)
    if await repo.git.object_type(data["tree"]) != "tree":
        raise GhError(422, "Tree SHA does not exist", doc)
    for p in parents:
        if await repo.git.object_type(p) != "commit":
            raise GhError(422, "Parent SHA does not exist or is not a commit object", doc)
    default = ops.person_for(actor_of(request))
    author = _person(data.get("author"), default, doc, "author")
    committer = _person(data.get("committer"), author, doc, "committer")
    sha = await ops.write_commit(repo, data["tree"], parents, data["message"], author, committer)
    c = await repo.git.existing_commit(sha)
    out = shapes.git_commit(sim_of(request).base_url, repo, sha, c)
    return json_response(out, status=201, headers={"Location": out["url"]})


# -- trees --------------------------------------------------------------------------------
def tree_entry_json(base: str, repo: Repo, e: dict) -> dict:
    api = f"{base}/repos/{repo.full_name}"
    out = {"path": e["path"], "mode": e["mode"], "type": e["type"], "sha": e["sha"]}
    if e["type"] == "blob":
        out["size"] = e.get("size", 0)
    if e["type"] != "commit":
        out["url"] = f"{api}/git/{e['type']}s/{e['sha']}"
    return out


async def tree_json(request: web.Request, repo: Repo, sha: str, recursive: bool) -> dict:
    base = sim_of(request).base_url
    entries = await repo.git.ls_tree(sha, recursive)
    return {
        "sha": sha,
        "url": f"{base}/repos/{repo.full_name}/git/trees/{sha}",
        "tree": [tree_entry_json(base, repo, e) for e in entries],
        "truncated": False,
    }


@routes.get("/repos/{owner}/{repo}/git/trees/{sha:.+}")
async def get_tree(request: web.Request) -> web.Response:
    doc = f"{DOC}/trees#get-a-tree"
    repo = repo_from(request, "contents", 1, doc)
    name = request.match_info["sha"]
    got = await repo.git.cat.get_many([name], contents=False) if gitobj.is_sha(name) else [None]
    sha = None
    if got[0] and got[0][1] == "tree":
        sha = name
    else:
        commit = await repo.git.resolve_commit(name)
        if commit:
            sha = (await repo.git.existing_commit(commit)).tree
    if sha is None:
        raise not_found(doc)
    recursive = "recursive" in request.query  # GitHub recurses for any value, even 0 or false
    return json_response(await tree_json(request, repo, sha, recursive))


@routes.post("/repos/{owner}/{repo}/git/trees")
async def create_tree(request: web.Request) -> web.Response:
    doc = f"{DOC}/trees#create-a-tree"
    repo = repo_from(request, "contents", 2, doc)
    data = await body_json(request)
    if "tree" not in data:
        raise missing_field("tree", doc)
    if not isinstance(data["tree"], list):
        raise invalid_request('"tree" must be an array.', doc)
    base_tree = data.get("base_tree")
    if base_tree is not None and await repo.git.object_type(base_tree) != "tree":
        raise GhError(422, "base_tree is not a valid tree oid", doc)
    entries, refs = [], []
    for i, e in enumerate(data["tree"]):
        if not isinstance(e, dict) or not isinstance(path := e.get("path"), str) or not path.strip("/"):
            raise invalid_request(f'"tree[{i}].path" wasn\'t supplied.', doc)
        mode = str(e.get("mode", ""))
        if mode not in VALID_MODES:
            raise invalid_request(f'"tree[{i}].mode" must be one of: 100644, 100755, 040000, 160000, 120000.', doc)
        kind = {"040000": "tree", "160000": "commit"}.get(mode, "blob")
        if e.get("type", kind) != kind:
            raise GhError(422, f"tree.{i}.type does not match mode {mode}", doc)
        if "content" in e and "sha" in e and e["sha"] is not None:
            raise GhError(
                422, "Must supply either tree.sha or tree.content. Request will be rejected if both are present.", doc
            )
        if "content" in e:
            if kind != "blob" or not isinstance(e["content"], str):
                raise GhError(422, f"tree.{i}.content must be a string for blobs", doc)
            entries.append({"path": e["path"], "mode": mode, "content": e["content"]})
        elif "sha" in e:
            if e["sha"] is not None:
                if not gitobj.is_sha(e["sha"]):
                    raise GhError(422, f"tree.sha {e['sha']} is not a valid {kind}", doc)
                if kind != "commit":
                    refs.append((e["sha"], kind))
            entries.append({"path": e["path"], "mode": mode, "sha": e["sha"]})
        else:
            raise GhError(422, "Must supply either tree.sha or tree.content.", doc)
    if refs:
        found = await repo.git.cat.get_many([s for s, _ in refs], contents=False)
        for (sha, kind), info in zip(refs, found):
            if info is None or info[1] != kind:
                raise GhError(422, f"tree.sha {sha} is not a valid {kind}", doc)
    try:
        sha = await sim_of(request).build_tree(repo, base_tree, entries)
    except ValueError as exc:
        raise GhError(422, f"GitRPC::BadObjectState: {exc}", doc) from None
    out = await tree_json(request, repo, sha, False)
    return json_response(out, status=201, headers={"Location": out["url"]})


# -- blobs --------------------------------------------------------------------------------
@routes.post("/repos/{owner}/{repo}/git/blobs")
async def create_blob(request: web.Request) -> web.Response:
    doc = f"{DOC}/blobs#create-a-blob"
    repo = repo_from(request, "contents", 2, doc)
    data = await body_json(request)
    if "content" not in data:
        raise missing_field("content", doc)
    encoding = data.get("encoding", "utf-8")
    if encoding in ("utf-8", "utf8"):
        raw = str(data["content"]).encode()
    elif encoding == "base64":
        try:
            raw = base64.b64decode(data["content"])
        except (binascii.Error, ValueError, TypeError):
            raise GhError(422, "content is not valid Base64", doc) from None
    else:
        raise GhError(422, f"encoding must be utf-8 or base64, not {encoding}", doc)
    sha = await repo.git.write_object("blob", raw)
    url = f"{sim_of(request).base_url}/repos/{repo.full_name}/git/blobs/{sha}"
    return json_response({"url": url, "sha": sha}, status=201, headers={"Location": url})


@routes.get("/repos/{owner}/{repo}/git/blobs/{sha}")
async def get_blob(request: web.Request) -> web.Response:
    doc = f"{DOC}/blobs#get-a-blob"
    repo = repo_from(request, "contents", 1, doc)
    sha = request.match_info["sha"]
    got = await repo.git.read(sha) if gitobj.is_sha(sha) else None
    if got is None or got[0] != "blob":
        raise not_found(doc)
    if "application/vnd.github.raw" in request.headers.get("Accept", ""):
        return web.Response(body=got[1], content_type="application/vnd.github.raw")
    enc = base64.b64encode(got[1]).decode()
    content = "".join(enc[i : i + 60] + "\n" for i in range(0, len(enc), 60))
    return json_response(
        {
            "sha": sha,
            "node_id": node_id("B", int(sha[:12], 16)),
            "size": len(got[1]),
            "url": f"{sim_of(request).base_url}/repos/{repo.full_name}/git/blobs/{sha}",
            "content": content,
            "encoding": "base64",
        }
    )
