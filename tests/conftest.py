"""Fixtures for the whole suite: the real servers of tests/servers (started once per session).

Tests that read the real-device corpus (marked ``corpus``, or using ``snmpsim_server``) stop
the session at collection with one line when it is missing (see
:mod:`tests.servers.corpus_location`); the others run without it.
"""

from __future__ import annotations

import pytest

from tests.servers.corpus_location import missing_corpus

pytest_plugins = ["tests.servers.fixtures"]


def _needs_corpus(item: pytest.Item) -> bool:
    fixtures = getattr(item, "fixturenames", ())
    return item.get_closest_marker("corpus") is not None or "snmpsim_server" in fixtures


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse the session in one line when a selected test needs the missing corpus."""
    if any(_needs_corpus(item) for item in items):
        message = missing_corpus()
        if message is not None:
            raise pytest.UsageError(message)
