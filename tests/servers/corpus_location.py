"""Where the real-device corpus is: ``$CHM_CORPUS``, else ``../shared/corpus`` beside the checkout.

The corpus is not in the repository (part of it is GPL); ``scripts/fetch_corpus.py`` rebuilds
the part the tests read (``snmprec/``) from its public sources. Every place that needs the
corpus asks here, so ``CHM_CORPUS`` is honoured everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CORPUS_ENV", "corpus_root", "missing_corpus", "snmprec_dir"]

CORPUS_ENV = "CHM_CORPUS"
_REPO = Path(__file__).resolve().parents[2]


def corpus_root() -> Path:
    """The corpus folder (it holds ``snmprec/``): ``$CHM_CORPUS`` or ``<repo>/../shared/corpus``."""
    override = os.environ.get(CORPUS_ENV)
    return Path(override) if override else _REPO.parent / "shared" / "corpus"


def snmprec_dir() -> Path:
    """The recorded SNMP walks, ``<corpus>/snmprec/<vendor>/<device>.snmprec``."""
    return corpus_root() / "snmprec"


def missing_corpus() -> str | None:
    """None when the corpus has SNMP walks, else one line: what is missing and how to get it."""
    walks = snmprec_dir()
    if walks.is_dir() and next(walks.rglob("*.snmprec"), None) is not None:
        return None
    return (
        f"the device corpus is missing (no {walks}/*/*.snmprec): fetch it with "
        f"`python3 scripts/fetch_corpus.py DIR` (needs internet) and set {CORPUS_ENV}=DIR, "
        "or put a copy at ../shared/corpus beside the checkout"
    )
