"""The open-files soft limit is raised to the hard limit, as Go programs do."""

import resource
from collections.abc import Iterator

import pytest

from chm_exporter.rlimits import raise_nofile_limit


@pytest.fixture
def low_soft_limit() -> Iterator[int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(hard, 1024) if hard > 1024 else max(hard // 2, 64)
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        yield hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_soft_limit_is_raised_to_the_hard_limit(low_soft_limit: int) -> None:
    before, after = raise_nofile_limit()
    assert before < low_soft_limit
    assert after == low_soft_limit
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (low_soft_limit, low_soft_limit)
