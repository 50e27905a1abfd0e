"""One bare git repository on disk and the git operations the emulator needs.

Reads go through a long-lived `git cat-file --batch-command` process (one per repository)
so that walking trees costs no process start per object; writes of new objects are done
by `gitobj.write_loose` in a worker thread; everything else is an asyncio subprocess, so
the event loop never blocks on git.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field

from . import gitobj
from .gitobj import Commit, TreeEntry

GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
}


PACK_THRESHOLD = 16  # more new objects than this are written as a pack


class GitError(Exception):
    def __init__(self, args: tuple, code: int, stderr: bytes):
        super().__init__(f"git {' '.join(map(str, args))} exited {code}: {stderr.decode(errors='replace').strip()}")
        self.code = code
        self.stderr = stderr


async def run_git(
    git_dir: str, *args: str, input: bytes | None = None, ok_codes: tuple[int, ...] = (0,)
) -> tuple[int, bytes]:
    proc = await asyncio.create_subprocess_exec(
        "git",
        "--git-dir",
        git_dir,
        *args,
        stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=GIT_ENV,
    )
    out, err = await proc.communicate(input)
    code = await proc.wait()  # already exited: this only reads the code
    if code not in ok_codes:
        raise GitError(args, code, err)
    return code, out


class CatFile:
    """A persistent `git cat-file --batch-command`; requests are serialised by a lock."""

    def __init__(self, git_dir: str):
        self.git_dir = git_dir
        self.proc: asyncio.subprocess.Process | None = None
        self.lock = asyncio.Lock()

    async def _ensure(self) -> asyncio.subprocess.Process:
        if self.proc is None or self.proc.returncode is not None:
            self.proc = await asyncio.create_subprocess_exec(
                "git",
                "--git-dir",
                self.git_dir,
                "cat-file",
                "--batch-command",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                env=GIT_ENV,
                limit=1 << 20,
            )
        return self.proc

    async def get_many(self, names: list[str], contents: bool = True) -> list[tuple[str, str, bytes] | None]:
        """[(sha, type, body)] for each name (None where missing); body is b"" for info."""
        if not names:
            return []
        cmd = "contents" if contents else "info"
        payload = "".join(f"{cmd} {n}\n" for n in names).encode()
        async with self.lock:
            proc = await self._ensure()
            assert proc.stdin and proc.stdout
            stdin = proc.stdin

            async def feed() -> None:
                stdin.write(payload)
                await stdin.drain()

            writer = asyncio.create_task(feed())
            results: list[tuple[str, str, bytes] | None] = []
            try:
                for _ in names:
                    header = (await proc.stdout.readline()).decode().rstrip("\n")
                    parts = header.split(" ")
                    if len(parts) != 3:  # "<name> missing" / "ambiguous"
                        results.append(None)
                        continue
                    sha, kind, size = parts
                    body = b""
                    if contents:
                        body = (await proc.stdout.readexactly(int(size) + 1))[:-1]
                    results.append((sha, kind, body))
            except BaseException:
                proc.kill()
                self.proc = None
                raise
            finally:
                await writer
            return results

    async def get(self, name: str) -> tuple[str, str, bytes] | None:
        return (await self.get_many([name]))[0]

    async def close(self) -> None:
        if self.proc and self.proc.returncode is None:
            assert self.proc.stdin
            self.proc.stdin.close()
            try:
                async with asyncio.timeout(2):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.proc = None


@dataclass
class LogCommit:
    sha: str
    tree: str
    parents: list[str]
    author: tuple[str, str, str]  # name, email, ISO date with offset
    committer: tuple[str, str, str]
    message: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)


@dataclass
class FileChange:
    filename: str
    status: str  # added / removed / modified / renamed
    sha: str  # blob sha on the head side (base side for removals)
    additions: int = 0
    deletions: int = 0
    previous_filename: str | None = None
    patch: str | None = None


_LOG_FORMAT = "%x01%H%x02%T%x02%P%x02%an%x02%ae%x02%aI%x02%cn%x02%ce%x02%cI%x02%B%x03"
_RAW_STATUS = {"A": "added", "D": "removed", "M": "modified", "T": "modified", "R": "renamed", "C": "added"}


class GitRepo:
    def __init__(self, git_dir: str):
        self.git_dir = git_dir
        self.cat = CatFile(git_dir)
        # Serialises ref changes so that before/after snapshots of a push are exact.
        self.ref_lock = asyncio.Lock()

    # -- creation -----------------------------------------------------------------------
    @classmethod
    async def init(cls, git_dir: str, default_branch: str) -> GitRepo:
        os.makedirs(os.path.dirname(git_dir), exist_ok=True)
        proc = await asyncio.create_subprocess_exec(
            "git",
            "init",
            "--bare",
            "-q",
            "-b",
            default_branch,
            git_dir,
            env=GIT_ENV,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        if proc.returncode:
            raise GitError(("init",), proc.returncode, err)
        repo = cls(git_dir)
        await repo.git("config", "http.receivepack", "true")
        await repo.git("config", "receive.denyDeleteCurrent", "false")
        return repo

    async def git(self, *args: str, input: bytes | None = None, ok_codes: tuple[int, ...] = (0,)) -> bytes:
        return (await run_git(self.git_dir, *args, input=input, ok_codes=ok_codes))[1]

    async def close(self) -> None:
        await self.cat.close()

    # -- objects --------------------------------------------------------------------------
    async def write_objects(self, objs: list[tuple[str, bytes]]) -> list[str]:
        """Write (type, body) objects; returns their shas. A few become loose objects; many
        go into one pack through `git index-pack`, since creating hundreds of small files
        costs far more than one subprocess."""
        shas = [gitobj.hash_object(kind, body) for kind, body in objs]
        if len(objs) <= PACK_THRESHOLD:
            for kind, body in objs:
                gitobj.write_loose(self.git_dir, kind, body)
            return shas
        unique = list({sha: obj for sha, obj in zip(shas, objs)}.values())
        pack = await asyncio.to_thread(gitobj.encode_pack, unique)
        await self.git("index-pack", "--stdin", input=pack)
        return shas

    async def write_object(self, kind: str, body: bytes) -> str:
        return (await self.write_objects([(kind, body)]))[0]

    async def object_type(self, sha: str) -> str | None:
        if not gitobj.is_sha(sha):
            return None
        got = await self.cat.get_many([sha], contents=False)
        return got[0][1] if got[0] else None

    async def read(self, sha: str) -> tuple[str, bytes] | None:
        got = await self.cat.get(sha)
        return (got[1], got[2]) if got else None

    async def read_commit(self, sha: str) -> Commit | None:
        got = await self.cat.get(sha) if gitobj.is_sha(sha) else None
        if not got or got[1] != "commit":
            return None
        return gitobj.parse_commit(got[2])

    async def existing_commit(self, sha: str) -> Commit:
        """A commit the repository has (a ref's tip, one just written); LookupError if not."""
        commit = await self.read_commit(sha)
        if commit is None:
            raise LookupError(f"no commit {sha}")
        return commit

    async def read_tree(self, sha: str) -> list[TreeEntry] | None:
        got = await self.cat.get(sha) if gitobj.is_sha(sha) else None
        if not got or got[1] != "tree":
            return None
        return gitobj.parse_tree(got[2])

    async def ls_tree(self, tree: str, recursive: bool) -> list[dict]:
        """Entries as GitHub's trees API lists them (path, mode, type, sha, size)."""
        args = ["ls-tree", "-l", "-z", "--full-tree"]
        if recursive:
            args += ["-r", "-t"]
        out = await self.git(*args, tree)
        entries = []
        for rec in out.split(b"\0"):
            if not rec:
                continue
            meta, _, path = rec.partition(b"\t")
            mode, kind, sha, size = meta.decode().split()
            entry: dict[str, str | int] = {
                "path": path.decode("utf-8", "surrogateescape"),
                "mode": mode,
                "type": kind,
                "sha": sha,
            }
            if kind == "blob":
                entry["size"] = int(size)
            entries.append(entry)
        return entries

    async def lookup_path(self, commit_or_tree: str, path: str) -> TreeEntry | None:
        """The tree entry at `path` (root tree for ""), walking with cat-file."""
        got = await self.cat.get(commit_or_tree)
        if not got:
            return None
        sha, kind, body = got
        if kind == "commit":
            sha = gitobj.parse_commit(body).tree
        elif kind != "tree":
            return None
        entry = TreeEntry(gitobj.MODE_TREE, "", sha)
        for part in [p for p in path.split("/") if p]:
            if entry.mode != gitobj.MODE_TREE:
                return None
            children = await self.read_tree(entry.sha) or []
            found = next((c for c in children if c.name == part), None)
            if found is None:
                return None
            entry = found
        return entry

    # -- refs -----------------------------------------------------------------------------
    async def refs(self, *patterns: str) -> dict[str, str]:
        out = await self.git("for-each-ref", "--format=%(objectname) %(refname)", *patterns)
        result = {}
        for line in out.decode().splitlines():
            sha, _, name = line.partition(" ")
            result[name] = sha
        return result

    async def ref(self, name: str) -> str | None:
        return (await self.refs(name)).get(name)

    async def update_ref(self, name: str, new: str, old: str | None) -> bool:
        """Compare-and-swap a ref; `old` None means "must not exist". False if it moved."""
        try:
            await self.git("update-ref", name, new, old or gitobj.ZERO_SHA)
            return True
        except GitError:
            return False

    async def delete_ref(self, name: str, old: str) -> bool:
        try:
            await self.git("update-ref", "-d", name, old)
            return True
        except GitError:
            return False

    async def resolve_commit(self, rev: str) -> str | None:
        """A branch, tag, full ref or (short) sha to a commit sha."""
        if not rev or rev.startswith("-") or ".." in rev:
            return None
        if gitobj.is_sha(rev):
            got = await self.cat.get_many([rev], contents=False)
            if got[0] and got[0][1] == "commit":
                return rev
        code, out = await run_git(
            self.git_dir,
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            f"{rev}^{{commit}}",
            ok_codes=(0, 1, 128),
        )
        return out.decode().strip() if code == 0 else None

    # -- history --------------------------------------------------------------------------
    async def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        code, _ = await run_git(self.git_dir, "merge-base", "--is-ancestor", ancestor, descendant, ok_codes=(0, 1))
        return code == 0

    async def merge_base(self, a: str, b: str) -> str | None:
        code, out = await run_git(self.git_dir, "merge-base", a, b, ok_codes=(0, 1))
        return out.decode().strip() if code == 0 else None

    async def merge_tree(self, ours: str, theirs: str) -> str | None:
        """Tree of merging `theirs` into `ours`, or None on conflicts (git merge-tree --write-tree)."""
        code, out = await run_git(
            self.git_dir, "merge-tree", "--write-tree", "--no-messages", ours, theirs, ok_codes=(0, 1)
        )
        return out.decode().split("\n", 1)[0].strip() if code == 0 else None

    async def count(self, include: str, exclude: str | None) -> int:
        args = ["rev-list", "--count", include] + ([f"^{exclude}"] if exclude else [])
        return int((await self.git(*args)).decode().strip() or 0)

    async def log(
        self,
        include: list[str],
        exclude: list[str],
        limit: int | None = None,
        name_status: bool = False,
        reverse: bool = True,
        skip: int = 0,
        path: str | None = None,
    ) -> list[LogCommit]:
        """Commits reachable from `include` but not `exclude`, oldest first by default."""
        args = ["log", f"--format={_LOG_FORMAT}", "-z", "--topo-order"]
        if name_status:
            args += ["--name-status", "--no-renames", "--diff-merges=first-parent"]
        if limit is not None:
            args.append(f"--max-count={limit}")
        if skip:
            args.append(f"--skip={skip}")
        args += include + [f"^{x}" for x in exclude]
        if path:
            args += ["--", path]
        out = await self.git(*args)
        commits = []
        for chunk in out.split(b"\x01")[1:]:
            head, _, rest = chunk.partition(b"\x03")
            f = head.decode("utf-8", "replace").split("\x02")
            c = LogCommit(
                sha=f[0],
                tree=f[1],
                parents=f[2].split() if f[2] else [],
                author=(f[3], f[4], f[5]),
                committer=(f[6], f[7], f[8]),
                message=f[9].rstrip("\n"),
            )
            tokens = rest.strip(b"\0\n").split(b"\0") if name_status else []
            for status, name in zip(tokens[0::2], tokens[1::2]):
                target = {b"A": c.added, b"D": c.removed}.get(status[:1], c.modified)
                target.append(name.decode("utf-8", "surrogateescape"))
            commits.append(c)
        if reverse:
            commits.reverse()
        return commits

    async def diff(self, base: str, head: str, patches: bool = True) -> list[FileChange]:
        """Files changed from `base` to `head` (trees or commits), renames detected."""
        raw, patch_text = await asyncio.gather(
            self.git("diff-tree", "-r", "-M", "--raw", "--numstat", "-z", "--no-commit-id", base, head),
            self.git("diff-tree", "-r", "-M", "-p", "--no-color", "--no-commit-id", base, head)
            if patches
            else _empty(),
        )
        changes = _parse_raw_numstat(raw)
        if patches:
            _attach_patches(changes, patch_text.decode("utf-8", "replace"))
        return changes

    async def archive(self, commit: str, prefix: str) -> bytes:
        return await self.git("archive", "--format=tar.gz", f"--prefix={prefix}", commit)


async def _empty() -> bytes:
    return b""


def _parse_raw_numstat(out: bytes) -> list[FileChange]:
    tokens = out.split(b"\0")
    changes: list[FileChange] = []
    i = 0
    # --raw records: ":old_mode new_mode old_sha new_sha STATUS\0path\0[path2\0]"
    while i < len(tokens) and tokens[i].startswith(b":"):
        meta = tokens[i].decode().split()
        status = meta[4][0]
        old_sha, new_sha = meta[2], meta[3]
        if status in "RC":
            prev, name = tokens[i + 1].decode(), tokens[i + 2].decode()
            i += 3
        else:
            prev, name = None, tokens[i + 1].decode()
            i += 2
        changes.append(
            FileChange(
                filename=name,
                status=_RAW_STATUS.get(status, "modified"),
                sha=old_sha if status == "D" else new_sha,
                previous_filename=prev if status == "R" else None,
            )
        )
    # --numstat records: "add\tdel\tpath\0" or "add\tdel\t\0old\0new\0" for renames
    idx = 0
    while i < len(tokens) and idx < len(changes):
        tok = tokens[i].decode("utf-8", "replace")
        if not tok:
            i += 1
            continue
        add, dele, path = tok.split("\t", 2)
        i += 1 if path else 3
        ch = changes[idx]
        ch.additions = int(add) if add.isdigit() else 0
        ch.deletions = int(dele) if dele.isdigit() else 0
        idx += 1
    return changes


_DIFF_HEADER = re.compile(r"^diff --git ", re.M)


def _attach_patches(changes: list[FileChange], text: str) -> None:
    parts = [p for p in _DIFF_HEADER.split(text) if p]
    for ch, part in zip(changes, parts):
        hunk = part.find("\n@@")
        ch.patch = part[hunk + 1 :].rstrip("\n") if hunk >= 0 else None
