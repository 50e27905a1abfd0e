"""github.com's pages in the emulator, as a signed-in person uses them: a pull request with its
commits, checks (Markdown summary, annotations at their lines, buttons), diff, comments and merge
button; a check run; a file at a ref; a commit. Buttons send what GitHub's buttons send."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from conftest import wait_for
from test_pulls_and_checks import branch_with_change

from ghsim.web import DiffLine, diff_lines, place_annotations, render_markdown

CSRF = re.compile(r'name="authenticity_token" value="([0-9a-f]+)"')


class Person:
    """A browser-like session: a cookie jar that accepts the loopback address's cookies."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base

    async def get(self, path: str) -> tuple[int, str, aiohttp.typedefs.LooseHeaders]:
        async with self.session.get(self.base + path, allow_redirects=False) as response:
            return response.status, await response.text(), response.headers

    async def post(self, path: str, form: dict) -> tuple[int, str, aiohttp.typedefs.LooseHeaders]:
        async with self.session.post(self.base + path, data=form, allow_redirects=False) as response:
            return response.status, await response.text(), response.headers

    async def sign_in(self, token: str) -> None:
        status, _, headers = await self.post("/login", {"token": token, "return_to": "/"})
        assert status == 302 and headers["Location"] == "/"


@pytest.fixture
async def person(world):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield Person(session, world.sim.base_url)


async def pull_with_a_failing_check(world) -> tuple[dict, dict, str]:
    api, r = world.api, world.r
    head = await branch_with_change(world, "vlan-11", "fabric/vlans/vlan-10.yaml", "kind: VLAN\nvlan: 11\n")
    status, pr, _ = await api.post(
        f"{r}/pulls",
        {"title": "VLAN 11", "head": "vlan-11", "base": "main", "body": "Moves to **VLAN 11**.\n\n<!-- hidden -->"},
    )
    assert status == 201
    status, run, _ = await api.post(
        f"{r}/check-runs",
        {
            "name": "hnp-gitops/conflicts",
            "head_sha": head,
            "conclusion": "action_required",
            "output": {
                "title": "1 conflict",
                "summary": "| resource | field |\n|---|---|\n| VLAN/vlan-10 | `vlan` |\n",
                "annotations": [
                    {
                        "path": "fabric/vlans/vlan-10.yaml",
                        "start_line": 2,
                        "end_line": 2,
                        "annotation_level": "failure",
                        "title": "Conflict on vlan",
                        "message": "the GUI says 12 <b>here</b>",
                    },
                    {
                        "path": "fabric/vlans/vlan-10.yaml",
                        "start_line": 1,
                        "end_line": 1,
                        "annotation_level": "notice",
                        "message": "kind line",
                    },
                ],
            },
            "actions": [
                {"label": "GUI wins", "description": "Keep the GUI's values", "identifier": "gui_wins"},
                {"label": "Git wins", "description": "Keep Git's values", "identifier": "github_wins"},
            ],
        },
    )
    assert status == 201, run
    return pr, run, head


async def test_a_page_asks_a_person_to_sign_in_first_and_a_wrong_token_is_refused(world, person):
    status, _, headers = await person.get("/acme/fabric/pull/1")
    sent_to = urlsplit(headers["Location"])
    assert (
        status == 302 and sent_to.path == "/login" and parse_qs(sent_to.query) == {"return_to": ["/acme/fabric/pull/1"]}
    )
    status, page, _ = await person.post("/login", {"token": world.token, "return_to": "/"})  # an app token
    assert status == 401 and "That token is not right." in page
    status, _, headers = await person.post("/login", {"token": world.writer_token, "return_to": "//evil.example/"})
    assert status == 302 and headers["Location"] == "/"


