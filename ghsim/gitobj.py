"""Git object format: hashing, encoding and parsing of blobs, trees and commits.

Objects are written as loose objects straight into the bare repository's `objects/`
directory. This is git's stable on-disk format (zlib of `<type> <size>\\0<body>`), and
writing it from Python avoids one `git hash-object` subprocess per file, which is what
keeps a 1,000-file commit through the trees API well under a second.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
ZERO_SHA = "0" * 40

MODE_TREE = "040000"
MODE_BLOB = "100644"
MODE_EXEC = "100755"
MODE_LINK = "120000"
MODE_COMMIT = "160000"
VALID_MODES = {MODE_TREE, MODE_BLOB, MODE_EXEC, MODE_LINK, MODE_COMMIT}


def is_sha(value: object) -> bool:
    return isinstance(value, str) and bool(SHA_RE.match(value))


def object_bytes(kind: str, body: bytes) -> bytes:
    return b"%s %d\0" % (kind.encode(), len(body)) + body


def hash_object(kind: str, body: bytes) -> str:
    return hashlib.sha1(object_bytes(kind, body)).hexdigest()


def write_loose(git_dir: str, kind: str, body: bytes) -> str:
    """Write one loose object (if absent) and return its sha; atomic via rename."""
    raw = object_bytes(kind, body)
    sha = hashlib.sha1(raw).hexdigest()
    folder = os.path.join(git_dir, "objects", sha[:2])
    path = os.path.join(folder, sha[2:])
    if os.path.exists(path):
        return sha
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="tmp_obj_")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(zlib.compress(raw, 1))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return sha


_PACK_TYPES = {"commit": 1, "tree": 2, "blob": 3, "tag": 4}


def encode_pack(objs: list[tuple[str, bytes]]) -> bytes:
    """A version-2 packfile holding `objs` undeltified (for `git index-pack --stdin`).
    One pack file instead of hundreds of loose files is what makes big commits cheap."""
    out = bytearray(b"PACK" + (2).to_bytes(4, "big") + len(objs).to_bytes(4, "big"))
    for kind, body in objs:
        size = len(body)
        byte = (_PACK_TYPES[kind] << 4) | (size & 0x0F)
        size >>= 4
        header = bytearray()
        while size:
            header.append(byte | 0x80)
            byte = size & 0x7F
            size >>= 7
        header.append(byte)
        out += header + zlib.compress(body, 1)
    out += hashlib.sha1(out).digest()
    return bytes(out)


@dataclass(frozen=True)
class TreeEntry:
    mode: str  # six digits as GitHub shows them, e.g. "100644" or "040000"
    name: str
    sha: str

    @property
    def type(self) -> str:
        if self.mode == MODE_TREE:
            return "tree"
        if self.mode == MODE_COMMIT:
            return "commit"
        return "blob"


def _sort_key(entry: TreeEntry) -> bytes:
    # git orders tree entries by name, comparing a subtree's name as if it ended in "/".
    name = entry.name.encode()
    return name + b"/" if entry.mode == MODE_TREE else name


def encode_tree(entries: list[TreeEntry]) -> bytes:
    out = bytearray()
    for e in sorted(entries, key=_sort_key):
        mode = "40000" if e.mode == MODE_TREE else e.mode
        out += mode.encode() + b" " + e.name.encode() + b"\0" + bytes.fromhex(e.sha)
    return bytes(out)


def parse_tree(body: bytes) -> list[TreeEntry]:
    entries = []
    i = 0
    n = len(body)
    while i < n:
        sp = body.index(b" ", i)
        nul = body.index(b"\0", sp)
        mode = body[i:sp].decode().rjust(6, "0")
        name = body[sp + 1 : nul].decode("utf-8", "surrogateescape")
        sha = body[nul + 1 : nul + 21].hex()
        entries.append(TreeEntry(mode, name, sha))
        i = nul + 21
    return entries


@dataclass
class Person:
    name: str
    email: str
    when: datetime  # timezone-aware

    def encode(self) -> str:
        offset = self.when.utcoffset() or timedelta(0)
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        minutes = abs(minutes)
        return f"{self.name} <{self.email}> {int(self.when.timestamp())} {sign}{minutes // 60:02d}{minutes % 60:02d}"

    @classmethod
    def decode(cls, line: str) -> Person:
        m = re.match(r"^(.*) <(.*)> (\d+) ([+-])(\d\d)(\d\d)$", line)
        if not m:
            return cls(line, "", datetime.fromtimestamp(0, UTC))
        name, email, ts, sign, hh, mm = m.groups()
        delta = timedelta(hours=int(hh), minutes=int(mm))
        tz = timezone(delta if sign == "+" else -delta)
        return cls(name, email, datetime.fromtimestamp(int(ts), tz))


@dataclass
class Commit:
    tree: str
    parents: list[str]
    author: Person
    committer: Person
    message: str


def encode_commit(c: Commit) -> bytes:
    lines = [f"tree {c.tree}"] + [f"parent {p}" for p in c.parents]
    lines += [f"author {c.author.encode()}", f"committer {c.committer.encode()}"]
    message = c.message if c.message.endswith("\n") else c.message + "\n"
    return ("\n".join(lines) + "\n\n" + message).encode()


def parse_commit(body: bytes) -> Commit:
    text = body.decode("utf-8", "replace")
    head, _, message = text.partition("\n\n")
    tree, parents, author, committer = "", [], None, None
    for line in head.split("\n"):
        key, _, value = line.partition(" ")
        if key == "tree":
            tree = value
        elif key == "parent":
            parents.append(value)
        elif key == "author":
            author = Person.decode(value)
        elif key == "committer":
            committer = Person.decode(value)
    epoch = Person("", "", datetime.fromtimestamp(0, UTC))
    # GitHub shows messages without git's trailing newline.
    return Commit(tree, parents, author or epoch, committer or epoch, message.rstrip("\n"))


def parse_git_date(value: str | None) -> datetime:
    """Parse an ISO 8601 date as the API accepts it; now (UTC) when absent."""
    if not value:
        return datetime.now(UTC).replace(microsecond=0)
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt
