"""Raising the open-files limit at start, as Go programs do by default.

Each probe holds a UDP socket per concurrent walk and each scrape a TCP connection; the common
soft limit of 1,024 descriptors then fails probes long before the hard limit would.
"""

from __future__ import annotations

import resource


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
