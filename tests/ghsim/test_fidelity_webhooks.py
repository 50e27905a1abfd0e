"""Every webhook event and action the emulator emits carries the keys, with the same JSON
types, that GitHub's example payloads (../shared/github/webhooks/) carry at the top level
and in repository, pull_request, check_run, commits[], installation and sender; and it
validates against GitHub's official webhook schema for that action."""

from __future__ import annotations

import json
from collections import defaultdict

import jsonschema
import pytest
from conftest import shared_github

SECTIONS = ("repository", "pull_request", "check_run", "installation", "sender")
EMITTED = {
    ("ping", None),
    ("installation", "created"),
    ("installation", "deleted"),
    ("installation_repositories", "added"),
    ("installation_repositories", "removed"),
    ("push", None),
    ("pull_request", "opened"),
    ("pull_request", "synchronize"),
    ("pull_request", "edited"),
    ("pull_request", "closed"),
    ("pull_request", "reopened"),
    ("check_run", "created"),
    ("check_run", "completed"),
    ("check_run", "rerequested"),
    ("check_run", "requested_action"),
    ("check_suite", "requested"),
    ("check_suite", "completed"),
    ("issue_comment", "created"),
    ("issue_comment", "edited"),
}
# An app's own hook is app-level, so GitHub's ping to it names no repository (the shared
# ping examples come from repository hooks).
NOT_FOR_APP_HOOKS = {("ping", None): {"repository"}}
# Where the examples and GitHub's official schema disagree, or a key belongs to a feature
# the emulator does not model, the emulator follows the official schema; listed here:
ALLOWED_DIFFERENCES = {
    ("installation", "created_at"): "old examples send epoch integers; the official schema says date-time string",
    ("installation", "updated_at"): "as created_at",
    ("check_run", "deployment"): "present only for check runs of GitHub Actions deployments",
}


def json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array", str: "string"}[type(value)]


class OfficialSchema:
    """Which keys GitHub's official webhook schema lets be null, per event/action/section."""

    def __init__(self, event: str, action: str | None):
        self.doc = json.loads(
            (shared_github() / "webhook-schemas" / f"openapi-webhooks.{event}.schema.json").read_text()
        )
        self.root = {"$ref": f"#/$defs/{self.doc['x-actions'][(action or 'none').replace('_', '-')]}"}

    def _resolve(self, s: dict) -> dict:
        while isinstance(s, dict) and "$ref" in s:
            s = self.doc["$defs"][s["$ref"].split("/")[-1]]
        return s

    def _properties(self, s: dict) -> dict:
        s = self._resolve(s)
        props = dict(s.get("properties", {}))
        for k in ("allOf", "anyOf", "oneOf"):
            for branch in s.get(k, []):
                props.update(self._properties(branch))
        return props

    def _allows_null(self, s: dict) -> bool:
        s = self._resolve(s)
        t = s.get("type")
        if t == "null" or (isinstance(t, list) and "null" in t) or s.get("nullable"):
            return True
        return any(self._allows_null(b) for k in ("anyOf", "oneOf") for b in s.get(k, []))

    def nullable(self, section: str | None) -> set[str]:
        s = self.root
        if section == "commits[]":
            s = self._resolve(self._properties(s).get("commits", {})).get("items", {})
        elif section:
            s = self._properties(s).get(section, {})
        return {k for k, v in self._properties(s).items() if self._allows_null(v)}


def compare_keys(
    example: dict,
    ours: dict,
    where: str,
    skip: set = frozenset(),
    nullable: set = frozenset(),
    section: str | None = None,
) -> list[str]:
    problems = []
    for key, value in example.items():
        if key in skip or (section, key) in ALLOWED_DIFFERENCES:
            continue
        if key not in ours:
            problems.append(f"{where}: missing key {key!r}")
        elif value is None or (ours[key] is None and key in nullable):
            continue
        elif json_type(ours[key]) != json_type(value):
            problems.append(f"{where}.{key}: {json_type(ours[key])} where GitHub sends {json_type(value)}")
    return problems


def compare_payload(example: dict, ours: dict, label: str, skip: set, schema: OfficialSchema) -> list[str]:
    problems = compare_keys(example, ours, label, skip, schema.nullable(None))
    for section in SECTIONS:
        if isinstance(example.get(section), dict) and isinstance(ours.get(section), dict):
            problems += compare_keys(
                example[section],
                ours[section],
                f"{label}.{section}",
                nullable=schema.nullable(section),
                section=section,
            )
    if example.get("commits") and ours.get("commits"):
        problems += compare_keys(
            example["commits"][0],
            ours["commits"][0],
            f"{label}.commits[]",
            nullable=schema.nullable("commits[]"),
            section="commits[]",
        )
    if isinstance(example.get("head_commit"), dict) and isinstance(ours.get("head_commit"), dict):
        problems += compare_keys(
            example["head_commit"],
            ours["head_commit"],
            f"{label}.head_commit",
            nullable=schema.nullable("head_commit"),
            section="head_commit",
        )
    return problems


def load_examples() -> dict[tuple[str, str | None], list[tuple[str, dict]]]:
    folder = shared_github() / "webhooks"
    grouped = defaultdict(list)
    for path in sorted(folder.glob("*.json")):
        event, action, _n = path.name[:-5].split(".")
        grouped[(event, None if action == "none" else action)].append((path.name, json.loads(path.read_text())))
    return grouped


