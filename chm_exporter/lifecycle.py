"""Who may reload the config over HTTP: as Prometheus, only with ``--web.enable-lifecycle``, and
never from a web page of another origin (a form on any site could otherwise post to an exporter
on the visitor's network). SIGHUP always reloads."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

_CROSS_SITE = ("cross-site", "same-site")


def reload_refusal(request: web.Request, enabled: bool) -> web.Response | None:
    """A 403 answer when this reload request is not allowed; None when it is."""
    if not enabled:
        return web.Response(
            status=403,
            text="lifecycle API not enabled: start with --web.enable-lifecycle, or send SIGHUP\n",
        )
    origin = request.headers.get("Origin")
    if request.headers.get("Sec-Fetch-Site") in _CROSS_SITE or (
        origin is not None and not _same_origin(origin, request)
    ):
        return web.Response(status=403, text="cross-origin reload refused\n")
    return None


def _same_origin(origin: str, request: web.Request) -> bool:
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and parts.netloc.lower() == request.host.lower()
