"""Fixtures of the reliability tests: a running system (tests/reliability/system.py). Each test
carries a `scenario` marker (registered in pyproject.toml), which scripts/reliability_report.py
turns into the README's Reliability table."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.reliability.system import System, running_system


@pytest.fixture
async def system(database_url: str, tmp_path: Path) -> AsyncIterator[System]:
    """ghsim + `serve` subprocess + fabric `lab`, ingested."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    async with running_system(database_url, tmp_path) as running:
        yield running
