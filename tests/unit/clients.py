"""Typing for aiohttp's pytest client: the client a test gets and the fixture that makes it."""

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient

#: the client of the exporter's app (`aiohttp_client(create_app(...))`)
Client = TestClient[web.Request, web.Application]
#: the `aiohttp_client` fixture
ClientFactory = Callable[..., Awaitable[Client]]

__all__ = ["Client", "ClientFactory"]
