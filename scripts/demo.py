"""The embedded demo: real recorded devices (snmpsim on loopback) and the exporter.

Run through scripts/demo.sh (``python -m scripts.demo`` from the checkout). The devices are
walks of real Cisco, Juniper, Arista, HPE, Brocade and Linux machines from the PyPI package
snmpsim-data (BSD-2-Clause; scripts/setup.sh installs it), so the demo needs nothing beside the
checkout. Prints the commands to try and
real output of the exporter it started, then serves until Ctrl-C (or stops at once with
--once), stopping everything it started. Any failure is one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import bz2
import importlib.resources
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.servers.process import exporter_command, stop_process
from tests.servers.snmpsim import Snmpsim, SnmpsimStartError

#: demo name (also its community) -> recording in snmpsim-data (data/<path>.snmprec.bz2)
DEVICES = {
    "sw-cisco": "network/switch/cisco-c3560",
    "rt-juniper": "network/router/juniper-mx960-13-3r9-13",
    "sw-arista": "cloud/arista-dcs-7150s-52-cl",
    "sw-hpe": "network/switch/hpe-procurve-516733-b21",
    "sw-brocade": "network/switch/brocade-icx6430-24",
    "srv-linux": "os/linux/unknown-006",
}
SAMPLE_DEVICE = "sw-cisco"
SAMPLE_PREFIXES = (
    "probe_success",
    "chm_device_info",
    "chm_cpu_utilization_ratio",
    "chm_memory_used_bytes",
    "chm_temperature_celsius",
    "chm_interface_up{",
)
_INFO = re.compile(r"^chm_device_info\{(.*)\} 1", re.M)


class DemoError(Exception):
    """What went wrong, in one line."""


def recordings() -> dict[str, str]:
    """Community -> snmprec text of each demo device, read from the installed snmpsim-data."""
    try:
        data = importlib.resources.files("snmpsim_data") / "data"
    except ModuleNotFoundError:
        raise DemoError(
            "snmpsim-data is not installed in this venv: run scripts/setup.sh"
        ) from None
    return {
        name: bz2.decompress((data / f"{path}.snmprec.bz2").read_bytes()).decode("latin-1")
        for name, path in DEVICES.items()
    }


def check_port_free(port: int) -> None:
    """Refuse a port something already listens on (another demo, another exporter)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise DemoError(
                f"127.0.0.1:{port} is in use ({exc.strerror}): another demo or exporter? "
                "Stop it, or run on another port: scripts/demo.sh --port N"
            ) from None


def write_config(path: Path) -> None:
    """One auth per simulated device (snmpsim tells devices apart by community)."""
    auths = "".join(f"  {name}: {{version: 2c, community: {name}}}\n" for name in DEVICES)
    path.write_text(
        f"auths:\n{auths}"
        "modules:\n"
        "  if_mib:\n    snmp: {profiles: [system, if_mib]}\n"
        "  icmp:\n    icmp: {count: 3, interval: 100ms}\n"
    )


def get(url: str, timeout: float = 30) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return str(resp.read().decode())


def listener_pids(port: int) -> set[int]:
    """Processes listening on TCP `port` (from `ss -p`)."""
    out = subprocess.run(
        ["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, check=False
    ).stdout
    return {int(pid) for pid in re.findall(r"pid=(\d+)", out)}


def last_line(log: Path) -> str:
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1].strip() if lines else "no output"


def wait_ready(
    base: str, port: int, exporter: subprocess.Popen[bytes], log: Path, limit: float = 30
) -> None:
    """Until the exporter *we started* answers: alive, listening on `port`, healthy."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if exporter.poll() is not None:
            raise DemoError(f"the exporter exited with {exporter.returncode}: {last_line(log)}")
        if exporter.pid in listener_pids(port):
            try:
                get(f"{base}/-/healthy", timeout=2)
            except OSError:
                pass
            else:
                return
        time.sleep(0.2)
    raise DemoError(f"the exporter did not become ready on {base} in {limit:g} s: {last_line(log)}")


def device_line(base: str, target: str, name: str) -> str:
    """One device probed with module=auto, in one line: success, identity, series count."""
    text = get(f"{base}/probe?target={target}&auth={name}&module=auto")
    ok = 'probe_success{prober="snmp"} 1' in text
    info = _INFO.search(text)
    labels = dict(re.findall(r'(\w+)="([^"]*)"', info.group(1))) if info else {}
    identity = " ".join(v for k in ("vendor", "model", "os_version") if (v := labels.get(k)))
    series = sum(1 for ln in text.splitlines() if ln.startswith("chm_"))
    return f"  {name:<11} probe_success {int(ok)}  {series:>4} chm_ series  {identity}"


def show(base: str, target: str) -> None:
    """The commands to try, each device in one line, and a sample of one probe."""
    print(f"\n== CHM exporter on {base}  (landing page: {base}/)")
    print("\nThe simulated devices, probed now with module=auto:")
    for name in DEVICES:
        print(device_line(base, target, name), flush=True)
    print("\nTry (each auth= picks one simulated device):")
    for name in DEVICES:
        print(f"  curl '{base}/probe?target={target}&auth={name}&module=auto'")
    print(f"  curl '{base}/probe?target=127.0.0.1&module=icmp'")
    print(f"  curl '{base}/probe?target={target}&auth=rt-juniper&debug=true'")
    print(f"  curl '{base}/metrics'")
    probe = f"{base}/probe?target={target}&auth={SAMPLE_DEVICE}&module=auto"
    lines = [ln for ln in get(probe).splitlines() if ln.startswith(SAMPLE_PREFIXES)]
    lines.sort(key=lambda ln: next(i for i, p in enumerate(SAMPLE_PREFIXES) if ln.startswith(p)))
    print(f"\nA sample of {probe}:\n")
    print("\n".join(lines[:16]) + "\n...", flush=True)


def run(port: int, once: bool) -> int:
    base = f"http://127.0.0.1:{port}"
    check_port_free(port)
    devices = recordings()
    print(
        "== starting simulated devices (snmpsim, real recorded walks) on 127.0.0.1 ...", flush=True
    )
    with (
        Snmpsim(data_files=[], extra_files=devices) as sim,
        tempfile.TemporaryDirectory() as tmp,
    ):
        config, log = Path(tmp) / "chm.yml", Path(tmp) / "exporter.log"
        write_config(config)
        with log.open("wb") as out:
            exporter = subprocess.Popen(
                exporter_command(config, f"127.0.0.1:{port}", "--log.level", "warn"),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_ready(base, port, exporter, log)
            show(base, f"127.0.0.1:{sim.port}")
            if once:
                return 0
            print("\nServing. Ctrl-C stops the exporter and the simulated devices.", flush=True)
            try:
                while exporter.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                print("\n== stopping")
                return 0
            raise DemoError(f"the exporter exited with {exporter.returncode}: {last_line(log)}")
        finally:
            stop_process(exporter, timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9840, help="exporter port on 127.0.0.1")
    parser.add_argument("--once", action="store_true", help="print the output and stop")
    args = parser.parse_args()
    try:
        return run(args.port, args.once)
    except (DemoError, SnmpsimStartError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"demo: {first}", file=sys.stderr)
        return 1


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    sys.exit(main())