async def test_the_pull_request_page_shows_description_commits_checks_annotations_diff_and_comments(world, person):
    pr, run, head = await pull_with_a_failing_check(world)
    await world.sim.comment_on_pull(
        "acme", "fabric", pr["number"], "alice", "<!-- marker -->\nLooks *fine* <script>x</script>"
    )
    await person.sign_in(world.writer_token)
    status, page, _ = await person.get(f"/acme/fabric/pull/{pr['number']}")
    assert status == 200
    assert "Moves to <strong>VLAN 11</strong>." in page and "hidden" not in page.split('id="description"')[1][:400]
    assert f"{head[:7]}</code></a> vlan-11: fabric/vlans/vlan-10.yaml" in page
    assert 'data-name="hnp-gitops/conflicts"' in page and 'data-conclusion="action_required"' in page
    assert "<td>VLAN/vlan-10</td>" in page and "<code>vlan</code>" in page  # the summary's table, rendered
    # The failure annotation sits under the diff's line 2 (vlan: 11); the escaped message, no raw HTML.
    row = page.index('data-new-line="2"')
    annotation = page.index('data-path="fabric/vlans/vlan-10.yaml" data-line="2"')
    assert row < annotation < page.index('data-new-line="3"') if 'data-new-line="3"' in page else row < annotation
    assert "the GUI says 12 &lt;b&gt;here&lt;/b&gt;" in page
    assert 'data-identifier="gui_wins"' in page and 'data-identifier="github_wins"' in page
    assert "Looks <em>fine</em> &lt;script&gt;x&lt;/script&gt;" in page and "marker" not in page
    assert 'id="merge-button"' in page and "This branch has no conflicts" in page


async def test_pressing_a_button_sends_the_requested_action_webhook_github_sends(world, person):
    pr, run, _ = await pull_with_a_failing_check(world)
    await person.sign_in(world.writer_token)
    _, page, _ = await person.get(f"/acme/fabric/pull/{pr['number']}")
    token = CSRF.search(page).group(1)
    path = f"/acme/fabric/runs/{run['id']}/actions"
    status, _, _ = await person.post(path, {"identifier": "gui_wins"})  # no form token: another site's form
    assert status == 403
    status, _, headers = await person.post(
        path, {"identifier": "gui_wins", "authenticity_token": token, "return_to": f"/acme/fabric/pull/{pr['number']}"}
    )
    assert status == 303 and headers["Location"] == f"/acme/fabric/pull/{pr['number']}"
    pressed = await wait_for(lambda: world.receiver.events("check_run", "requested_action"))
    assert pressed[0]["requested_action"] == {"identifier": "gui_wins"}
    assert pressed[0]["sender"]["login"] == "alice" and pressed[0]["check_run"]["id"] == run["id"]
    assert pressed[0]["installation"]["id"] == world.installation_id
    status, _, _ = await person.post(path, {"identifier": "nope", "authenticity_token": token})
    assert status == 422


async def test_merging_from_the_page_sends_push_and_closed_and_the_page_says_merged(world, person):
    pr, _, head = await pull_with_a_failing_check(world)
    await person.sign_in(world.writer_token)
    _, page, _ = await person.get(f"/acme/fabric/pull/{pr['number']}")
    token = CSRF.search(page).group(1)
    status, _, headers = await person.post(
        f"/acme/fabric/pull/{pr['number']}/merge", {"authenticity_token": token, "sha": head, "merge_method": "merge"}
    )
    assert status == 303
    closed = await wait_for(lambda: world.receiver.events("pull_request", "closed"))
    assert closed[0]["pull_request"]["merged"] is True and closed[0]["sender"]["login"] == "alice"
    pushes = [p for p in world.receiver.events("push") if p["ref"] == "refs/heads/main"]
    assert pushes and pushes[-1]["after"] == closed[0]["pull_request"]["merge_commit_sha"]
    _, page, _ = await person.get(headers["Location"])
    assert 'id="pull-state">Merged' in page and 'id="merge-button"' not in page


async def test_a_moved_head_or_a_reader_cannot_merge(world, person):
    pr, _, head = await pull_with_a_failing_check(world)
    await person.sign_in(world.reader_token)
    _, page, _ = await person.get(f"/acme/fabric/pull/{pr['number']}")
    assert re.search(r'id="merge-button" disabled', page) and "You need write access to merge." in page
    token = CSRF.search(page).group(1)
    status, _, _ = await person.post(f"/acme/fabric/pull/{pr['number']}/merge", {"authenticity_token": token})
    assert status == 403
    writer_session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with writer_session:
        writer = Person(writer_session, world.sim.base_url)
        await writer.sign_in(world.writer_token)
        _, page, _ = await writer.get(f"/acme/fabric/pull/{pr['number']}")
        token = CSRF.search(page).group(1)
        status, page, _ = await writer.post(
            f"/acme/fabric/pull/{pr['number']}/merge", {"authenticity_token": token, "sha": "0" * 40}
        )
    assert status == 409 and "Head branch was modified. Review and try the merge again." in page


