"""CLI text into records with TextFSM (ntc-templates' templates, or ours)."""

from __future__ import annotations

from functools import cache
from typing import Any

import textfsm

from chm_exporter.ssh.profile import template_path

Record = dict[str, Any]
ParseError = textfsm.TextFSMError
"""A template rejected the text."""


@cache
def _compiled(name: str) -> textfsm.TextFSM:
    # Compiling a template costs more than parsing a short output with it; a compiled one is
    # reused after Reset() (parsing is synchronous, so it is never shared by two parses).
    with template_path(name).open(encoding="utf-8") as text:
        return textfsm.TextFSM(text)


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
    fsm = _compiled(template)
    fsm.Reset()
    rows = fsm.ParseText(text)
    names = [h.lower() for h in fsm.header]
    return [dict(zip(names, row, strict=True)) for row in rows]
