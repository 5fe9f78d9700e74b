"""snmpsim 1.2.2 serving the real-device corpus (plus synthetic devices) on loopback.

:class:`Snmpsim` runs ``snmpsim-command-responder`` from the venv ``/opt/chm-snmpsim``
(made by ``scripts/setup.sh``; override with ``CHM_SNMPSIM_VENV``). The corpus is
``<corpus>/snmprec``, the corpus being ``$CHM_CORPUS`` or ``<repo>/../shared/corpus``
(:mod:`tests.servers.corpus_location`). As root, snmpsim must drop
privileges (``--process-user=nobody --process-group=nogroup``), and ``nobody`` may not be able
to read the checkout, so the served files are *copied* into a fresh temporary data directory
(dirs 755, files 644) next to a cache directory owned by ``nobody``::

    c64 = "1.3.6.1.2.1.31.1.1.1.6.1|70|18446744073709551000\\n"
    with Snmpsim(data_files=["cisco_ios/ios_2960x"], extra_files={"synthetic/c64": c64}) as sim:
        snmpget(sim.host, sim.port, ["1.3.6.1.2.1.1.2.0"], community="cisco_ios/ios_2960x")

The community of a device is its file's path below the data directory without ``.snmprec``
(``cisco_ios/ios_2960x``); :attr:`Snmpsim.communities` lists them. An unknown community gets no
answer (a timeout).

snmprec format, one varbind a line, sorted by OID: ``<numeric OID>|<type>|<value>``. Types
(the BER tag number): ``2`` Integer, ``4`` OctetString (text), ``4x`` OctetString as hex,
``5`` Null, ``6`` OBJECT IDENTIFIER, ``64`` IpAddress (dotted, or ``64x`` hex), ``65``
Counter32, ``66`` Gauge32, ``67`` TimeTicks, ``68`` Opaque, ``70`` Counter64. Examples::

    1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.9.1.1208
    1.3.6.1.2.1.2.2.1.2.1|4|GigabitEthernet0/1
    1.3.6.1.2.1.2.2.1.6.1|4x|00a0c9123456
    1.3.6.1.2.1.31.1.1.1.6.1|70|18446744073709551000

Variation modules: a type may carry ``:<module>`` and the value becomes the module's options.
The ``delay`` module (found in snmpsim's own ``variation`` directory, nothing to configure)
answers after ``wait`` milliseconds: ``1.3.6.1.2.1.1.1.0|4:delay|value=slow,wait=500``
(``hexvalue=<hex>`` instead of ``value=`` for octet strings; option values may not contain
``,`` or ``=``; ``wait`` above 99999 drops the reply). Caveat: the module *sleeps in the
responder's only thread*, once per delayed varbind of each response, so a slow device stalls
every other community of the same process. For latency under concurrency use
:mod:`tests.servers.udpdelay` instead. :func:`delay_snmprec` rewrites records to use it.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from tests.servers.corpus_location import missing_corpus, snmprec_dir
from tests.servers.lifecycle import ProcessServer, ServerStartError
from tests.servers.netsnmp import snmpget
from tests.servers.ports import free_udp_port_on

__all__ = [
    "COUNTER64",
    "DEFAULT_PROBE_COMMUNITY",
    "SYS_OBJECT_ID_OID",
    "Snmpsim",
    "SnmpsimStartError",
    "corpus_communities",
    "corpus_dir",
    "delay_snmprec",
    "snmprec_line",
    "snmpsim_binary",
]

SYS_OBJECT_ID_OID = "1.3.6.1.2.1.1.2.0"
DEFAULT_PROBE_COMMUNITY = "cisco_ios/ios_2960x"
COUNTER64 = 70
_PROCESS_USER = "nobody"
_PROCESS_GROUP = "nogroup"
_OCTET_TYPES = {"4", "68"}


class SnmpsimStartError(ServerStartError):
    """snmpsim is missing, exited, or did not answer in time; the message carries its log."""


def snmpsim_binary() -> Path:
    """Path of ``snmpsim-command-responder``; raise telling to run setup if it is missing."""
    venv = Path(os.environ.get("CHM_SNMPSIM_VENV", "/opt/chm-snmpsim"))
    binary = venv / "bin" / "snmpsim-command-responder"
    if not binary.exists():
        raise SnmpsimStartError(
            f"{binary} not found: run scripts/setup.sh (it installs snmpsim 1.2.2 in {venv})"
        )
    return binary


def corpus_dir() -> Path:
    """The snmprec corpus: ``<corpus>/snmprec`` (:func:`~tests.servers.corpus_location.snmprec_dir`)."""
    return snmprec_dir()


def corpus_communities(corpus: Path | None = None) -> list[str]:
    """Every community of the corpus (relative path without ``.snmprec``), sorted."""
    root = corpus or corpus_dir()
    return sorted(
        path.relative_to(root).with_suffix("").as_posix() for path in root.rglob("*.snmprec")
    )


def _community_of(name: str) -> str:
    """Accept ``cisco_ios/ios_2960x`` or ``cisco_ios/ios_2960x.snmprec``."""
    return name.removesuffix(".snmprec")


def snmprec_line(oid: str, type_code: int | str, value: object) -> str:
    """One snmprec record (with newline): ``oid|type|value``."""
    return f"{oid.removeprefix('.')}|{type_code}|{value}\n"


def _delay_record(line: str, wait_ms: int) -> str:
    """Rewrite one record to answer through the ``delay`` module; keep it if it cannot."""
    oid, tag, value = line.split("|", 2)
    if ":" in tag or tag.endswith("e"):
        return line
    if tag.endswith("x"):
        base, options = tag[:-1], f"hexvalue={value}"
    elif tag in _OCTET_TYPES:
        base, options = tag, f"hexvalue={value.encode('latin-1', 'replace').hex()}"
    elif "," in value or "=" in value:
        return line
    else:
        base, options = tag, f"value={value}"
    return f"{oid}|{base}:delay|{options},wait={wait_ms}"


def delay_snmprec(records: str, wait_ms: int, oid_prefixes: Iterable[str] | None = None) -> str:
    """Rewrite snmprec ``records`` so that matching OIDs answer after ``wait_ms`` milliseconds.

    ``oid_prefixes`` None delays every record, else only OIDs equal to or below a prefix.
    Values that cannot be expressed as delay options are kept undelayed.
    """
    prefixes = [p.removeprefix(".") for p in oid_prefixes] if oid_prefixes is not None else None
    out: list[str] = []
    for line in records.splitlines():
        oid = line.split("|", 1)[0]
        matches = prefixes is None or any(oid == p or oid.startswith(p + ".") for p in prefixes)
        out.append(_delay_record(line, wait_ms) if line and matches else line)
    return "\n".join(out) + "\n"


class Snmpsim(ProcessServer):
    """snmpsim on loopback; a context manager (also :meth:`start` / :meth:`stop`).

    Attributes: ``host`` (127.0.0.1 unless given), ``host6`` (::1 when ``ipv6``), ``port``,
    ``communities``, ``data_dir``, ``cache_dir``, ``log_path``.

    To serve a device in a network namespace, give its address, a fixed port and the wrapper
    that runs a command there: ``Snmpsim(host=ns.address, port=161, wrap=ns.exec_argv)``
    (the readiness poll then goes from the root namespace to that address). As root,
    snmpsim opens its socket after dropping to ``nobody``: for a port below 1024, first allow
    it in the namespace (``sysctl net.ipv4.ip_unprivileged_port_start=0``).
    """

    name = "snmpsim"
    start_error = SnmpsimStartError
    port_taken_text = "Address already in use"
    workdir_prefix = "chm-snmpsim-"
    output_name = "snmpsim.log"
    stop_timeout = 10.0
    poll_interval = 0.2

    def __init__(
        self,
        *,
        data_files: Iterable[str] | None = None,
        extra_files: Mapping[str, str] | None = None,
        corpus: Path | None = None,
        ipv6: bool = False,
        port: int | None = None,
        start_timeout: float = 90.0,
        probe_community: str | None = None,
        host: str = "127.0.0.1",
        wrap: Callable[[list[str]], list[str]] | None = None,
    ) -> None:
        """Configure; nothing runs until :meth:`start`.

        ``data_files``: communities (or relative ``.snmprec`` paths) of the corpus to serve,
        None for all of them, ``[]`` for none. ``extra_files``: community -> snmprec text of
        synthetic devices. ``probe_community``: the community polled (sysObjectID) to decide
        snmpsim is up; default ios_2960x if served, else the first community. ``host``: the
        IPv4 address to listen on (without ``port``, one must be free there from the root
        namespace). ``wrap``: turns the responder's argv into the one to run, e.g.
        :meth:`~tests.servers.netns.NetnsHost.exec_argv` to start it in a namespace.
        """
        super().__init__(port=port, start_timeout=start_timeout)
        self.host = host
        self._wrap = wrap
        self.host6: str | None = "::1" if ipv6 else None
        self.corpus = corpus or corpus_dir()
        self._data_files = None if data_files is None else [_community_of(f) for f in data_files]
        self._extra_files = dict(extra_files or {})
        self._probe_community = probe_community
        self.communities: list[str] = []

    # -- paths ------------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        """The data directory snmpsim serves (a copy, world-readable)."""
        return self.workdir / "data"

    @property
    def cache_dir(self) -> Path:
        """snmpsim's index directory, owned by ``nobody``."""
        return self.workdir / "cache"

    @property
    def log_path(self) -> Path:
        """snmpsim's stdout and stderr."""
        return self.output_path

    # -- data -------------------------------------------------------------------------------
    def _prepare_dirs(self) -> None:
        """Copy the chosen corpus files and write the extra ones; make everything readable."""
        self.workdir.chmod(0o755)
        self.data_dir.mkdir(mode=0o755)
        self.cache_dir.mkdir(mode=0o755)
        nobody = pwd.getpwnam(_PROCESS_USER)
        if os.geteuid() == 0:
            os.chown(self.cache_dir, nobody.pw_uid, nobody.pw_gid)
        for community in self._corpus_selection():
            self._install(community, (self.corpus / f"{community}.snmprec").read_text("latin-1"))
        for community, text in self._extra_files.items():
            self._install(_community_of(community), text)
        self.communities = corpus_communities(self.data_dir)

    def _corpus_selection(self) -> list[str]:
        """The corpus communities to copy."""
        if self._data_files is not None:
            return self._data_files
        if not self.corpus.is_dir():
            raise SnmpsimStartError(missing_corpus() or f"no snmprec corpus at {self.corpus}")
        return corpus_communities(self.corpus)

    def _install(self, community: str, text: str) -> None:
        """Write ``<data>/<community>.snmprec`` (644), its directories 755."""
        target = self.data_dir / f"{community}.snmprec"
        for parent in reversed(target.relative_to(self.data_dir).parents[:-1]):
            (self.data_dir / parent).mkdir(mode=0o755, exist_ok=True)
        target.write_text(text if text.endswith("\n") else text + "\n", encoding="latin-1")
        target.chmod(0o644)

    def probe_community(self) -> str:
        """The community polled to decide snmpsim answers."""
        if self._probe_community:
            return self._probe_community
        if DEFAULT_PROBE_COMMUNITY in self.communities:
            return DEFAULT_PROBE_COMMUNITY
        if not self.communities:
            raise SnmpsimStartError("snmpsim has no data file to serve")
        return self.communities[0]

    # -- lifecycle --------------------------------------------------------------------------
    def _argv(self) -> list[str]:
        """The responder's command line."""
        argv = [
            str(snmpsim_binary()),
            f"--data-dir={self.data_dir}",
            f"--cache-dir={self.cache_dir}",
            f"--agent-udpv4-endpoint={self.host}:{self.port}",
        ]
        if self.host6:
            argv.append(f"--agent-udpv6-endpoint=[{self.host6}]:{self.port}")
        if os.geteuid() == 0:
            argv += [f"--process-user={_PROCESS_USER}", f"--process-group={_PROCESS_GROUP}"]
        return self._wrap(argv) if self._wrap else argv

    def _prepare(self) -> None:
        """Check the responder is installed, make the private directory, copy the data."""
        snmpsim_binary()
        super()._prepare()
        self._prepare_dirs()

    def _pick_port(self) -> int:
        return free_udp_port_on(self.host, self.host6)

    def answers(self, community: str | None = None) -> bool:
        """True when a v2c GET of sysObjectID for ``community`` gets a value back."""
        result = snmpget(
            self.host,
            self.port,
            [SYS_OBJECT_ID_OID],
            community=community or self.probe_community(),
            timeout=1.0,
        )
        return result.returncode == 0 and f".{SYS_OBJECT_ID_OID} = " in result.stdout
