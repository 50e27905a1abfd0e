"""Hostile YAML pushed to the fabric's branch with git, received as a real `push` webhook by
the `serve` process: each bad file is one failing annotation on the `hnp-gitops/validate`
check run, every other file is still ingested, a resource whose file turned bad keeps its
previous desired state, and the worker is not hung (the next push is processed).

The big file is 100 MB, as the issue asks: its content is a repeated comment line, so git
and the tarball compress it to little, and the test costs about a second more than a small
one. What is checked is the 5 MB file limit (the file is refused whole, unread)."""

from __future__ import annotations

import pytest

from tests.reliability.system import DIRECTORY, FULL, System, assert_no_job_leased, vpc, vpc_spec

HUNDRED_MB = 100 * 1024 * 1024

BOMB = """apiVersion: vpc.githedgehog.com/v1beta1
kind: VPC
metadata:
  name: bomb
a: &a ["x","x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
spec: *g
"""


def hostile() -> dict[str, tuple[bytes, str]]:
    """file name -> (content, a word the annotation must contain)."""
    line = b"# this line pads a file to 100 MB; YAML comments are all it holds.........\n"
    return {
        "bomb.yaml": (BOMB.encode(), "alias"),
        "deep.yaml": (
            b"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: deep\nspec: "
            + b"[" * 10_000
            + b"]" * 10_000
            + b"\n",
            "deeper",
        ),
        "huge.yaml": (line * (HUNDRED_MB // len(line) + 1), "over the limit"),
        "latin1.yaml": (
            "apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: caf\xe9\n".encode("latin-1"),
            "UTF-8",
        ),
        "dupkeys.yaml": (
            b"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: dup\n"
            b"spec:\n  subnets: {}\nspec:\n  subnets: {}\n",
            "duplicate key",
        ),
        "badname.yaml": (vpc("Not_A_K8s_Name", 1010, 10).encode(), "name"),
        "crd.yaml": (
            b"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: crd-fail\n"
            b"spec:\n  subnets:\n    default:\n      subnet: 10.0.11.0/24\n      vlan: not-a-number\n",
            "integer",
        ),
    }


@pytest.mark.scenario(
    "bad input",
    "files pushed with git: a YAML alias bomb, 10,000-deep nesting, a 100 MB file, "
    "Latin-1 bytes, duplicate keys, a name that is not a Kubernetes name, a spec that fails "
    "the CRD, an unknown kind, and a good resource's file corrupted",
    "a failing hnp-gitops/validate check with one annotation per bad file; the good files "
    "ingested; the corrupted resource keeps its previous desired state; no hung worker",
)
async def test_hostile_files_fail_the_check_and_nothing_else_is_lost(system: System) -> None:
    clone = await system.clone()
    files = {f"{DIRECTORY}/hostile/{name}": content for name, (content, _) in hostile().items()}
    files[f"{DIRECTORY}/good.yaml"] = vpc("good", 1020, 20)
    files[f"{DIRECTORY}/deployment.yaml"] = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
    files[f"{DIRECTORY}/lone.yaml"] = "apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nkind: VPC\n"  # was `lone`
    lone_before = (await system.desired())[("VPC", "lone")]
    head = await system.push(files, "hostile input", clone=clone)
    await system.ingested(head, timeout=60)
    await system.idle()

    desired = await system.desired()
    assert desired[("VPC", "good")] == vpc_spec(1020, 20)  # the good file is ingested
    assert desired[("VPC", "lone")] == lone_before  # its file broke: the previous desired state stays
    for name in ("bomb", "deep", "dup", "crd-fail", "caf\xe9", "Not_A_K8s_Name"):
        assert ("VPC", name) not in desired, name
    runs = (await system.rest(f"/repos/{FULL}/commits/{head}/check-runs"))["check_runs"]
    [run] = [r for r in runs if r["name"] == "hnp-gitops/validate"]
    assert run["conclusion"] == "failure", run
    notes = await system.rest(f"/repos/{FULL}/check-runs/{run['id']}/annotations?per_page=100")
    failures: dict[str, list[str]] = {}
    for note in notes:
        if note["annotation_level"] == "failure":
            failures.setdefault(note["path"].rsplit("/", 1)[1], []).append(note["message"])
    expected = {name: word for name, (_, word) in hostile().items()} | {"lone.yaml": "duplicate key"}
    assert set(failures) == set(expected), failures
    for name, word in expected.items():
        assert any(word in m for m in failures[name]), (name, failures[name])
    assert any(n["annotation_level"] == "warning" and n["path"].endswith("deployment.yaml") for n in notes)

    # The worker is not hung: the next push is ingested at once.
    again = await system.push(
        {f"{DIRECTORY}/hostile/huge.yaml": None, f"{DIRECTORY}/after.yaml": vpc("after", 1030, 30)},
        "remove the big file",
        clone=clone,
    )
    await system.ingested(again, timeout=30)
    await system.idle()
    assert (await system.desired())[("VPC", "after")] == vpc_spec(1030, 30)
    await assert_no_job_leased(system)
    assert await system.bot.healthy()
