"""Reusable test servers for the CHM test suite.

Everything here binds loopback only (127.0.0.1 / ::1) or lives in a network namespace the
code creates, and every server is stopped and cleaned up on exit:

- :mod:`tests.servers.lifecycle`: the start/retry/wait/stop lifecycle the servers share.
- :mod:`tests.servers.ports`: free loopback UDP/TCP ports.
- :mod:`tests.servers.netsnmp`: thin wrappers around the net-snmp CLI (``snmpget``,
  ``snmpbulkwalk``) used to check the servers from outside.
- :mod:`tests.servers.snmpd`: Debian's net-snmp agent with known sysName and SNMPv3 users of
  every level and algorithm; :func:`tests.servers.snmpd.tap_interfaces` for many interfaces.
- :mod:`tests.servers.snmpsim`: snmpsim 1.2.2 serving the real-device corpus (and synthetic or
  deliberately slow devices).
- :mod:`tests.servers.udpdelay`: a UDP proxy that holds every reply a fixed time (agent latency).
- :mod:`tests.servers.netns`: a silent (black-hole) or answering host in a private namespace.
- :mod:`tests.servers.ssh_device`: an SSH network-device emulator (asyncssh, in the test's own
  event loop) answering with the recorded CLI outputs of the corpus, with faults.
- :mod:`tests.servers.fixtures`: pytest fixtures wrapping the above.

Only the standard library (plus pytest in ``fixtures``, asyncssh in ``ssh_device``) is used.
"""
