"""Make the server fixtures available to these tests.

They are registered as a plugin only when nobody did already (a higher conftest may list
``tests.servers.fixtures`` in ``pytest_plugins``), so a session never starts them twice.
"""

from __future__ import annotations

import pytest

_PLUGIN = "tests.servers.fixtures"


def pytest_configure(config: pytest.Config) -> None:
    """Register :mod:`tests.servers.fixtures` unless it is registered already."""
    if not config.pluginmanager.has_plugin(_PLUGIN):
        config.pluginmanager.import_plugin(_PLUGIN)
