"""GitHub's addresses other than REST calls: the API's address for a GitHub (github.com or a
GitHub Enterprise Server) and the web pages the bot sends a person to."""

from __future__ import annotations

from urllib.parse import quote, urljoin, urlsplit

from bot.config import DEFAULT_API_URL, DEFAULT_WEB_URL


def api_url_for(github_url: str) -> str:
    """github.com's API is api.github.com; a GitHub Enterprise Server's is {url}/api/v3."""
    github_url = github_url.rstrip("/")
    if urlsplit(github_url).netloc == urlsplit(DEFAULT_WEB_URL).netloc:
        return DEFAULT_API_URL
    return f"{github_url}/api/v3"


def new_app_url(github_url: str, organization: str | None) -> str:
    """The "register a new GitHub App" page, for a person's account or an organisation."""
    base = github_url.rstrip("/")
    if organization:
        return f"{base}/organizations/{quote(organization, safe='')}/settings/apps/new"
    return f"{base}/settings/apps/new"


def install_app_url(app_html_url: str) -> str:
    """The page that installs an app (given by its `html_url`) on repositories."""
    return urljoin(f"{app_html_url}/", "installations/new")


def file_url(github_web_url: str, repository: str, sha: str, path: str, line: int | None = None) -> str:
    """A file's page at a commit, at one line if given."""
    anchor = f"#L{line}" if line else ""
    return f"{github_web_url}/{repository}/blob/{sha}/{quote(path)}{anchor}"
