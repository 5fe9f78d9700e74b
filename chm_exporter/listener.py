"""Serving the application with a bound on open connections, as Go's LimitListener.

asyncio accepts every connection the kernel has queued and aiohttp keeps each until it is
answered, so a burst of 1,000 scrapes under a 1,024 open-files limit used to take every
descriptor: the probes then could not open sockets, and accept() failed ("out of system
resource"), after which asyncio stops accepting for a whole second. Here the site accepts on a
loop of its own and stops while `max_connections` are open: the others wait in the kernel's
queue (`backlog`, 4,096), which costs no descriptor, and are accepted as soon as one closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import ssl
from collections.abc import Callable
from functools import partial

from aiohttp import web
from aiohttp.web_runner import BaseSite

BACKLOG = 4096
_POLL_SECONDS = 0.002
_ACCEPT_BATCH = 64
_HEAD_LIMIT = 16384
_BUSY_TEXT = b"too many probes in flight (--probe.max-in-flight); retry later\n"
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s"
    % (len(_BUSY_TEXT), _BUSY_TEXT)
)


class _Triage(asyncio.Protocol):
    """A connection accepted while the probes are at their cap: a probe request is answered
    503 here, at a tenth of what aiohttp's handling costs (under a burst of scrapes that CPU is
    what the running probes need for their deadlines); any other request goes on to aiohttp."""

    def __init__(self, server: web.Server, refused: Callable[[], None]) -> None:
        self._server = server
        self._refused = refused
        self._transport: asyncio.Transport | None = None
        self._head = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        if transport is None:
            return
        self._head += data
        if b"\r\n\r\n" not in self._head and len(self._head) < _HEAD_LIMIT:
            return
        if self._head.startswith((b"GET /probe?", b"GET /probe ")):
            self._refused()
            transport.write(_BUSY)
            transport.close()
        else:
            handler = self._server()
            transport.set_protocol(handler)
            handler.connection_made(transport)
            handler.data_received(self._head)
        self._transport = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


class LimitedSite(BaseSite):
    """A TCP site that holds at most `max_connections` connections open."""

    __slots__ = (
        "_accepting",
        "_host",
        "_max",
        "_open",
        "_overloaded",
        "_port",
        "_refused",
        "_reuse_port",
    )

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str | None,
        port: int,
        max_connections: int,
        ssl_context: ssl.SSLContext | None = None,
        overloaded: Callable[[], bool] = lambda: False,
        refused: Callable[[], None] = lambda: None,
        reuse_port: bool = False,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=BACKLOG)
        self._reuse_port = reuse_port  # worker processes share the port (--web.workers)
        self._overloaded = overloaded
        self._refused = refused
        self._host = host
        self._port = port
        self._max = max_connections
        self._accepting: asyncio.Task[None] | None = None
        self._open = 0

    @property
    def name(self) -> str:
        """The site's URL."""
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{self._host or '0.0.0.0'}:{self._port}"

    async def start(self) -> None:
        """Listen, and accept on a loop that waits while the bound is reached."""
        await super().start()
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if self._host and ":" in self._host else socket.AF_INET
        if self._host is None and socket.has_dualstack_ipv6():
            family = socket.AF_INET6
        sock = socket.create_server(
            (self._host or "", self._port),
            family=family,
            backlog=self._backlog,
            reuse_port=self._reuse_port,
            dualstack_ipv6=self._host is None and family == socket.AF_INET6,
        )
        sock.setblocking(False)
        # an asyncio Server that does not accept itself: aiohttp closes it on stop
        self._server = await loop.create_server(server, sock=sock, start_serving=False)
        self._accepting = loop.create_task(self._accept(sock, server))

    async def stop(self) -> None:
        """Stop accepting, then as aiohttp's sites."""
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
        await super().stop()

    async def _accept(self, sock: socket.socket, server: web.Server) -> None:
        loop = asyncio.get_running_loop()
        while True:
            # aiohttp signals no closed connection: a look every 2 ms while at the bound
            while (room := self._max - len(server.connections) - self._open) <= 0:  # noqa: ASYNC110
                await asyncio.sleep(_POLL_SECONDS)
            try:
                accepted = [await loop.sock_accept(sock)]
            except OSError:  # EMFILE despite the bound (another part of the process)
                await asyncio.sleep(0.05)
                continue
            while len(accepted) < min(room, _ACCEPT_BATCH):  # what else is queued, at once
                try:
                    accepted.append(sock.accept())
                except OSError:  # BlockingIOError: none left
                    break
            for conn, _ in accepted:
                conn.setblocking(False)
                self._open += 1  # until aiohttp's handler counts it (after a TLS handshake)
                task = loop.create_task(self._hand_over(conn, server))
                task.add_done_callback(self._handed)

    async def _hand_over(self, conn: socket.socket, server: web.Server) -> None:
        loop = asyncio.get_running_loop()
        factory: Callable[[], asyncio.BaseProtocol] = server
        if self._overloaded():
            factory = partial(_Triage, server, self._refused)
        try:
            await loop.connect_accepted_socket(factory, conn, ssl=self._ssl_context)
        except (OSError, ssl.SSLError):
            conn.close()

    def _handed(self, _: object) -> None:
        self._open -= 1


def serve(
    app: web.Application,
    host: str | None,
    port: int,
    *,
    max_connections: int,
    overloaded: Callable[[], bool],
    refused: Callable[[], None],
    ssl_context: ssl.SSLContext | None,
    keepalive_timeout: float,
    shutdown_timeout: float = 5.0,
    reuse_port: bool = False,
) -> None:
    """Run `app` until SIGINT or SIGTERM (as :func:`aiohttp.web.run_app`, with the bound)."""

    async def run() -> None:
        runner = web.AppRunner(
            app,
            access_log=None,
            keepalive_timeout=keepalive_timeout,
            shutdown_timeout=shutdown_timeout,
            handle_signals=False,
        )
        await runner.setup()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            site = LimitedSite(
                runner, host, port, max_connections, ssl_context, overloaded, refused, reuse_port
            )
            await site.start()
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
