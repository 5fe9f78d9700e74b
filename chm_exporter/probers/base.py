"""The shape of a prober: settings model, raw-data factory, `collect` (I/O) and `emit` (no I/O).

See the package docstring (:mod:`chm_exporter.probers`) for how the handler runs them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from chm_exporter.allowlist import TargetRules
from chm_exporter.config import LoadedConfig
from chm_exporter.exposition import MetricSink
from chm_exporter.probers.context import ProbeContext, ProbeRequest
from chm_exporter.target import IpFamily

S = TypeVar("S", bound=BaseModel)
R = TypeVar("R")


def _no_credentials(request: ProbeRequest, config: LoadedConfig) -> str | None:
    return None


def _first(settings: Sequence[S]) -> S:
    return settings[0]


def _ip4_first(settings: BaseModel) -> tuple[IpFamily, bool]:
    return "ip4", True


def _no_rules(
    request: ProbeRequest, config: LoadedConfig, settings: BaseModel
) -> tuple[str, TargetRules] | None:
    return None


@dataclass(frozen=True, slots=True)
class Prober(Generic[S, R]):
    """One prober: what it needs (its settings model) and the two halves of its work.

    Attributes:
        settings: the pydantic model of its `Module` field (the field is named as the prober).
        new_raw: makes the empty raw-data object the handler hands to `collect` and `emit`.
        collect: ``async (ctx, settings, raw) -> None``: only I/O; fills `raw` as data
            arrives; raises a :class:`~chm_exporter.errors.ProbeError` with a one-line reason
            when the target fails. It may be cut at the deadline anywhere.
        emit: ``(ctx, settings, raw, sink) -> bool``: no I/O; turns `raw` (complete or not)
            into metrics and says whether the data is complete and good.
        credentials: ``(request, config) -> name | None``: validates the request's
            prober-specific parameters (raises :class:`~chm_exporter.errors.RequestError`,
            a 400) and names the credentials the prober will use.
        merge: the settings of several requested modules as one (default: the first).
        address_family: ``(settings) -> (preferred, fallback)``: the IP family the prober
            sends in (default IPv4, else IPv6); ``ctx.address()`` answers accordingly.
        target_rules: ``(request, config, settings) -> (where, rules) | None``: where the
            credentials the prober will use may be sent (`where` names the auth, e.g.
            ``auths.lab``; `rules` its `allowed_targets`); the handler refuses the request
            (400) when no address of the target is among them.
    """

    settings: type[S]
    new_raw: Callable[[], R]
    collect: Callable[[ProbeContext, S, R], Awaitable[None]]
    emit: Callable[[ProbeContext, S, R, MetricSink], bool]
    credentials: Callable[[ProbeRequest, LoadedConfig], str | None] = _no_credentials
    merge: Callable[[Sequence[S]], S] = _first
    address_family: Callable[[S], tuple[IpFamily, bool]] = _ip4_first
    target_rules: Callable[[ProbeRequest, LoadedConfig, S], tuple[str, TargetRules] | None] = (
        _no_rules
    )
