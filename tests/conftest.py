"""Fixtures for the whole suite: the real servers of tests/servers (started once per session).

Tests that read the real-device corpus (marked ``corpus``, or using ``snmpsim_server``) stop
the session at collection with one line when it is missing (see
:mod:`tests.servers.corpus_location`); the others run without it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

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


@pytest.fixture(autouse=True)
def _root_logger_restored() -> Iterator[None]:
    """Undo what a test's in-process `cli.main` does to the root logger.

    `setup_logging` binds a handler to the sys.stderr of the moment, which under pytest is the
    capture of that one test: later tests would log into a closed file.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
