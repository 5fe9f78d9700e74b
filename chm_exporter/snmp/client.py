"""The SNMP client seam: what the walker asks of one agent conversation (one UDP socket).

Production uses :class:`chm_exporter.snmp.session.GufoClient` (gufo-snmp); unit tests use a
recording fake. Every request PDU has an explicit timeout: a GET is one call, a column walk
asks the walker before each request (its deadline) and hands it each reply (its budget), so the
walker checks both between PDUs and never relies on a cancellation reaching the library.

Besides :class:`TimeoutError` (no reply within the timeout), a client raises only the
:class:`ClientError` subclasses below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Protocol

from pydantic import SecretStr

from chm_exporter.walk import RawValue


class CommunityCredentials(Protocol):
    """SNMP v1/v2c credentials, as the transport reads them (the config's CommunityAuth)."""

    @property
    def version(self) -> Literal["1", "2c"]: ...
    @property
    def community(self) -> SecretStr: ...


class UsmCredentials(Protocol):
    """SNMPv3 credentials, as the transport reads them (the config's UsmAuth)."""

    @property
    def version(self) -> Literal["3"]: ...
    @property
    def username(self) -> str: ...
    @property
    def security_level(self) -> str: ...
    @property
    def auth_protocol(self) -> str: ...
    @property
    def auth_password(self) -> SecretStr | None: ...
    @property
    def priv_protocol(self) -> str: ...
    @property
    def priv_password(self) -> SecretStr | None: ...
    @property
    def priv_key_expansion(self) -> str: ...


Credentials = CommunityCredentials | UsmCredentials


class WalkSettings(Protocol):
    """How to walk, as the transport reads it (the config's SnmpSettings)."""

    @property
    def timeout(self) -> float: ...
    @property
    def retries(self) -> int: ...
    @property
    def max_repetitions(self) -> int: ...
    @property
    def walk_concurrency(self) -> int: ...
    @property
    def walk(self) -> str: ...
    @property
    def allow_nonincreasing_oids(self) -> bool: ...
    @property
    def max_varbinds(self) -> int: ...
    @property
    def max_bytes(self) -> int: ...


class ClientError(Exception):
    """A request failed otherwise than by a timeout."""


class NoSuchNameError(ClientError):
    """The agent has no such instance (SNMPv1 fails a whole GET with noSuchName)."""


class UndecodableError(ClientError):
    """The reply could not be decoded (often: cut at the receive buffer's size)."""


class AuthFailedError(ClientError):
    """The agent refused the credentials (SNMPv3)."""


class RefusedError(ClientError):
    """The agent's port is closed (ICMP port unreachable): no agent listens there."""


class LibraryPanicError(ClientError):
    """The SNMP library panicked on a reply (a malformed datagram)."""


class AgentError(ClientError):
    """Any other SNMP or socket error."""


Varbinds = list[tuple[str, RawValue]]


class ColumnWalk(Protocol):
    """A walk of one column (GETBULK, or GETNEXT when max-repetitions is 0)."""

    async def run(self, take: Callable[[Varbinds], bool], wait: Callable[[], float]) -> None:
        """Read the column to its end, one request at a time.

        Before each request, `wait()` gives its timeout (it raises to stop the walk: the
        walker's deadline). Each reply's rows of the column go to `take` in the agent's order;
        it returns False to end the walk, or raises (the walker's budget). Returns when a reply
        left the column or ended the MIB view. What `take` and `wait` raise is raised here.

        Raises:
            TimeoutError: a reply did not come within its timeout (the rows taken stay).
        """
        ...


class SnmpClient(Protocol):
    """One conversation with one agent: one socket, requests one at a time."""

    @property
    def pdus_sent(self) -> int:
        """Request PDUs sent so far (retries and SNMPv3 discovery included)."""
        ...

    async def discover(self, wait: float) -> None:
        """SNMPv3: discover the engine and its time (no-op for v1/v2c)."""
        ...

    def engine_id(self) -> bytes | None:
        """SNMPv3: the discovered engine id, for further clients to skip discovery."""
        ...

    async def get_many(self, oids: Sequence[str], wait: float) -> dict[str, RawValue]:
        """GET several instance OIDs in one PDU; absent instances are left out."""
        ...

    async def get(self, oid: str, wait: float) -> RawValue:
        """GET one instance OID.

        Raises:
            NoSuchNameError: the agent has no such instance.
        """
        ...

    def walk(self, column: str, max_repetitions: int) -> ColumnWalk:
        """Start walking `column`: GETBULK of `max_repetitions` rows, GETNEXT when 0."""
        ...

    def close(self) -> None:
        """Release the socket now (not at garbage collection). Idempotent."""
        ...


Connect = Callable[[bytes | None], SnmpClient]
"""Opens a client to the walker's agent, given the SNMPv3 engine id when already known."""
