"""The status page at `/`: what an operator sees, and who may see it."""

from __future__ import annotations

import re
import time

import aiohttp

from bot.storage import fabrics, operations
from bot.web import status_page
from tests.operator.helpers import TOKEN, running_bot

SHA = "0123456789abcdef0123456789abcdef01234567"


async def seed(pool) -> dict:
    """A fabric with resources in several states, a running and a finished sync, an open
    conflict on a bot PR and one drifted switch."""
    lab = await fabrics.create(pool, name="lab-east", repository="acme/wiring", directory="fabrics/east", branch="main")
    await fabrics.set_ingested(pool, lab.id, SHA)
    other = await fabrics.create(
        pool, name="lab-west", repository="acme/wiring", directory="fabrics/west", branch="prod"
    )
    await fabrics.set_connection(pool, other.id, "disconnected", "the app lost access to <acme/wiring>")
    pr_id = await pool.fetchval(
        "INSERT INTO pull_request (fabric_id, number, branch, state, html_url) VALUES "
        "($1, 42, 'hnp-sync/lab-east/abc', 'open', 'https://github.example/acme/wiring/pull/42') RETURNING id",
        lab.id,
    )
    for i in range(5):
        await pool.execute(
            "INSERT INTO resource (fabric_id, kind, name, desired_spec, desired_sha) "
            "VALUES ($1, 'Server', $2, '{}', $3)",
            lab.id,
            f"server-{i}",
            SHA,
        )
    await pool.execute(
        "INSERT INTO resource (fabric_id, kind, name, desired_spec, desired_sha, actual_spec, "
        "actual_reported_at, state) VALUES ($1, 'Switch', 'leaf-01', '{\"asn\": 65101}', $2, "
        "'{\"asn\": 65199}', now(), 'drifted')",
        lab.id,
        SHA,
    )
    vpc = await pool.fetchval(
        "INSERT INTO resource (fabric_id, kind, name, desired_spec, desired_sha, draft_spec, drafted_at, state, "
        "pull_request_id) VALUES ($1, 'VPC', 'vpc-blue', '{}', $2, '{\"v\": 1}', now(), 'conflict', $3) "
        "RETURNING id",
        lab.id,
        SHA,
        pr_id,
    )
    await pool.execute(
        "INSERT INTO conflict (fabric_id, resource_id, pull_request_id, type, severity, field_path, base_value, "
        "gui_value, git_value, message) VALUES ($1, $2, $3, 'concurrent_modification', 'high', "
        "'spec.subnets.default.vlan', '1000', '1001', '\"<script>alert(1)</script>\"', 'both changed the VLAN')",
        lab.id,
        vpc,
        pr_id,
    )
    done = await operations.create(pool, fabric_id=lab.id, direction="gui_to_github")
    await operations.finish(
        pool,
        done.id,
        "completed",
        {
            "success": True,
            "statistics": {"resources_created": 2, "resources_updated": 1},
            "github_integration": {"api_calls_made": 6, "pull_request_url": "javascript:alert(1)"},
        },
    )
    running = await operations.create(pool, fabric_id=lab.id, direction="bidirectional")
    await operations.set_status(pool, running.id, "gui_to_github_sync")
    await operations.set_progress(pool, running.id, 3, 12)
    return {"lab": lab, "running": running, "done": done}


async def get(url: str, **kwargs):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(url, allow_redirects=False, **kwargs) as response:
            return response.status, response.headers, await response.text()


