"""Git smart HTTP at /{owner}/{repo}.git, served by `git http-backend` (CGI).

Authentication is GitHub's: HTTP Basic with the token as password (x-access-token:<token>).
A push (receive-pack) runs under the repository's ref lock; the refs before and after are
compared and the resulting ref changes produce the same webhooks as API changes do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from . import ops
from .auth import identify, repo_level
from .errors import GhError
from .gitobj import ZERO_SHA
from .gitrepo import GIT_ENV
from .model import Repo
from .rest_common import IDENT_KEY, sim_of

SERVICES = ("git-upload-pack", "git-receive-pack")


def _challenge(
    text: str = "Invalid username or token. Password authentication is not supported for Git operations.\n",
) -> web.Response:
    return web.Response(status=401, text=text, headers={"WWW-Authenticate": 'Basic realm="GitHub"'})


async def git_http(request: web.Request) -> web.StreamResponse:
    sim = sim_of(request)
    owner, name, tail = request.match_info["owner"], request.match_info["repo"], request.match_info["tail"]
    if name.endswith(".git"):
        name = name[:-4]
    repo = sim.state.repo(owner, name)
    service = request.query.get("service") if tail == "info/refs" else tail
    if service not in SERVICES or tail not in ("info/refs", *SERVICES):
        return web.Response(status=404, text="Not Found\n")
    try:
        ident = identify(sim.state, request.headers.get("Authorization"), request.remote or "")
    except GhError:
        return _challenge()
    if repo is None:
        return _challenge() if ident.kind == "anonymous" else web.Response(status=404, text="Repository not found.\n")
    level = repo_level(ident, repo, "contents")
    if level < 1:
        if ident.kind == "anonymous":
            return _challenge()
        return web.Response(status=404, text="Repository not found.\n")
    writing = service == "git-receive-pack"
    if writing and level < 2:
        if ident.kind == "anonymous":
            return _challenge()
        who = ident.actor.login if ident.actor else "anonymous"
        return web.Response(status=403, text=f"Permission to {repo.full_name}.git denied to {who}.\n")
    request[IDENT_KEY] = ident
    if writing and tail == "git-receive-pack":
        pusher = ident.actor
        if pusher is None:  # anonymous callers never get write access (refused above)
            return _challenge()
        async with repo.git.ref_lock:
            before = await repo.git.refs()

            async def announce() -> None:
                # Before the client sees the end of the answer, so that once `git push`
                # returns, its webhooks are queued.
                after = await repo.git.refs()
                changes = [
                    (ref, before.get(ref, ZERO_SHA), after.get(ref, ZERO_SHA))
                    for ref in sorted(set(before) | set(after))
                    if before.get(ref) != after.get(ref)
                ]
                if changes:
                    await ops.ref_changed(sim, repo, changes, pusher, before, pusher=pusher)

            return await _run_backend(request, repo, tail, announce)
    return await _run_backend(request, repo, tail)


async def _run_backend(
    request: web.Request, repo: Repo, tail: str, before_eof: Callable[[], Awaitable[None]] | None = None
) -> web.StreamResponse:
    sim = sim_of(request)
    ident = request[IDENT_KEY]
    env = {
        **GIT_ENV,
        "GIT_PROJECT_ROOT": sim.repos_dir,
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": f"/{repo.owner.login}/{repo.name}.git/{tail}",
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.query_string,
        "CONTENT_TYPE": request.headers.get("Content-Type", ""),
        "REMOTE_USER": ident.actor.login if ident.actor else "anonymous",
        "REMOTE_ADDR": request.remote or "127.0.0.1",
        "GIT_PROTOCOL": request.headers.get("Git-Protocol", ""),
        "HTTP_CONTENT_ENCODING": request.headers.get("Content-Encoding", ""),
    }
    if request.content_length is not None:
        env["CONTENT_LENGTH"] = str(request.content_length)
    proc = await asyncio.create_subprocess_exec(
        "git",
        "http-backend",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdin and proc.stdout and proc.stderr
    stdin = proc.stdin

    async def feed() -> None:
        try:
            async for chunk in request.content.iter_chunked(1 << 16):
                stdin.write(chunk)
                await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            stdin.close()

    feeder = asyncio.create_task(feed())
    stderr_task = asyncio.create_task(proc.stderr.read())
    status, headers = 200, {}
    while True:  # CGI headers
        line = (await proc.stdout.readline()).decode("latin-1").rstrip("\r\n")
        if not line:
            break
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.strip().split()[0])
        else:
            headers[key.strip()] = value.strip()
    response = web.StreamResponse(status=status, headers=headers)
    await response.prepare(request)
    while chunk := await proc.stdout.read(1 << 16):
        await response.write(chunk)
    await feeder
    await proc.wait()
    await stderr_task
    if before_eof is not None:
        await before_eof()
    await response.write_eof()
    return response
