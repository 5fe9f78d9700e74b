"""Talking to an exporter run as a process: one GET (or POST) on a fresh connection, and
polling a condition until a deadline."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable


def http_get(url: str, data: bytes | None = None) -> tuple[int, str]:
    """(status, body) of a GET, or of a POST when ``data`` is given; HTTP errors included."""
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:  # it holds the connection: closed here, not whenever it is collected
            return exc.code, exc.read().decode()


def until(check: Callable[[], object], limit: float = 10) -> None:
    """Poll ``check`` (connection errors count as not yet) until truthy; fail after ``limit``."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("condition not met in time")
