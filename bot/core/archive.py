"""The one reader of a GitHub tarball (`owner-repo-sha/` then the tree): the fabric's YAML
files in it, decompressed as a stream, so only the member being read is held in memory."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass

from bot.core import filemap


@dataclass
class Member:
    """One regular fabric YAML file of the archive. `read()` while it is the current member."""

    path: str  # inside the repository
    size: int
    mode: str  # git's file mode: 100755 when executable, else 100644
    mtime: int  # git archive writes the commit's time on every member
    _tar: tarfile.TarFile
    _info: tarfile.TarInfo

    def read(self) -> bytes:
        stream = self._tar.extractfile(self._info)
        if stream is None:  # only for members that are not regular files, which are not yielded
            raise tarfile.ReadError(f"{self._info.name} is not a regular file")
        return stream.read()


def _fabric_yaml(directory: str, path: str) -> bool:
    # A cheap prefix test first: a monorepo's archive may hold 100,000 paths elsewhere.
    return (not directory or path.startswith(directory + "/")) and filemap.is_fabric_yaml(directory, path)


def fabric_files(data: bytes, directory: str, unread: list[filemap.UnreadEntry] | None = None) -> Iterator[Member]:
    """Each regular YAML file under `directory`, in archive order; into `unread`, the symlinks
    and badly named YAML files under the directory (which are never read)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as tar:
        for info in tar:
            if "/" not in info.name or not (info.isfile() or info.issym()):
                continue
            path = info.name.split("/", 1)[1]
            if info.isfile() and _fabric_yaml(directory, path):
                mode = "100755" if info.mode & 0o111 else "100644"
                yield Member(path, info.size, mode, int(info.mtime), tar, info)
            elif unread is not None:
                kind = filemap.SYMLINK_MODE if info.issym() else filemap.REGULAR_FILE_MODES[0]
                entry = filemap.unread_entry(directory, path, kind)
                if entry is not None:
                    unread.append(entry)
