"""The exception tree of the exporter.

ChmError                  base of everything the exporter raises on purpose
├── ConfigError           the config file or a profile is invalid (refused at start/reload)
├── RequestError          a /probe request is malformed (HTTP 400)
│   └── TargetError       the target cannot be parsed or resolved into an address
└── ProbeError            a device failed during a probe (probe_success 0, never a 500)
    ├── ResolveError      the target's name has no address
    ├── SnmpProbeError    the SNMP agent timed out, refused auth, or sent garbage
    ├── IcmpProbeError    ICMP sockets are unavailable or the host did not answer
    └── SshProbeError     SSH login, host key, command or session failure (with a reason)
"""


class ChmError(Exception):
    """Base of all exporter errors."""


class ConfigError(ChmError):
    """The configuration (or a profile it names) is invalid."""


class RequestError(ChmError):
    """A request carries invalid parameters; answered with HTTP 400."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


class TargetError(RequestError):
    """The target parameter is malformed or cannot be resolved."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="target")


class ProbeError(ChmError):
    """A device failed during a probe."""


class ResolveError(ProbeError):
    """The target's host name cannot be resolved (a probe failure, not a bad request)."""


class SnmpProbeError(ProbeError):
    """SNMP failure: timeout, authentication, decoding."""


class IcmpProbeError(ProbeError):
    """ICMP failure: no socket permission, unreachable host."""


class SshProbeError(ProbeError):
    """SSH failure; `reason` is one word for self-metrics (auth, host_key, timeout, ...)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
