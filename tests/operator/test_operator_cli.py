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
    async with asyncio.timeout(60):
        out, err = await proc.communicate(stdin.encode() if stdin else None)
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
        assert "progress: -/-  pending" in err  # the progress line, on stderr
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


def test_progress_is_a_bar_on_a_terminal_and_one_line_per_change_otherwise():
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    steps = ((0, "initializing"), (5, "gui_to_github_sync"), (5, "gui_to_github_sync"), (10, "completed"))
    for stream in (Terminal(), io.StringIO()):
        report = operator_cli.ProgressReport(stream)
        for done, status in steps:
            report.update({"status": status, "progress": {"done": done, "total": 10}})
        report.close()
        text = stream.getvalue()
        if isinstance(stream, Terminal):
            assert "10/10" in text and "completed" in text and "\x1b[" in text  # drawn in place
        else:
            assert text.splitlines() == [
                "progress: 0/10  initializing",
                "progress: 5/10  gui_to_github_sync",  # the repeated state is not printed twice
                "progress: 10/10  completed",
            ]


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


async def test_resource_list_filters_and_show_tells_state_file_line_and_the_differences(pool):
    async with running_bot(pool) as bot:
        await hnp(bot, "fabric", "add", "lab", "--repository", "acme/wiring")
        fabric_id = await pool.fetchval("SELECT id FROM fabric WHERE name = 'lab'")
        desired = {"subnets": {"default": {"subnet": "10.1.0.0/24", "vlan": 1001}}}
        await pool.execute(
            "INSERT INTO resource (fabric_id, kind, name, desired_spec, desired_sha, file_path, document_index, "
            "state) VALUES ($1, 'VPC', 'vpc-red', $2, $3, 'vpcs.yaml', 1, 'in_sync'), "
            "($1, 'VPC', 'vpc-blue', $2, $3, 'vpcs.yaml', 0, 'in_sync')",
            fabric_id,
            desired,
            "ab" * 20,
        )
        await pool.execute(
            "INSERT INTO fabric_file (fabric_id, path, blob_sha, documents, problems, error_count, unidentified) "
            "VALUES ($1, 'vpcs.yaml', $2, $3, '[]', 0, false)",
            fabric_id,
            "cd" * 20,
            [[0, 4, "VPC", "default", "vpc-blue", True], [1, 17, "VPC", "default", "vpc-red", True]],
        )
        drafted = {"subnets": {"default": {"subnet": "10.1.0.0/24", "vlan": 1011}}}
        code, _, err = await hnp(bot, "draft", "set", "-f", "-", stdin=VPCS.split("---")[0].replace("1001", "1011"))
        assert code == 0, err

        code, out, _ = await hnp(bot, "resource", "list", "--state", "draft")
        assert code == 0
        assert [line.split()[:3] for line in out.splitlines()[1:]] == [["VPC", "vpc-red", "draft"]]
        code, out, _ = await hnp(bot, "resource", "list", "--kind", "vpcs", "--json")
        assert sorted(r["name"] for r in json.loads(out)["resources"]) == ["vpc-blue", "vpc-red"]

        code, out, err = await hnp(bot, "resource", "show", "VPC/vpc-red")
        assert code == 0, err
        assert "state:         draft" in out
        assert "file:          vpcs.yaml line 17 (document 1)" in out
        assert "actual:        not reported" in out
        assert "spec.subnets.default.vlan: 1001 -> 1011" in out  # desired -> draft, field by field
        assert "-    vlan: 1001" in out and "+    vlan: 1011" in out  # and as a YAML diff
        code, out, _ = await hnp(bot, "resource", "show", "VPC/vpc-red", "--json")
        shown = json.loads(out)
        assert shown["draft"]["spec"] == drafted and shown["file"]["line"] == 17

        code, _, err = await hnp(bot, "resource", "show", "vpc-red")
        assert code == operator_cli.EXIT_USAGE and "KIND/NAME" in err


async def test_drift_says_which_resources_were_never_reported(pool):
    async with running_bot(pool) as bot:
        await hnp(bot, "fabric", "add", "lab", "--repository", "acme/wiring")
        fabric_id = await pool.fetchval("SELECT id FROM fabric WHERE name = 'lab'")
        await pool.execute(
            "INSERT INTO resource (fabric_id, kind, name, desired_spec, desired_sha) VALUES "
            "($1, 'Switch', 'leaf-01', '{\"role\": \"server-leaf\"}', $2)",
            fabric_id,
            "ab" * 20,
        )
        code, out, _ = await hnp(bot, "drift")
        assert code == 0
        assert "agrees" not in out
        assert "1 resource(s) have no reported actual state" in out and "Switch/leaf-01" in out
        code, out, _ = await hnp(bot, "drift", "--json")
        answer = json.loads(out)
        assert (answer["count"], answer["not_reported"]) == (0, 1)
        assert answer["not_reported_resources"] == [{"kind": "Switch", "namespace": "default", "name": "leaf-01"}]


def test_every_option_and_argument_has_help_and_optional_ones_look_optional():
    import argparse

    from bot import cli

    parser = cli.build_parser()
    missing = []

    def walk(p: argparse.ArgumentParser, where: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{where} {name}")
                continue
            if not isinstance(action, argparse._HelpAction) and not action.help:
                missing.append(f"{where}: {action.dest}")

    walk(parser, "hnp-gitops")
    assert missing == []
    usage = parser._subparsers._group_actions[0].choices["conflicts"].format_usage()
    assert "[ACTION]" in usage and "[--fabric FABRIC]" in usage


def test_the_top_level_help_lists_every_environment_variable_the_commands_read():
    import re
    from pathlib import Path

    from bot import cli

    text = cli.build_parser().format_help()
    root = Path(__file__).resolve().parents[2] / "bot"
    read = set()
    for module in ("config.py", "operator_cli.py"):
        source = (root / module).read_text()
        read |= set(re.findall(r'(?:text|secret|integer|number|environ\.get|env\.get)\("([A-Z_]+)"', source))
    assert {"DATABASE_URL", "HNP_API_TOKEN", "HNP_GITOPS_URL", "HNP_GITOPS_FABRIC", "HOST"} <= read
    assert sorted(name for name in read if name not in text) == []
