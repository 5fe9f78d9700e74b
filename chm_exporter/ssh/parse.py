"""CLI text into records with TextFSM (ntc-templates' templates, or ours)."""

from __future__ import annotations

import io
from functools import cache
from typing import Any

import textfsm

from chm_exporter.ssh.profile import template_path

Record = dict[str, Any]


@cache
def _template_text(name: str) -> str:
    return template_path(name).read_text(encoding="utf-8")


def parse_first(templates: list[str], text: str) -> tuple[str, list[Record]]:
    """Parse `text` with the first of `templates` that accepts it: (its name, records).

    Raises:
        textfsm.TextFSMError: every template rejects the text (the last one's error).
    """
    error: textfsm.TextFSMError | None = None
    for name in templates:
        try:
            return name, parse(name, text)
        except textfsm.TextFSMError as exc:
            error = exc
    assert error is not None
    raise error


def parse(template: str, text: str) -> list[Record]:
    """Parse `text` with `template`; field names lower-case, as ntc-templates' tests spell them.

    Raises:
        textfsm.TextFSMError: the template rejects the text (an ``Error`` rule fired).
    """
    fsm = textfsm.TextFSM(io.StringIO(_template_text(template)))
    rows = fsm.ParseText(text)
    names = [h.lower() for h in fsm.header]
    return [dict(zip(names, row, strict=True)) for row in rows]
