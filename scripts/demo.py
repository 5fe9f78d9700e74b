"""The embedded demo: a few real recorded devices (snmpsim on loopback) and the exporter.

Run through scripts/demo.sh. Prints the commands to try and a sample of real output, then
serves until Ctrl-C, which stops everything it started.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.servers.process import exporter_command
from tests.servers.snmpsim import Snmpsim

DEVICES = {
    "sw-cisco": "cisco_ios/ios_2960x",
    "sw-juniper": "juniper_junos/junos_mx5t-isis",
    "sw-arista": "arista_eos/arista_eos_7280r",
    "sw-aruba": "aruba_aoscx/arubaos-cx_8360",
    "srv-linux": "linux_netsnmp/linux_powermon",
}


SAMPLE_PREFIXES = (
    "probe_success",
    "chm_device_info",
    "chm_cpu_utilization_ratio",
    "chm_memory_used_bytes",
    "chm_temperature_celsius",
    "chm_interface_up{",
)


def _config(path: Path) -> None:
    auths = "".join(f"  {name}: {{version: 2c, community: {c}}}\n" for name, c in DEVICES.items())
    path.write_text(
        "# CHM demo: one auth per simulated device (snmpsim tells devices apart by community).\n"
        f"auths:\n{auths}"
        "modules:\n"
        "  if_mib:\n    snmp: {profiles: [system, if_mib]}\n"
        "  icmp:\n    icmp: {count: 3}\n"
    )


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return str(resp.read().decode())


def _wait_ready(url: str, proc: subprocess.Popen[bytes], limit: float = 20) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the exporter exited with {proc.returncode}")
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the exporter did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9840, help="exporter port on 127.0.0.1")
    parser.add_argument("--once", action="store_true", help="print the sample and stop")
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    print(
        "== starting simulated devices (snmpsim, real recorded walks) on 127.0.0.1 ...", flush=True
    )
    with Snmpsim(data_files=DEVICES.values()) as sim, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "chm.yml"
        _config(config)
        exporter = subprocess.Popen(
            exporter_command(config, f"127.0.0.1:{args.port}", "--log.level", "warn"),
        )
        try:
            _wait_ready(f"{base}/-/healthy", exporter)
            target = f"127.0.0.1:{sim.port}"
            probe = f"{base}/probe?target={target}&auth=sw-cisco&module=auto"
            sample = _get(probe)
            lines = [ln for ln in sample.splitlines() if ln.startswith(SAMPLE_PREFIXES)]
            lines.sort(
                key=lambda ln: next(i for i, p in enumerate(SAMPLE_PREFIXES) if ln.startswith(p))
            )
            print(f"\n== CHM exporter on {base}  (landing page: {base}/)")
            print("\nTry (each --auth picks one simulated device):")
            for name in DEVICES:
                print(f"  curl '{base}/probe?target={target}&auth={name}&module=auto'")
            print(f"  curl '{base}/probe?target=127.0.0.1&module=icmp'")
            print(f"  curl '{base}/probe?target={target}&auth=sw-juniper&debug=true'")
            print(f"  curl '{base}/metrics'")
            print(f"\nA sample of {probe}:\n")
            print("\n".join(lines[:16]) + "\n...", flush=True)
            if args.once:
                return 0
            print("\nServing. Ctrl-C stops the exporter and the simulated devices.", flush=True)
            try:
                while exporter.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                print("\n== stopping")
            return 0
        finally:
            exporter.terminate()
            exporter.wait(10)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    sys.exit(main())