async def test_file_check_run_and_commit_pages(world, person):
    pr, run, head = await pull_with_a_failing_check(world)
    await person.sign_in(world.writer_token)
    status, page, _ = await person.get("/acme/fabric/blob/vlan-11/fabric/vlans/vlan-10.yaml")
    assert status == 200 and '<tr id="L2"><td class="num"><a href="#L2">2</a></td><td>vlan: 11</td></tr>' in page
    status, page, _ = await person.get("/acme/fabric/tree/main/fabric")
    assert status == 200 and 'href="/acme/fabric/tree/main/fabric/vlans"' in page
    status, page, _ = await person.get(f"/acme/fabric/runs/{run['id']}")
    assert status == 200 and "Conflict on vlan" in page and f'href="/acme/fabric/pull/{pr["number"]}"' in page
    status, page, _ = await person.get(f"/acme/fabric/commit/{head}")
    assert status == 200 and "vlan-11: fabric/vlans/vlan-10.yaml" in page and 'class="add"' in page
    status, _, _ = await person.get("/acme/fabric/pull/99")
    assert status == 404
    status, _, _ = await person.get("/acme/fabric/blob/no-such-ref/x")
    assert status == 404


async def test_the_html_urls_the_api_returns_are_pages(world, person):
    pr, run, head = await pull_with_a_failing_check(world)
    await person.sign_in(world.writer_token)
    _, files, _ = await world.api.get(f"{world.r}/pulls/{pr['number']}/files")
    _, annotations, _ = await world.api.get(f"{world.r}/check-runs/{run['id']}/annotations")
    _, commit, _ = await world.api.get(f"{world.r}/commits/{head}")
    for url in (pr["html_url"], run["html_url"], files[0]["blob_url"], annotations[0]["blob_href"], commit["html_url"]):
        status, page, _ = await person.get(url.removeprefix(world.sim.base_url))
        assert status == 200 and "<!doctype html>" in page, url


def test_diff_rows_carry_old_and_new_line_numbers_and_annotations_find_their_line():
    rows = diff_lines("@@ -1,3 +1,3 @@\n kind: VLAN\n-vlan: 10\n+vlan: 11\n name: x\n\\ No newline at end of file")
    assert [(r.kind, r.old, r.new) for r in rows] == [
        ("hunk", None, None),
        ("context", 1, 1),
        ("del", 2, None),
        ("add", None, 2),
        ("context", 3, 3),
    ]
    left = place_annotations(rows, [{"start_line": 2, "end_line": 2}, {"start_line": 9, "end_line": 9}])
    assert rows[3].annotations == [{"start_line": 2, "end_line": 2}] and left == [{"start_line": 9, "end_line": 9}]
    assert isinstance(rows[0], DiffLine)


def test_markdown_is_rendered_without_raw_html_and_without_html_comments():
    html = render_markdown("<!-- hnp-gitops -->\n| a |\n|---|\n| <img src=x onerror=alert(1)> |\n\n~~old~~")
    assert "<table>" in html and "<s>old</s>" in html
    assert "<img" not in html and "&lt;img" in html and "hnp-gitops" not in html


async def test_the_home_page_lists_the_repositories_a_person_sees_with_their_open_pull_requests(world, person):
    pr, _, _ = await pull_with_a_failing_check(world)
    status, _, headers = await person.get("/")
    assert status == 302 and headers["Location"].startswith("/login")
    await person.sign_in(world.reader_token)
    status, page, _ = await person.get("/")
    assert status == 200 and 'data-repository="acme/fabric"' in page
    assert f'href="/acme/fabric/pull/{pr["number"]}">#{pr["number"]} VLAN 11</a>' in page
