"""The GitHub gateway extends gidgethub only where gidgethub is designed to be extended."""

from __future__ import annotations

import gidgethub.abc
import pytest

from bot.github.client import Client

pytestmark = pytest.mark.fast


def test_the_client_is_a_gidgethub_api_implementing_only_its_abstract_seam() -> None:
    assert issubclass(Client, gidgethub.abc.GitHubAPI)
    overridden = {
        name for name in vars(Client) if name in vars(gidgethub.abc.GitHubAPI) and not name.startswith(("__", "_abc"))
    }
    assert overridden == {"_request", "sleep"}  # never _make_request or the verbs
