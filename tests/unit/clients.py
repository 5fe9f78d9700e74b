"""Typing for aiohttp's pytest client factory."""

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

ClientFactory = Callable[..., Awaitable[TestClient[Any, web.Application]]]
