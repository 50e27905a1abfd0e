"""Reading a GitHub tarball: only the files asked for, or (when GitHub truncated the tree) every
fabric file listed with its blob sha and only the changed ones parsed."""

from __future__ import annotations

import io
import tarfile

import pytest

from bot.core import snapshot
from bot.features.ingest import Timings, read_archive
from tests.ingest.test_snapshot import vpc

pytestmark = pytest.mark.fast


def tarball(files: dict[str, bytes], top: str = "acme-fabric-0123abc") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for path, body in files.items():
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size, info.mtime = len(body), 1_700_000_000
            tar.addfile(info, io.BytesIO(body))
        link = tarfile.TarInfo(f"{top}/fabric/link.yaml")
        link.type, link.linkname = tarfile.SYMTYPE, "../outside.yaml"
        tar.addfile(link)
    return out.getvalue()


FILES = {
    "fabric/a.yaml": vpc("vpc-a").encode(),
    "fabric/b.yml": vpc("vpc-b").encode(),
    "fabric/notes.txt": b"not yaml",
    "other/c.yaml": vpc("vpc-c").encode(),
    "outside.yaml": b"x: 1\n",
}


def test_only_the_wanted_files_are_read() -> None:
    got = read_archive(
        tarball(FILES), "fabric", {"fabric/b.yml": snapshot.blob_sha(FILES["fabric/b.yml"])}, {}, Timings()
    )
    assert list(got.files) == ["fabric/b.yml"] and got.documents == 1
    assert got.committed_at is not None and got.committed_at.timestamp() == 1_700_000_000


def test_without_a_tree_every_fabric_file_is_listed_and_only_changed_ones_parsed() -> None:
    unchanged = {"fabric/a.yaml": snapshot.blob_sha(FILES["fabric/a.yaml"])}
    got = read_archive(tarball(FILES), "fabric", None, unchanged, Timings())
    assert got.tree == {
        "fabric/a.yaml": unchanged["fabric/a.yaml"],
        "fabric/b.yml": snapshot.blob_sha(FILES["fabric/b.yml"]),
    }  # no symlink, no other dirs
    assert list(got.files) == ["fabric/b.yml"]


def test_a_file_listed_by_the_tree_but_missing_from_the_archive_is_an_error() -> None:
    got = read_archive(tarball(FILES), "fabric", {"fabric/gone.yaml": "1" * 40}, {}, Timings())
    [problem] = got.files["fabric/gone.yaml"].state.errors
    assert "could not be read" in problem.message


def test_without_a_tree_the_entries_not_read_are_listed_from_the_archive() -> None:
    files = {**FILES, "fabric/tab\tname.yaml": vpc("vpc-tab").encode(), "other/x\ty.yaml": b"x: 1\n"}
    got = read_archive(tarball(files), "fabric", None, {}, Timings())
    assert sorted((e.path, e.reason.split(":")[0]) for e in got.unread) == [
        ("fabric/link.yaml", "a symbolic link"),
        ("fabric/tab\tname.yaml", "a YAML file whose path contains a control character"),
    ]
    assert "fabric/tab\tname.yaml" not in (got.tree or {})
    # asked for the changed files only (the tree listed them), it lists nothing
    assert read_archive(tarball(files), "fabric", {}, {}, Timings()).unread == []
