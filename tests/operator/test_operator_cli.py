"""`hnp-gitops fabric|draft|sync|status|conflicts|drift` as an operator or a script runs them:
real processes against a running bot's HNP API."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import aiohttp

from bot import operator_cli
from tests.conftest import free_port
from tests.operator.helpers import TOKEN, running_bot

VPCS = """\
# two VPCs in one file, as people write them
apiVersion: vpc.githedgehog.com/v1beta1
kind: VPC
metadata:
  name: vpc-red
  labels:
    team: red
spec:
  subnets:
    default:
      subnet: 10.1.0.0/24
      vlan: 1001
---
apiVersion: vpc.githedgehog.com/v1beta1
kind: VPC
metadata:
  name: vpc-green
spec:
  subnets:
    default:
      subnet: 10.2.0.0/24
      vlan: 1002
"""


async def hnp(bot, *args: str, token: str | None = TOKEN, stdin: str | None = None, **env: str):
    """Run `hnp-gitops ARGS` as a process; -> (exit code, stdout, stderr)."""
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "HNP_GITOPS_URL": bot.url if bot else "http://127.0.0.1:1",
        "HNP_GITOPS_FABRIC": "lab",
    }
    if token:
        environ["HNP_API_TOKEN"] = token
    environ.update(env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=environ,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), 60)
    return proc.returncode, out.decode(), err.decode()


async def test_fabric_add_list_and_show_print_tables_and_json(pool):
    async with running_bot(pool) as bot:
        code, out, err = await hnp(
            bot, "fabric", "add", "lab", "--repository", "acme/wiring", "--directory", "fabrics/lab", "--branch", "main"
        )
        assert code == 0, err
        assert "fabric lab added: acme/wiring branch main directory 'fabrics/lab'" in out

        code, out, _ = await hnp(bot, "fabric", "list")
        assert code == 0
        header, row = out.splitlines()[:2]
        assert header.split()[:4] == ["FABRIC", "REPOSITORY", "BRANCH", "DIRECTORY"]
        assert row.split()[:4] == ["lab", "acme/wiring", "main", "fabrics/lab"]

        code, out, _ = await hnp(bot, "fabric", "list", "--json")
        assert code == 0 and json.loads(out)["fabrics"][0]["name"] == "lab"

        code, out, _ = await hnp(bot, "fabric", "show")  # the fabric from HNP_GITOPS_FABRIC
        assert code == 0 and "repository:" in out and "acme/wiring" in out

        code, out, err = await hnp(bot, "fabric", "add", "lab", "--repository", "acme/wiring")
        assert code == operator_cli.EXIT_API_ERROR
        assert err.strip() == "hnp-gitops: error: 409 conflict: a fabric named 'lab' already exists"


async def test_draft_set_sends_every_document_and_discard_throws_one_away(pool, tmp_path):
    (tmp_path / "vpcs.yaml").write_text(VPCS)
    async with running_bot(pool) as bot:
        assert (await hnp(bot, "fabric", "add", "lab", "--repository", "acme/wiring"))[0] == 0
        code, out, err = await hnp(bot, "draft", "set", "-f", str(tmp_path / "vpcs.yaml"))
        assert code == 0, err
        assert "2 draft(s) saved in fabric lab" in err
        rows = {line.split()[1]: line.split()[2] for line in out.splitlines()[1:]}
        assert rows == {"vpc-red": "draft", "vpc-green": "draft"}
        stored = {
            r["name"]: r
            for r in await pool.fetch("SELECT name, draft_spec, draft_metadata FROM resource ORDER BY name")
        }
        assert stored["vpc-red"]["draft_spec"]["subnets"]["default"]["vlan"] == 1001
        assert stored["vpc-red"]["draft_metadata"] == {"labels": {"team": "red"}}

        code, out, _ = await hnp(bot, "draft", "discard", "VPC", "vpc-green")
        assert code == 0 and "draft of VPC/vpc-green discarded in fabric lab" in out
        assert await pool.fetchval("SELECT count(*) FROM resource WHERE name = 'vpc-green'") == 0

        # From stdin, as scripts pipe it.
        code, out, err = await hnp(bot, "draft", "set", "-f", "-", "--json", stdin=VPCS.split("---")[1])
        assert code == 0, err
        assert [(r["name"], r["ok"]) for r in json.loads(out)] == [("vpc-green", True)]


async def test_a_draft_the_crd_refuses_is_reported_in_one_line_with_its_field(pool, tmp_path):
    bad = VPCS.replace("vlan: 1002", "vlan: not-a-number")
    (tmp_path / "bad.yaml").write_text(bad)
    async with running_bot(pool) as bot:
        await hnp(bot, "fabric", "add", "lab", "--repository", "acme/wiring")
        code, out, err = await hnp(bot, "draft", "set", "-f", str(tmp_path / "bad.yaml"))
    assert code == operator_cli.EXIT_API_ERROR
    assert "vpc-red" in out  # the good document went through
    refused = [line for line in err.splitlines() if "VPC/vpc-green" in line]
    assert len(refused) == 1 and "422" in refused[0] and "vlan" in refused[0]
    assert "Traceback" not in err


async def test_sync_wait_gives_up_with_its_own_exit_code_and_status_shows_the_operation(pool):
    # No workers run in this bot, so the operation stays pending: --wait must give up cleanly.
    async with running_bot(pool, background=False) as bot:
        await hnp(bot, "fabric", "add", "lab", "--repository", "acme/wiring")
        code, out, err = await hnp(
            bot, "sync", "--direction", "gui_to_github", "--create-pr", "--wait", "--timeout", "1"
        )
        assert code == operator_cli.EXIT_TIMEOUT, err
        assert "has not finished after 1 s" in err
        assert "[" in err and "pending" in err  # the progress line, on stderr
        operation_id = await pool.fetchval("SELECT id::text FROM sync_operation")
        request = await pool.fetchval("SELECT request FROM sync_operation")
        assert request.get("create_pr") is True

        code, out, _ = await hnp(bot, "status", operation_id)
        assert code == 0 and f"operation {operation_id}: pending (gui_to_github, fabric lab)" in out
        code, out, _ = await hnp(bot, "status")
        assert code == 0 and operation_id in out and "pending" in out
        code, out, _ = await hnp(bot, "status", "--json", "--active")
        assert [o["operation_id"] for o in json.loads(out)["operations"]] == [operation_id]

        code, _, err = await hnp(bot, "sync")
        assert code == operator_cli.EXIT_API_ERROR and f"operation {operation_id}" in err  # one at a time


async def test_a_failed_sync_ends_with_exit_code_1(pool):
    async with running_bot(pool, background=False) as bot:
        await hnp(bot, "fabric", "add", "lab", "--repository", "acme/wiring")
        operation_id = await pool.fetchval(
            "INSERT INTO sync_operation (fabric_id, direction, status, error, "
            "completed_at) SELECT id, 'gui_to_github', 'failed', "
            "'the app cannot write the branch', now() FROM fabric RETURNING id::text"
        )
        code, out, _ = await hnp(bot, "status", operation_id)
    assert code == operator_cli.EXIT_SYNC_FAILED
    assert "failed" in out and "error: the app cannot write the branch" in out


async def test_errors_are_one_line_with_distinct_codes_and_never_show_the_token(pool):
    async with running_bot(pool) as bot:
        code, out, err = await hnp(bot, "fabric", "list", token="wrong-token-7a9b3c")
        assert code == operator_cli.EXIT_API_ERROR
        assert err.startswith("hnp-gitops: error: 401 unauthorized:") and len(err.strip().splitlines()) == 1
        assert "wrong-token-7a9b3c" not in out + err

        code, out, err = await hnp(bot, "fabric", "show", "nope")
        assert code == operator_cli.EXIT_API_ERROR and "404" in err

    code, out, err = await hnp(None, "fabric", "list", HNP_GITOPS_URL=f"http://127.0.0.1:{free_port()}")
    assert code == operator_cli.EXIT_UNREACHABLE
    assert "cannot reach http://127.0.0.1:" in err and "Traceback" not in err and TOKEN not in out + err

    code, _, err = await hnp(None, "fabric", "list", token=None)
    assert code == operator_cli.EXIT_USAGE and "HNP_API_TOKEN is not set" in err

    code, _, err = await hnp(None, "draft", "set", "-f", "/nonexistent.yaml")
    assert code == operator_cli.EXIT_USAGE and "cannot read /nonexistent.yaml" in err


def test_progress_bar_redraws_in_place_on_a_terminal_and_prints_lines_otherwise():
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for stream in (Terminal(), io.StringIO()):
        bar = operator_cli.Progress(stream)
        for done, status in (
            (0, "initializing"),
            (5, "gui_to_github_sync"),
            (5, "gui_to_github_sync"),
            (10, "completed"),
        ):
            bar.update({"status": status, "progress": {"done": done, "total": 10}})
        bar.close()
        text = stream.getvalue()
        assert "[###############...............]" in text and "5/10" in text and "10/10" in text
        if isinstance(stream, Terminal):
            assert text.count("\r") == 3 and text.endswith("\n")
        else:
            assert text.count("\n") == 3 and "\r" not in text  # the repeated state is not printed twice


async def test_conflicts_and_drift_list_what_the_api_reports(pool):
    async with running_bot(pool) as bot:
        await hnp(bot, "fabric", "add", "lab", "--repository", "acme/wiring")
        code, out, _ = await hnp(bot, "conflicts")
        assert code == 0 and out.strip() == "no open conflicts in fabric lab"
        code, out, _ = await hnp(bot, "drift")
        assert code == 0 and out.startswith("no drift in fabric lab")

        fabric_id = await pool.fetchval("SELECT id FROM fabric WHERE name = 'lab'")
        sha = "ab" * 20
        await pool.execute(
            "INSERT INTO resource (fabric_id, kind, name, desired_spec, desired_sha) VALUES "
            '($1, \'Switch\', \'leaf-01\', \'{"role": "server-leaf", "description": "a"}\', $2)',
            fabric_id,
            sha,
        )
        vpc = await pool.fetchval(
            "INSERT INTO resource (fabric_id, kind, name, desired_spec, desired_sha, draft_spec, drafted_at, state) "
            "VALUES ($1, 'VPC', 'vpc-1', '{}', $2, '{\"v\": 1}', now(), 'conflict') RETURNING id",
            fabric_id,
            sha,
        )
        conflict_id = await pool.fetchval(
            "INSERT INTO conflict (fabric_id, resource_id, type, severity, field_path, base_value, gui_value, "
            "git_value, message) VALUES ($1, $2, 'concurrent_modification', 'high', 'spec.subnets.default.vlan', "
            "'1000', '1001', '1002', 'both sides changed it') RETURNING id",
            fabric_id,
            vpc,
        )

        # What the running fabric reports: the switch's description differs.
        async with aiohttp.ClientSession() as session:
            async with session.put(
                f"{bot.url}/api/fabrics/lab/resources/Switch/leaf-01/actual",
                json={"spec": {"role": "server-leaf", "description": "b"}},
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as response:
                assert response.status == 200, await response.text()

        code, out, _ = await hnp(bot, "conflicts")
        assert code == 0
        header, row = out.splitlines()[:2]
        assert header.split() == ["ID", "RESOURCE", "TYPE", "SEVERITY", "FIELD", "BASE", "GUI", "GIT", "STATUS"]
        assert row.split() == [
            str(conflict_id),
            "VPC/vpc-1",
            "concurrent_modification",
            "high",
            "spec.subnets.default.vlan",
            "1000",
            "1001",
            "1002",
            "open",
        ]
        code, out, _ = await hnp(bot, "conflicts", "--json")
        assert json.loads(out)["conflicts"][0]["id"] == conflict_id

        code, out, _ = await hnp(bot, "drift")
        assert code == 0
        assert out.splitlines()[1].split() == ["Switch", "leaf-01", "spec.description", '"a"', '"b"']

        code, _, err = await hnp(bot, "conflicts", "resolve", "999999", "gui")
        assert code == operator_cli.EXIT_API_ERROR and "404" in err
