"""pydantic validation errors as one line per problem, each naming the field path (shared by
the config file, the profiles and the process flags)."""

from __future__ import annotations

from pydantic import ValidationError

from chm_exporter.yamlfile import line_of, shown_key


def format_validation_error(exc: ValidationError, text: str | None = None) -> str:
    """The problems on one line, each naming the field path (and its line in `text`, the YAML
    it came from); never the value, which may be a secret."""
    lines = []
    for err in exc.errors(include_input=False, include_url=False):
        parts = tuple(p for p in err["loc"] if not str(p).startswith("function-"))
        msg = " ".join(err["msg"].removeprefix("Value error, ").split())
        shown = [shown_key(p) for p in parts]
        if err["type"] == "extra_forbidden" and shown:
            # The unknown key is the line's own text, where a typo may have glued a secret
            # ("communitys3cret"): the line number finds it, the message does not repeat it.
            shown, msg = shown[:-1], "a key that is not a field here"
        elif err["type"] == "union_tag_invalid":
            # pydantic repeats the tag it was given, which may be a secret in the wrong field
            ctx = err.get("ctx", {})
            field, expected = ctx.get("discriminator", "").strip("'"), ctx.get("expected_tags")
            msg = f"{field or 'the tag'} must be one of {expected}"
        line = line_of(text, parts) if text is not None and parts else None
        where = [f"line {line}" if line is not None else "", ".".join(shown)]
        lines.append(": ".join([*filter(None, where), msg]))
    return "; ".join(lines)
