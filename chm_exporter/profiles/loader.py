"""Loading profile files: the ones shipped in the package, then the user's folders."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from chm_exporter.errors import ConfigError
from chm_exporter.profiles.enterprises import enterprise_slugs
from chm_exporter.profiles.model import Profile
from chm_exporter.profiles.products import product_names
from chm_exporter.validation import format_validation_error
from chm_exporter.yamlfile import MAX_YAML_BYTES, decode_text, load_yaml, read_bounded

PACKAGE_PROFILES = "chm_exporter.profiles.data"


def parse_profile(text: str, source: str) -> Profile:
    """Parse and validate one profile file.

    Raises:
        ConfigError: naming the file and the field.
    """
    data = load_yaml(text, source)
    try:
        return Profile.parse(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {format_validation_error(exc, text)}") from None


def _package_files() -> list[tuple[str, str]]:
    root = resources.files(PACKAGE_PROFILES)
    return sorted(
        (f"{PACKAGE_PROFILES}/{entry.name}", entry.read_text(encoding="utf-8"))
        for entry in root.iterdir()
        if entry.name.endswith(".yaml")
    )


def _dir_files(folder: Path) -> list[tuple[str, str]]:
    if not folder.is_dir():
        raise ConfigError(f"profile_dirs: {folder} is not a folder")
    return [
        (str(p), decode_text(read_bounded(p, MAX_YAML_BYTES, "profile"), str(p), "profile"))
        for p in sorted(folder.glob("*.yaml"))
    ]


def load_profiles(extra_dirs: Iterable[Path] = ()) -> dict[str, Profile]:
    """The shipped profiles, overridden or extended by those in `extra_dirs`, checked together.

    Raises:
        ConfigError: a file is invalid, two files in one place share a name, an include is
            unknown, or two profiles define one metric with different types or labels.
    """
    profiles: dict[str, Profile] = {}
    sources: dict[str, str] = {}
    for group in [_package_files(), *(_dir_files(Path(d)) for d in extra_dirs)]:
        seen_here: set[str] = set()
        for source, text in group:
            profile = parse_profile(text, source)
            if profile.name in seen_here:
                raise ConfigError(
                    f"{source}: profile {profile.name!r} is also defined in {sources[profile.name]}"
                )
            seen_here.add(profile.name)
            profiles[profile.name] = profile
            sources[profile.name] = source
    _check_includes(profiles, sources)
    _check_metric_shapes(profiles, sources)
    # The sysObjectID tables are read here, once, not by the first probe's evaluation: 62,011
    # enterprises take ~50 ms, which that probe would spend inside its deadline's short grace.
    enterprise_slugs()
    product_names()
    return profiles


def _check_includes(profiles: dict[str, Profile], sources: dict[str, str]) -> None:
    for name, profile in profiles.items():
        for inc in profile.includes:
            if inc not in profiles:
                raise ConfigError(f"{sources[name]}: includes: unknown profile {inc!r}")
        for table in profile.tables:
            for replaced in table.replaces:
                owner, _, other = replaced.partition(".")
                if owner not in profiles or other not in {t.name for t in profiles[owner].tables}:
                    raise ConfigError(
                        f"{sources[name]}: table {table.name}: replaces: {replaced!r} is not "
                        "a profile's table"
                    )


def _check_metric_shapes(profiles: dict[str, Profile], sources: dict[str, str]) -> None:
    shapes: dict[str, tuple[str, tuple[str, ...], str]] = {}
    for name, profile in profiles.items():
        for table in profile.tables:
            for metric in table.metrics:
                shape = (metric.type, (*table.labels, *metric.labels), sources[name])
                known = shapes.setdefault(metric.name, shape)
                if known[:2] != shape[:2]:
                    raise ConfigError(
                        f"{sources[name]}: metric {metric.name} is {shape[0]}{list(shape[1])} "
                        f"here but {known[0]}{list(known[1])} in {known[2]}"
                    )


def expand_includes(names: Iterable[str], profiles: dict[str, Profile]) -> list[Profile]:
    """The named profiles and what they include, each once, includes first."""
    out: dict[str, Profile] = {}

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in out or name in trail:
            return
        profile = profiles[name]
        for inc in profile.includes:
            visit(inc, (*trail, name))
        out[name] = profile

    for name in names:
        visit(name, ())
    return list(out.values())
