"""Building gufo-snmp sessions from configured auths.

gufo-snmp does its protocol work in Rust (DESIGN.md: about 3x the varbinds per CPU-second of the
Go snmp_exporter); it exposes a walk only as an async iterator. :class:`CountingSession` counts
the request PDUs it sends, which the iterator API does not report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gufo.snmp import SnmpVersion
from gufo.snmp.aio import SnmpSession
from gufo.snmp.user import (
    Aes128Key,
    Aes192Key,
    Aes256Key,
    BaseAuthKey,
    BasePrivKey,
    DesKey,
    KeyExpansion,
    Md5Key,
    Sha1Key,
    Sha224Key,
    Sha256Key,
    Sha384Key,
    Sha512Key,
    User,
)

from chm_exporter.config import CommunityAuth, UsmAuth

_AUTH_KEYS: dict[str, type[BaseAuthKey]] = {
    "MD5": Md5Key,
    "SHA": Sha1Key,
    "SHA224": Sha224Key,
    "SHA256": Sha256Key,
    "SHA384": Sha384Key,
    "SHA512": Sha512Key,
}
_PRIV_KEYS: dict[str, type[BasePrivKey]] = {
    "DES": DesKey,
    "AES": Aes128Key,
    "AES192": Aes192Key,
    "AES256": Aes256Key,
}
# One socket serves one walk at a time; the buffer holds the largest UDP datagram plus replies
# that arrive after their request timed out.
RECV_BUFFER_BYTES = 256 * 1024


class CountingSession(SnmpSession):
    """A gufo-snmp session that counts the request PDUs it sends."""

    pdus_sent: int = 0

    async def _send(self, sender: Callable[[], None]) -> None:
        self.pdus_sent += 1
        await super()._send(sender)


def usm_user(auth: UsmAuth) -> User:
    """The gufo-snmp user for a v3 auth (keys from passwords, localized per engine)."""
    auth_key = priv_key = None
    if auth.security_level != "noAuthNoPriv" and auth.auth_password is not None:
        auth_key = _AUTH_KEYS[auth.auth_protocol](auth.auth_password.get_secret_value().encode())
    if auth.security_level == "authPriv" and auth.priv_password is not None:
        priv_key = _PRIV_KEYS[auth.priv_protocol](auth.priv_password.get_secret_value().encode())
    expansion = (
        KeyExpansion.Cisco if auth.priv_key_expansion == "cisco" else KeyExpansion.Blumenthal
    )
    return User(auth.username, auth_key=auth_key, priv_key=priv_key, key_expansion=expansion)


def session_kwargs(auth: CommunityAuth | UsmAuth) -> dict[str, Any]:
    """The credential arguments of :class:`SnmpSession` for an auth."""
    if isinstance(auth, UsmAuth):
        return {"user": usm_user(auth), "version": SnmpVersion.v3}
    version = SnmpVersion.v1 if auth.version == "1" else SnmpVersion.v2c
    return {"community": auth.community.get_secret_value(), "version": version}


def open_session(
    addr: str,
    port: int,
    auth: CommunityAuth | UsmAuth,
    timeout: float,
    max_repetitions: int,
    engine_id: bytes | None = None,
) -> CountingSession:
    """A new session (its own UDP socket) to one agent."""
    kwargs = session_kwargs(auth)
    if engine_id is not None and "user" in kwargs:
        kwargs["engine_id"] = engine_id
    return CountingSession(
        addr=addr,
        port=port,
        timeout=timeout,
        max_repetitions=max_repetitions,
        recv_buffer=RECV_BUFFER_BYTES,
        **kwargs,
    )
