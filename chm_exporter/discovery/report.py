"""What the last run of a discovery job did."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class RunReport:
    """What the last run of a job did (for the landing page and tests)."""

    job: str
    started: float
    duration: float = 0.0
    swept: int = 0
    answered_sweep: int = 0
    identified: int = 0
    crawled: int = 0
    max_depth_reached: int = 0
    failures: list[str] = field(default_factory=list)
