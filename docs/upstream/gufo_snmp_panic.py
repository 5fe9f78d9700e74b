"""Reproduce a gufo-snmp 0.13.0 panic: an agent on loopback answers one request with the given
bytes (hex; `RID` stands for a one-byte request id: the request's own is put there, and the
message and PDU lengths, bytes 2 and 15, grow by its extra bytes), and the client call raises
pyo3's PanicException (a BaseException) instead of an SNMP error.

    python gufo_snmp_panic.py get 308400
"""

import asyncio
import socket
import sys
import threading

from gufo.snmp import SnmpVersion
from gufo.snmp.aio import SnmpSession

op, reply = sys.argv[1], sys.argv[2]
agent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
agent.bind(("127.0.0.1", 0))


def answer() -> None:
    data, client = agent.recvfrom(65535)
    rid = data[17 : 17 + data[16]]  # the request id of a v2c request with community "public"
    before, _, after = reply.partition("RID")
    out = bytearray.fromhex(before) + (rid if _ else b"") + bytearray.fromhex(after)
    if _:
        out[16], out[1], out[14] = len(rid), out[1] + len(rid) - 1, out[14] + len(rid) - 1
    agent.sendto(bytes(out), client)


async def main() -> object:
    port = agent.getsockname()[1]
    async with SnmpSession(
        addr="127.0.0.1", port=port, community="public", version=SnmpVersion.v2c, timeout=1
    ) as session:
        if op == "get":
            return await session.get("1.3.6.1.2.1.1.1.0")
        return [vb async for vb in session.getnext("1.3.6.1.2.1.1")]


threading.Thread(target=answer, daemon=True).start()
try:
    print("answer:", asyncio.run(main()))
except BaseException as exc:
    print(f"{type(exc).__name__}: {exc}")
