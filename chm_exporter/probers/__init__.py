"""The probers, and the table that alone knows their names.

How a prober works (for a newcomer)
-----------------------------------
A prober is a :class:`~chm_exporter.probers.base.Prober`: a settings model and two functions.

``collect(ctx, settings, raw)`` is async and does only I/O: it talks to the target and fills
`raw`, an object the handler made with ``new_raw()`` *before* starting it. The handler
(:func:`chm_exporter.probe.run_probe`) runs every collect of a probe concurrently under one
``asyncio.timeout_at(deadline)``; a collect never watches the clock for the handler's sake
(it may use the deadline, ``ctx.deadline``, to size its own waits). A target that fails raises
a :class:`~chm_exporter.errors.ProbeError` whose message is the one-line reason.

``emit(ctx, settings, raw, sink)`` is synchronous, does no I/O, and runs after collect ALWAYS:
also when collect failed or was cut at the deadline, so what arrived still becomes metrics. It
returns whether the data is complete and good. The handler adds ``probe_success{prober}`` (emit's
answer, 0 when collect failed) and ``probe_duration_seconds{prober}``, and logs the reason.

Anything else a collect raises is a bug: ``probe_success 0`` and "internal error" with the
traceback in the probe's log, never an HTTP 500.

Where things go: the request's own parameters (``ctx.request.param("auth")``) are checked when
the request is parsed by the prober's ``credentials`` hook (a 400 when invalid); credentials
themselves are in the config (``ctx.config``); state kept between scrapes goes into
``ctx.devices.get(<prober name>, <its own state class>, <device key>...)``.

Adding a prober: a module ``probers/<name>.py`` with its raw class, `collect` and `emit`; its
settings model as the `Module` field `<name>` in ``config.py``; one row in `PROBERS` below.
:func:`check_module_fields` (run by the tests) fails when `PROBERS` and `Module` disagree.
"""

from __future__ import annotations

from typing import Any

from chm_exporter.config import IcmpSettings, Module, SnmpSettings
from chm_exporter.probers import icmp, snmp, ssh
from chm_exporter.probers.base import Prober
from chm_exporter.probers.context import ProbeContext, ProbeRequest
from chm_exporter.ssh.config import SshSettings

PROBERS: dict[str, Prober[Any, Any]] = {
    "snmp": Prober(
        SnmpSettings,
        snmp.SnmpRaw,
        snmp.collect,
        snmp.emit,
        credentials=snmp.credentials,
        merge=snmp.merge,
        target_rules=snmp.target_rules,
    ),
    "icmp": Prober(
        IcmpSettings, icmp.IcmpRaw, icmp.collect, icmp.emit, address_family=icmp.address_family
    ),
    # No credentials hook: the request's auth= is SNMP's; SSH credentials come from the module.
    "ssh": Prober(SshSettings, ssh.SshRaw, ssh.collect, ssh.emit, target_rules=ssh.target_rules),
}

_MODULE_COMMON_FIELDS = frozenset({"timeout", "compat"})


def check_module_fields() -> None:
    """The `Module` model has one field per prober, named as in `PROBERS`, of its settings model.

    Raises:
        TypeError: naming the field that drifted.
    """
    fields = {n: f for n, f in Module.model_fields.items() if n not in _MODULE_COMMON_FIELDS}
    if set(fields) != set(PROBERS):
        raise TypeError(f"Module prober fields {sorted(fields)} != PROBERS {sorted(PROBERS)}")
    for name, prober in PROBERS.items():
        if fields[name].annotation != prober.settings | None:
            raise TypeError(f"Module.{name} is {fields[name].annotation}, not {prober.settings}")


def settings_of(module: Module, name: str) -> Any:
    """The settings of prober `name` in `module`, None when the module does not use it."""
    value = getattr(module, name, None)
    return value if isinstance(value, PROBERS[name].settings) else None


__all__ = ["PROBERS", "ProbeContext", "ProbeRequest", "Prober", "check_module_fields"]
