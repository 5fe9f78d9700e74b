"""Name resolution with its own timeout and concurrency.

``getaddrinfo`` blocks a thread until the system's resolver gives up (resolv.conf's timeout
times attempts times servers: 10 s and more). asyncio runs it in the loop's default executor,
shared with everything else, so a DNS server that never answers used to occupy every thread:
a probe of ``localhost`` then missed its deadline and a reload took seconds. Here lookups run on
threads of their own (at most `max_concurrency`), each probe waits at most `timeout` (and never
past its deadline), and a lookup whose thread is still blocked keeps its slot until the thread
returns, so hung lookups can fill this pool but never more than it. Literal addresses need no
lookup at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from chm_exporter.errors import ResolveError
from chm_exporter.target import IpFamily, Target, ip_version, unprobeable

DEFAULT_TIMEOUT = 2.0
DEFAULT_MAX_CONCURRENCY = 16
GetAddrInfo = Callable[..., list[tuple[Any, ...]]]


@dataclass(frozen=True, slots=True)
class Resolution:
    """The addresses a target's host stands for (in the resolver's order), or why none.

    Attributes:
        addresses: literal addresses, each probeable (see :func:`~chm_exporter.target.unprobeable`).
        error: why the name has no address (None when it has).
        seconds: how long the lookup took (0 for a literal address).
    """

    addresses: tuple[str, ...] = ()
    error: str | None = None
    seconds: float = 0.0

    def pick(self, preferred: IpFamily = "ip4", fallback: bool = True) -> str:
        """The first address of the preferred family, else (with `fallback`) of the other.

        Raises:
            ResolveError: no address of an allowed family (the reason names the lookup's).
        """
        if self.error is not None:
            raise ResolveError(self.error)
        order = [preferred] + ([_other(preferred)] if fallback else [])
        for fam in order:
            for address in self.addresses:
                if (ip_version(address) == 4) == (fam == "ip4"):
                    return address
        raise ResolveError(f"no address in {'/'.join(order)} (the name has {self._families()})")

    def only(self, keep: Callable[[str], bool]) -> Resolution:
        """The same resolution with only the addresses `keep` accepts."""
        return Resolution(tuple(a for a in self.addresses if keep(a)), self.error, self.seconds)

    def _families(self) -> str:
        return ", ".join(self.addresses) or "no address"


def _other(family: IpFamily) -> IpFamily:
    return "ip6" if family == "ip4" else "ip4"


class Resolver:
    """Resolves targets on a bounded pool of its own threads.

    Args:
        timeout: seconds a probe waits for a lookup (its deadline may cut it shorter).
        max_concurrency: lookups running at once; more wait for a slot within their timeout.
        getaddrinfo: the blocking lookup (tests give one that never returns).
    """

    def __init__(
        self,
        timeout: float = DEFAULT_TIMEOUT,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        getaddrinfo: GetAddrInfo = socket.getaddrinfo,
    ) -> None:
        self.timeout = timeout
        self.max_concurrency = max_concurrency
        self._getaddrinfo = getaddrinfo
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="chm-dns")
        self._slots: asyncio.Semaphore | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None
        self.busy = 0
        """Lookups whose thread has not returned yet (hung ones included)."""

    async def resolve(self, target: Target, deadline: float | None = None) -> Resolution:
        """All addresses of the target's host, in the family its scheme forces, if any.

        Never raises for a name: a lookup that fails or times out is a :class:`Resolution`
        with an error (the probe fails, it is not a bad request).
        """
        if target.is_literal:
            return Resolution((target.host,))
        loop = asyncio.get_running_loop()
        started = loop.time()
        wait = self.timeout if deadline is None else min(self.timeout, deadline - started)
        try:
            async with asyncio.timeout(max(0.0, wait)):
                infos = await self._lookup(target)
        except TimeoutError:
            return Resolution(
                error=f"cannot resolve {target.host!r}: no answer in {max(0.0, wait):.3f}s "
                f"({self.busy} of {self.max_concurrency} lookups busy)",
                seconds=loop.time() - started,
            )
        except (OSError, UnicodeError) as exc:
            return Resolution(
                error=f"cannot resolve {target.host!r} into an address ({_reason(exc)})",
                seconds=loop.time() - started,
            )
        seconds = loop.time() - started
        found = list(dict.fromkeys(str(info[4][0]) for info in infos))
        addresses = tuple(a for a in found if unprobeable(a) is None)
        if not addresses:
            what = f"{found[0]}, which {unprobeable(found[0])}" if found else "no address"
            return Resolution(error=f"{target.host!r} resolves to {what}", seconds=seconds)
        return Resolution(addresses, seconds=seconds)

    async def _lookup(self, target: Target) -> list[tuple[Any, ...]]:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:  # a semaphore serves one loop
            self._slots, self._slots_loop = asyncio.Semaphore(self.max_concurrency), loop
            self.busy = 0
        slots = self._slots
        await slots.acquire()
        family = {"ip4": socket.AF_INET, "ip6": socket.AF_INET6, None: socket.AF_UNSPEC}
        self.busy += 1
        try:
            work: Future[list[tuple[Any, ...]]] = self._pool.submit(
                self._getaddrinfo, target.host, None, family[target.family], socket.SOCK_DGRAM
            )
        except BaseException:
            self.busy -= 1
            slots.release()
            raise

        def done(_: object) -> None:  # on the lookup's thread: the slot is free once it returns
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for a slot
                loop.call_soon_threadsafe(self._free, slots)

        work.add_done_callback(done)
        return await asyncio.wrap_future(work)

    def _free(self, slots: asyncio.Semaphore) -> None:
        self.busy -= 1
        slots.release()

    def close(self) -> None:
        """Stop the threads (a hung lookup's thread ends when its lookup returns)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return str(exc.strerror or exc)
    return f"{type(exc).__name__}: {exc}"
