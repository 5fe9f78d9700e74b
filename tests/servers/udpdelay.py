"""A UDP proxy on loopback that holds every reply a fixed time: agent latency for tests.

``tc netem`` is not available in these kernels and snmpsim's ``delay`` module blocks its
whole process, so latency in front of a real agent comes from this proxy. Each client address
gets its own upstream socket (connected to the agent), so replies find their way back;
requests are forwarded at once and each reply is sent back ``delay`` seconds after it arrived.

Async use, on the running loop (also :meth:`~UdpDelayProxy.listen` / :meth:`~UdpDelayProxy.close`)::

    async with UdpDelayProxy("127.0.0.1", agent.port, delay=0.05) as proxy:
        ...  # talk SNMP to 127.0.0.1:proxy.port

Sync use, the lifecycle of every test server (:mod:`tests.servers.lifecycle`; the proxy runs its
own event loop in a background thread; also :meth:`~UdpDelayProxy.start` / ``stop``)::

    with UdpDelayProxy("127.0.0.1", agent.port, delay=0.05) as proxy:
        snmpget("127.0.0.1", proxy.port, [...])

``drop_replies=True`` swallows every reply (a host whose agent never answers). Counters
``requests`` and ``replies`` count datagrams forwarded each way.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from types import TracebackType
from typing import cast

from tests.servers.lifecycle import Server

__all__ = ["UdpDelayProxy"]

Address = tuple[str, int]


class _Upstream(asyncio.DatagramProtocol):
    """The proxy's socket towards the agent, for one client address."""

    def __init__(self, proxy: UdpDelayProxy, client: Address) -> None:
        self._proxy = proxy
        self._client = client
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector datagram transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)
        for data in self.pending:
            self.transport.sendto(data)
        self.pending.clear()

    def send(self, data: bytes) -> None:
        """Forward a request now, or as soon as the socket exists."""
        if self.transport is None:
            self.pending.append(data)
        else:
            self.transport.sendto(data)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self._proxy.reply_later(data, self._client)

    def error_received(self, exc: Exception) -> None:
        """ICMP errors from the agent side (e.g. port unreachable) are ignored."""


class _Listener(asyncio.DatagramProtocol):
    """The proxy's listening socket; hands every request to the proxy."""

    def __init__(self, proxy: UdpDelayProxy) -> None:
        self._proxy = proxy

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self._proxy.forward(data, addr)

    def error_received(self, exc: Exception) -> None:
        """ICMP errors towards clients are ignored."""


class UdpDelayProxy(Server):
    """Forward UDP datagrams from ``listen_host:port`` to an upstream agent, delaying replies.

    ``port`` is the one clients talk to: ``listen_port``, else the kernel's pick, known once
    the proxy listens.
    """

    name = "UDP delay proxy"
    poll_interval = 0.01

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        delay: float,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        drop_replies: bool = False,
        start_timeout: float = 5.0,
    ) -> None:
        """Configure; nothing listens until started (``async with``, ``with`` or :meth:`start`)."""
        super().__init__(port=listen_port or None, start_timeout=start_timeout)
        self.upstream: Address = (upstream_host, upstream_port)
        self.delay = delay
        self.listen_host = listen_host
        self.drop_replies = drop_replies
        self.requests = 0
        self.replies = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.DatagramTransport | None = None
        self._upstreams: dict[Address, _Upstream] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread: threading.Thread | None = None
        self._listening = threading.Event()
        self._stop_event: asyncio.Event | None = None
        self._thread_error: BaseException | None = None

    # -- datagram handling (event-loop thread) -------------------------------------------------
    def forward(self, data: bytes, client: Address) -> None:
        """Send a client's request upstream through that client's own upstream socket."""
        self.requests += 1
        upstream = self._upstreams.get(client)
        if upstream is None:
            upstream = self._open_upstream(client)
        upstream.send(data)

    def _open_upstream(self, client: Address) -> _Upstream:
        """Create the upstream socket for ``client`` (asynchronously; requests queue meanwhile)."""
        assert self._loop is not None
        upstream = _Upstream(self, client)
        self._upstreams[client] = upstream
        family = socket.AF_INET6 if ":" in self.upstream[0] else socket.AF_INET
        task = self._loop.create_task(self._connect(upstream, family))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return upstream

    async def _connect(self, upstream: _Upstream, family: socket.AddressFamily) -> None:
        """Open a datagram endpoint connected to the agent."""
        assert self._loop is not None
        await self._loop.create_datagram_endpoint(
            lambda: upstream, remote_addr=self.upstream, family=family
        )

    def reply_later(self, data: bytes, client: Address) -> None:
        """Schedule a reply to ``client`` after ``delay`` seconds (or drop it)."""
        if self.drop_replies:
            return
        assert self._loop is not None
        self._loop.call_later(self.delay, self._send_reply, data, client)

    def _send_reply(self, data: bytes, client: Address) -> None:
        """Send a held reply, if the proxy still runs."""
        if self._listener is not None and not self._listener.is_closing():
            self.replies += 1
            self._listener.sendto(data, client)

    # -- async lifecycle (on the running loop) --------------------------------------------------
    async def listen(self) -> UdpDelayProxy:
        """Bind the listening socket on the running loop."""
        self._loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.listen_host else socket.AF_INET
        transport, _ = await self._loop.create_datagram_endpoint(
            lambda: _Listener(self), local_addr=(self.listen_host, self.port), family=family
        )
        self._listener = transport
        self.port = transport.get_extra_info("sockname")[1]
        return self

    async def close(self) -> None:
        """Close every socket; held replies are dropped."""
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for upstream in self._upstreams.values():
            if upstream.transport is not None:
                upstream.transport.close()
        self._upstreams.clear()
        if self._listener is not None:
            self._listener.close()
        await asyncio.sleep(0)  # let the transports finish closing

    async def __aenter__(self) -> UdpDelayProxy:
        return await self.listen()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- sync lifecycle (tests.servers.lifecycle: its own loop on a background thread) ---------
    def _pick_port(self) -> int:
        return 0  # the kernel picks at bind: no race to lose

    def _launch(self) -> None:
        """Run the proxy on its own event loop in a daemon thread."""
        self._listening.clear()
        self._thread_error = None
        self._thread = threading.Thread(
            target=self._thread_main, name="udp-delay-proxy", daemon=True
        )
        self._thread.start()

    def answers(self) -> bool:
        """True once the proxy listens."""
        return self._listening.is_set() and self._thread_error is None

    def _ended(self) -> str | None:
        if self._thread_error is not None:
            return f"failed: {self._thread_error!r}"
        return None

    def _thread_main(self) -> None:
        """Thread body: listen, then serve until :meth:`_halt` sets the stop event."""
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the starting thread by _ended()
            self._thread_error = exc

    async def _serve(self) -> None:
        """Listen, signal, wait for the stop event, close."""
        self._stop_event = asyncio.Event()
        await self.listen()
        self._listening.set()
        try:
            await self._stop_event.wait()
        finally:
            await self.close()

    def _halt(self, timeout: float = 5.0) -> None:
        """Stop the thread's loop and join the thread."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop_event is not None and self._loop.is_running():
            with contextlib.suppress(RuntimeError):  # loop closed meanwhile
                self._loop.call_soon_threadsafe(self._stop_event.set)
        self._thread.join(timeout)
        self._thread = None
