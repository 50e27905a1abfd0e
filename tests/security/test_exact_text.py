"""Text a client sends through the HNP API comes back exactly: what the bot commits reads
back as the same string, so its own next ingest agrees with what it published; text that
cannot be written into a file is refused at the door, with the field path."""

from __future__ import annotations

import pytest
import yaml

from tests.reliability.system import DIRECTORY, FABRIC, System, vpc_spec

# A line break to YAML 1.1 (NEL, U+2028/U+2029) folded into a space inside quotes, a BOM, C0
# and C1 controls, and text that looks like YAML structure.
AWKWARD = "a\x85b \u2028c\u2029 \ufeffd\x07\x9f\t--- # : x\r\n"
SPEC = dict(vpc_spec(1001, 1), ipv4Namespace=AWKWARD, vlanNamespace=" lead and trail ")
DRAFT = f"/api/fabrics/{FABRIC}/resources/VPC/vpc-1/draft"


@pytest.mark.scenario(
    "bad input",
    "a draft whose strings hold NEL, U+2028/U+2029, a BOM, C0/C1 controls, CRLF, `---`, ` # `, "
    "`: ` and leading/trailing spaces, published straight to the branch",
    "the committed file reads back to exactly those strings; the bot's own ingest of its "
    "commit leaves the resource synced (not conflict)",
)
async def test_awkward_text_in_a_draft_is_committed_exactly_and_the_bot_agrees_with_itself(system: System) -> None:
    status, body = await system.call("PUT", DRAFT, {"spec": SPEC, "annotations": {"note\x85": AWKWARD}})
    assert status == 200, body
    done = await system.sync(direction="gui_to_github", create_pr=False)
    assert done["status"] == "completed", done
    head = await system.head()
    await system.ingested(head)
    await system.idle()

    clone = await system.clone()
    text = (clone / DIRECTORY / "vpcs.yaml").read_text(encoding="utf-8")
    first = next(yaml.safe_load_all(text))
    assert first["spec"] == SPEC
    assert first["metadata"]["annotations"] == {"note\x85": AWKWARD}
    row = await system.pool.fetchrow(
        "SELECT r.state, r.desired_spec, r.draft_spec FROM resource r JOIN fabric f ON f.id = r.fabric_id "
        "WHERE f.name = $1 AND r.kind = 'VPC' AND r.name = 'vpc-1'",
        FABRIC,
    )
    assert row["state"] == "in_sync", dict(row)
    assert row["draft_spec"] is None
    assert row["desired_spec"] == SPEC


@pytest.mark.scenario(
    "bad input",
    "JSON strings and keys holding a lone surrogate (`\\ud800`), which no UTF-8 file can hold: "
    "a draft's spec value, a spec key, a label",
    "422 naming the field path; nothing stored, nothing written to GitHub",
)
async def test_a_lone_surrogate_is_refused_with_its_field_path(system: System) -> None:
    before = await system.state_snapshot()
    mark = await system.request_mark()
    bodies = {
        "spec.ipv4Namespace": {"spec": dict(vpc_spec(1001, 1), ipv4Namespace="a\ud800b")},
        'spec.subnets["x\\udfff"]': {"spec": {"subnets": {"x\udfff": {"subnet": "10.0.1.0/24", "vlan": 1001}}}},
        "labels.team": {"spec": vpc_spec(1001, 1), "labels": {"team": "\udc00"}},
    }
    for path, body in bodies.items():
        status, answer = await system.call("PUT", DRAFT, body)
        assert status == 422, (path, status, answer)
        [error] = answer["error"]["details"]["errors"]
        assert error["path"] == path, answer
        assert "surrogate" in error["message"], answer
    assert await system.state_snapshot() == before
    assert await system.bot_requests(mark) == []
