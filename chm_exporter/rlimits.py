"""Raising the open-files limit at start, as Go programs do by default.

Each probe holds a UDP socket per concurrent walk and each scrape a TCP connection; the common
soft limit of 1,024 descriptors then fails probes long before the hard limit would.
"""

from __future__ import annotations

import resource

FDS_PER_PROBE = 10
"""Descriptors one probe may hold: its HTTP connection, a UDP socket per concurrent walk (8 by
default), an ICMP socket."""
MAX_PROBES_DEFAULT = 1000


def max_probes_for(nofile: int) -> int:
    """The default of --probe.max-in-flight for an open-files limit of `nofile`: half the
    descriptors is kept for connections being refused with 503 (a burst of them is accepted
    before the first is answered; accept() must never fail), the config, logs and DNS; the
    other half is shared by probes; at most 1,000."""
    if nofile == resource.RLIM_INFINITY or nofile <= 0:
        return MAX_PROBES_DEFAULT
    return max(1, min(MAX_PROBES_DEFAULT, (nofile // 2) // FDS_PER_PROBE))


def raise_nofile_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns (old soft, new soft)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == hard:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, hard
