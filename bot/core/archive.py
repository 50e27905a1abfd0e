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
        extracted = self._tar.extractfile(self._info)
        return extracted.read() if extracted is not None else b""


def fabric_files(data: bytes, directory: str) -> Iterator[Member]:
    """Each regular YAML file under `directory`, in archive order."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as tar:
        for info in tar:
            if not info.isfile() or "/" not in info.name:
                continue
            path = info.name.split("/", 1)[1]
            # A cheap prefix test first: a monorepo's archive may hold 100,000 paths elsewhere.
            if directory and not path.startswith(directory + "/"):
                continue
            if filemap.is_fabric_yaml(directory, path):
                mode = "100755" if info.mode & 0o111 else "100644"
                yield Member(path, info.size, mode, int(info.mtime), tar, info)