async def test_the_page_shows_fabrics_states_operations_conflicts_with_pr_links_and_drift(pool):
    await seed(pool)
    async with running_bot(pool) as bot:
        status, headers, page = await get(f"{bot.url}/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "lab-east" in page and "lab-west" in page
    assert "acme/wiring" in page and "0123456789" in page  # repository and last ingested commit
    assert "in_sync 5" in page and "conflict 1" in page and "drifted 1" in page
    assert 'href="https://github.example/acme/wiring/pull/42"' in page  # the conflict's PR
    assert "spec.subnets.default.vlan" in page and "concurrent_modification" in page
    assert "gui_to_github_sync" in page and 'value="3"' in page and "3/12" in page  # active, with progress
    assert "created 2, updated 1" in page  # the finished sync's result
    assert re.search(r'data-metric="drifted resources"><b>1</b>', page)
    assert re.search(r'data-metric="open conflicts"><b>1</b>', page)
    assert "leaf-01" in page  # the drifted switch
    assert "6 resource(s) have no reported actual state" in page  # the servers and the VPC: unknown
    assert "disconnected" in page


async def test_drift_is_not_called_agreement_when_nothing_was_reported(pool):
    lab = await fabrics.create(pool, name="lab", repository="acme/wiring", directory="", branch="main")
    await pool.execute(
        "INSERT INTO resource (fabric_id, kind, name, desired_spec, desired_sha) VALUES ($1, 'Server', 's1', '{}', $2)",
        lab.id,
        SHA,
    )
    async with running_bot(pool) as bot:
        _, _, page = await get(f"{bot.url}/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert "agree with the desired state" not in page
    assert "1 resource(s) have no reported actual state" in page


async def test_user_data_is_escaped_and_only_http_links_are_made(pool):
    await seed(pool)
    async with running_bot(pool) as bot:
        _, headers, page = await get(f"{bot.url}/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the Git value, escaped
    assert "&lt;acme/wiring&gt;" in page  # the status detail, escaped
    assert "javascript:" not in page  # a result's odd URL is not made a link
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"


async def test_without_credentials_the_page_sends_you_to_login_and_a_wrong_token_gets_401(pool):
    async with running_bot(pool) as bot:
        status, headers, _ = await get(f"{bot.url}/")
        assert status == 303 and headers["Location"] == "/login"
        status, _, page = await get(f"{bot.url}/", headers={"Authorization": "Bearer wrong-token"})
        assert status == 401 and "lab-east" not in page
        status, _, _ = await get(f"{bot.url}/?token={TOKEN}")  # never a token in the URL
        assert status == 303
        status, _, form = await get(f"{bot.url}/login")
        assert status == 200 and 'type="password"' in form and 'method="post"' in form


async def test_login_sets_an_httponly_samesite_strict_cookie_that_holds_no_token(pool):
    await seed(pool)
    async with running_bot(pool) as bot:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.post(f"{bot.url}/login", data={"token": "not-it"}, allow_redirects=False) as r:
                assert r.status == 401 and "not right" in await r.text()
                assert "Set-Cookie" not in r.headers
            async with session.post(f"{bot.url}/login", data={"token": TOKEN}, allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"] == "/"
                cookie = r.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
            assert TOKEN not in cookie
            async with session.get(f"{bot.url}/", allow_redirects=False) as r:
                assert r.status == 200 and "lab-east" in await r.text()
            async with session.post(f"{bot.url}/logout", allow_redirects=False) as r:
                assert r.status == 303
            async with session.get(f"{bot.url}/", allow_redirects=False) as r:
                assert r.status == 303


async def test_a_forged_expired_or_other_token_session_cookie_is_refused(pool):
    forged = f"{int(time.time()) + 3600}.{'0' * 64}"
    expired = status_page.session_cookie(TOKEN, now=time.time() - status_page.SESSION_SECONDS - 10)
    rotated = status_page.session_cookie("the-previous-token-value")
    assert status_page.valid_session(TOKEN, status_page.session_cookie(TOKEN))
    async with running_bot(pool) as bot:
        for cookie in (forged, expired, rotated, "garbage"):
            status, headers, _ = await get(f"{bot.url}/", headers={"Cookie": f"{status_page.COOKIE}={cookie}"})
            assert status == 303 and headers["Location"] == "/login", cookie


async def test_a_session_from_one_serve_process_works_on_another(pool):
    """Several `serve` processes share no memory: the cookie must be checkable by each."""
    async with running_bot(pool) as first, running_bot(pool) as second:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{first.url}/login", data={"token": TOKEN}, allow_redirects=False) as r:
                cookie = r.cookies[status_page.COOKIE].value
        status, _, _ = await get(f"{second.url}/", headers={"Cookie": f"{status_page.COOKIE}={cookie}"})
    assert status == 200


async def test_each_fabric_shows_its_latest_validate_result_linked_to_the_check_run(pool):
    ids = await seed(pool)
    run_url = "https://github.example/acme/wiring/runs/400001"
    await fabrics.set_validated(pool, ids["lab"].id, SHA, "failure", 2, run_url)
    async with running_bot(pool) as bot:
        _, _, page = await get(f"{bot.url}/", headers={"Authorization": f"Bearer {TOKEN}"})
    row = page[page.index('data-fabric="lab-east"') :]
    row = row[: row.index("</tr>")]
    assert f'href="{run_url}"' in row and 'data-failures="2"' in row and "2 invalid documents" in row
    other = page[page.index('data-fabric="lab-west"') :]
    assert "not yet" in other[: other.index("</tr>")]


async def test_a_resource_page_shows_state_specs_diffs_file_line_pr_and_conflicts(pool):
    ids = await seed(pool)
    lab = ids["lab"]
    await pool.execute(
        'UPDATE resource SET desired_spec = \'{"subnets": {"default": {"vlan": 1000}}}\', '
        'draft_spec = \'{"subnets": {"default": {"vlan": 1001}}}\', file_path = \'fabrics/east/vpcs.yaml\', '
        "document_index = 1 WHERE fabric_id = $1 AND name = 'vpc-blue'",
        lab.id,
    )
    await pool.execute(
        "INSERT INTO fabric_file (fabric_id, path, blob_sha, documents, document_count) VALUES "
        '($1, \'fabrics/east/vpcs.yaml\', $2, \'[[0, 1, "VPC", "default", "vpc-red", true], '
        '[1, 14, "VPC", "default", "vpc-blue", true]]\', 2)',
        lab.id,
        SHA,
    )
    async with running_bot(pool, github_api_url="https://github.example/api/v3") as bot:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        _, _, overview = await get(f"{bot.url}/", headers=auth)
        assert 'href="/fabrics/lab-east/resources/VPC/vpc-blue"' in overview  # from the conflicts table
        assert 'href="/fabrics/lab-east/resources/Switch/leaf-01"' in overview  # from the drift table
        status, _, page = await get(f"{bot.url}/fabrics/lab-east/resources/VPC/vpc-blue", headers=auth)
        assert status == 200
        assert '<span class="state state-conflict" id="state">conflict</span>' in page
        # The file at the commit it was read from, at the document's line, on GitHub Enterprise's pages.
        assert f'href="https://github.example/acme/wiring/blob/{SHA}/fabrics/east/vpcs.yaml#L14"' in page
        assert "fabrics/east/vpcs.yaml:14" in page
        assert '<span class="del">-    vlan: 1000</span>' in page and '<span class="add">+    vlan: 1001</span>' in page
        assert 'href="https://github.example/acme/wiring/pull/42"' in page
        assert "spec.subnets.default.vlan" in page and "&lt;script&gt;" in page and "<script>" not in page
        _, _, drifted = await get(f"{bot.url}/fabrics/lab-east/resources/Switch/leaf-01", headers=auth)
        assert '<span class="del">-asn: 65101</span>' in drifted and '<span class="add">+asn: 65199</span>' in drifted
        status, _, _ = await get(f"{bot.url}/fabrics/lab-east/resources/VPC/nope", headers=auth)
        assert status == 404
        status, headers, _ = await get(f"{bot.url}/fabrics/lab-east/resources/VPC/vpc-blue")
        assert status == 303 and headers["Location"] == "/login"
