"""Fixtures of the security tests: the same running system as the reliability tests."""

from tests.reliability.conftest import system  # noqa: F401 - a fixture, found by pytest here too