async def produce_every_event(world) -> dict[tuple[str, str | None], list[dict]]:
    """Drive the emulator through everything that makes GitHub send a webhook."""
    api, r, sim = world.api, world.r, world.sim
    _, ref, _ = await api.get(f"{r}/git/ref/heads/main")
    main = ref["object"]["sha"]
    _, c, _ = await api.get(f"{r}/git/commits/{main}")

    async def commit(parent, path, text):
        _, tree, _ = await api.post(
            f"{r}/git/trees",
            {
                "base_tree": c["tree"]["sha"],
                "tree": [{"path": path, "mode": "100644", "type": "blob", "content": text}],
            },
        )
        _, made, _ = await api.post(
            f"{r}/git/commits", {"message": f"edit {path}", "tree": tree["sha"], "parents": [parent]}
        )
        return made["sha"]

    first = await commit(main, "fabric/vlans/vlan-10.yaml", "kind: VLAN\nvlan: 12\n")
    assert (await api.post(f"{r}/git/refs", {"ref": "refs/heads/change", "sha": first}))[0] == 201
    status, pr, _ = await api.post(f"{r}/pulls", {"title": "Change VLAN", "head": "change", "base": "main"})
    assert status == 201
    second = await commit(first, "fabric/vlans/vlan-10.yaml", "kind: VLAN\nvlan: 13\n")
    assert (await api.patch(f"{r}/git/refs/heads/change", {"sha": second}))[0] == 200
    await api.patch(f"{r}/pulls/{pr['number']}", {"title": "Change VLAN 10"})
    await api.patch(f"{r}/pulls/{pr['number']}", {"state": "closed"})
    await api.patch(f"{r}/pulls/{pr['number']}", {"state": "open"})

    status, run, _ = await api.post(
        f"{r}/check-runs",
        {
            "name": "hnp-gitops/validate",
            "head_sha": second,
            "status": "in_progress",
            "output": {"title": "Checking", "summary": "..."},
            "actions": [{"label": "Import", "description": "Import into HNP", "identifier": "import"}],
        },
    )
    assert status == 201
    await api.patch(
        f"{r}/check-runs/{run['id']}",
        {"conclusion": "action_required", "output": {"title": "Conflict", "summary": "GUI draft"}},
    )
    await sim.press_check_run_action(run["id"], "import", world.writer)
    await sim.rerequest_check_run(run["id"], world.writer)

    status, comment, _ = await api.post(f"{r}/issues/{pr['number']}/comments", {"body": "Plan: 1 change"})
    assert status == 201
    await api.patch(f"{r}/issues/comments/{comment['id']}", {"body": "Plan: 1 change (updated)"})
    await sim.comment_on_pull(world.owner, world.repo, pr["number"], world.writer, "/hnp import")
    await sim.merge_pull(world.owner, world.repo, pr["number"], world.writer)

    await sim.create_repo("acme", "other")
    await sim.change_installation_repositories(world.installation_id, add=["acme/other"])
    await sim.change_installation_repositories(world.installation_id, remove=["acme/other"])
    await sim.delete_installation(world.installation_id)
    await sim.wait_deliveries_idle()

    ours = defaultdict(list)
    for d in world.receiver.received:
        ours[(d["event"], d["payload"].get("action"))].append(d["payload"])
    return ours


@pytest.fixture
async def emitted(world):
    return await produce_every_event(world)


async def test_the_scenario_emits_every_event_and_action(emitted):
    assert set(emitted) == EMITTED


async def test_payloads_carry_the_keys_and_types_of_githubs_examples(emitted):
    examples = load_examples()
    problems, compared = [], 0
    for key, payloads in sorted(emitted.items(), key=str):
        for name, example in examples.get(key, []):
            compared += 1
            problems += compare_payload(
                example, payloads[-1], name, NOT_FOR_APP_HOOKS.get(key, set()), OfficialSchema(*key)
            )
    assert compared >= 20
    assert not problems, "\n".join(problems)


async def test_actions_without_an_example_match_an_example_of_the_same_event(emitted):
    examples = load_examples()
    problems = []
    for key in EMITTED:
        if key in examples:
            continue
        same_event = [ex for (ev, _), exs in examples.items() if ev == key[0] for ex in exs]
        assert same_event, f"no example at all for {key[0]}"
        name, example = same_event[0]
        ours = emitted[key][-1]
        schema = OfficialSchema(*key)
        for section in SECTIONS + ("check_suite",):
            if isinstance(example.get(section), dict):
                problems += compare_keys(
                    example[section],
                    ours.get(section, {}),
                    f"{key}.{section} vs {name}",
                    nullable=schema.nullable(section),
                    section=section,
                )
    assert not problems, "\n".join(problems)


async def test_payloads_validate_against_githubs_official_webhook_schemas(emitted):
    folder = shared_github() / "webhook-schemas"
    failures = []
    for (event, action), payloads in sorted(emitted.items(), key=str):
        doc = json.loads((folder / f"openapi-webhooks.{event}.schema.json").read_text())
        name = doc["x-actions"][(action or "none").replace("_", "-")]
        schema = {"$defs": doc["$defs"], "$ref": f"#/$defs/{name}"}
        validator = jsonschema.Draft202012Validator(schema)
        for e in sorted(validator.iter_errors(payloads[-1]), key=lambda e: list(e.absolute_path))[:5]:
            failures.append(f"{event}.{action}: {'/'.join(map(str, e.absolute_path))}: {e.message[:160]}")
    assert not failures, "\n".join(failures)
