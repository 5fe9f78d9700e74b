"""Command line: `chm-exporter --config.file chm.yml --web.listen-address :9840`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from chm_exporter.config import format_validation_error, load_config
from chm_exporter.errors import ConfigError
from chm_exporter.listener import serve
from chm_exporter.logsetup import setup_logging
from chm_exporter.resolver import Resolver
from chm_exporter.rlimits import max_probes_for, raise_nofile_limit
from chm_exporter.server import STATE, config_reload_on_sighup, create_app
from chm_exporter.settings import Settings, split_listen_address
from chm_exporter.version import __version__
from chm_exporter.webconfig import WebConfig, load_web_config, ssl_context
from chm_exporter.workers import fork_workers

KEEPALIVE_TIMEOUT = 75.0
"""Seconds an idle or half-sent HTTP connection is kept (aiohttp's default is an hour, so 1,100
connections that never finish a request would hold their descriptors that long). Longer than
any usual scrape interval, so Prometheus' kept-alive connections are not cut."""

_FLAGS = {
    "--config.file": "config_file",
    "--web.listen-address": "web_listen_address",
    "--web.config.file": "web_config_file",
    "--log.level": "log_level",
    "--log.format": "log_format",
    "--timeout-offset": "timeout_offset",
    "--ssh.max-sessions": "ssh_max_sessions",
    "--web.workers": "web_workers",
    "--probe.max-in-flight": "probe_max_in_flight",
    "--dns.timeout": "dns_timeout",
    "--dns.max-concurrency": "dns_max_concurrency",
}


def parse_args(argv: Sequence[str] | None = None) -> Settings:
    """Flags override CHM_* environment variables, which override defaults.

    Raises:
        ConfigError: a flag or variable has an invalid value.
    """
    parser = argparse.ArgumentParser(
        prog="chm-exporter",
        description="CHM: Prometheus exporter for network-device health (SNMP, ICMP).",
    )
    for flag, dest in _FLAGS.items():
        parser.add_argument(flag, dest=dest, default=None, help=f"(env CHM_{dest.upper()})")
    parser.add_argument(
        "--config.check",
        dest="config_check",
        action="store_true",
        default=None,
        help="validate the config file, print the result, exit 0 (valid) or 1",
    )
    parser.add_argument(
        "--web.enable-lifecycle",
        dest="web_enable_lifecycle",
        action="store_true",
        default=None,
        help="allow POST /-/reload (SIGHUP always reloads) (env CHM_WEB_ENABLE_LIFECYCLE)",
    )
    parser.add_argument("--version", action="version", version=f"chm-exporter {__version__}")
    given = {k: v for k, v in vars(parser.parse_args(argv)).items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Run the exporter (or check its config); returns the exit code."""
    try:
        settings = parse_args(argv)
    except ConfigError as exc:
        print(f"chm-exporter: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.log_format)
    log = logging.getLogger("chm_exporter")
    try:
        loaded = load_config(settings.config_file)
        web_config = (
            load_web_config(settings.web_config_file) if settings.web_config_file else WebConfig()
        )
    except ConfigError as exc:
        if settings.config_check:
            print(f"config invalid: {exc}", file=sys.stderr)
            return 1
        log.error("config refused: %s", exc)
        return 1
    if settings.config_check:
        modules = ", ".join(loaded.config.module_names)
        print(f"config valid: {settings.config_file} (modules: {modules})")
        return 0
    try:
        host, port = split_listen_address(settings.web_listen_address)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    before, now = raise_nofile_limit()
    if now != before:
        log.info("open-files limit raised from %d to %d", before, now)
    role = fork_workers(settings.web_workers)
    if role.exit_code is not None:  # the supervisor, after its workers ended
        return role.exit_code
    max_in_flight = settings.probe_max_in_flight or max_probes_for(now)
    log.info("at most %d probes at once (open-files limit %d)", max_in_flight, now)
    app = create_app(
        loaded,
        settings.timeout_offset,
        ssh_max_sessions=settings.ssh_max_sessions,
        enable_lifecycle=settings.web_enable_lifecycle,
        web_config=web_config,
        max_in_flight=max_in_flight,
        resolver=Resolver(settings.dns_timeout, settings.dns_max_concurrency),
        worker=role,
    )
    app.cleanup_ctx.append(config_reload_on_sighup)
    state = app[STATE]
    tls = web_config.tls_server_config
    log.info(
        "chm-exporter %s listening on %s (%s)",
        __version__,
        settings.web_listen_address,
        "TLS" if tls else "plain HTTP",
    )
    serve(
        app,
        host,
        port,
        max_connections=max(max_in_flight + 64, now // 2 - 32),
        overloaded=lambda: state.running >= state.max_in_flight,
        refused=state.metrics.rejected.inc,
        ssl_context=ssl_context(tls) if tls else None,
        keepalive_timeout=KEEPALIVE_TIMEOUT,
        reuse_port=settings.web_workers > 1,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
