"""Fixtures for the whole suite: the real servers of tests/servers (started once per session)."""

pytest_plugins = ["tests.servers.fixtures"]
