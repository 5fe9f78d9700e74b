#!/usr/bin/env bash
# Installs everything CHM needs on a fresh Debian 12 machine: the system packages (net-snmp,
# Prometheus, Alertmanager, the anchor exporters for the benchmarks), a virtual environment for
# the exporter at .venv (with the demo's recorded devices, snmpsim-data) and one for the SNMP
# simulator at /opt/chm-snmpsim. Idempotent, and quick when nothing changed.
#
# The Debian packages ship services (snmpd, prometheus, prometheus-alertmanager,
# prometheus-snmp-exporter, prometheus-blackbox-exporter) that apt would start and enable;
# nothing here wants them running (the tests start their own, on loopback), so the packages
# this script installs are installed without starting them, and their services are disabled.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv python3-dev python3-gdbm gcc make iproute2 procps iputils-ping
  snmpd snmp libwireshark-data
  prometheus prometheus-alertmanager
  prometheus-snmp-exporter prometheus-blackbox-exporter
)
#: package -> the service it ships
declare -A SERVICES=(
  [snmpd]=snmpd [prometheus]=prometheus [prometheus-alertmanager]=prometheus-alertmanager
  [prometheus-snmp-exporter]=prometheus-snmp-exporter
  [prometheus-blackbox-exporter]=prometheus-blackbox-exporter
)
SNMPSIM_VENV=/opt/chm-snmpsim
# Real recorded walks for the demo (BSD-2-Clause). Installed without its dependencies
# (snmpsim, pysmi<2): the exporter's venv only reads its data files.
SNMPSIM_DATA=snmpsim-data==1.0.1
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
changed=""  # set when a step had work to do; silent otherwise

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"; changed=1
  $SUDO apt-get update -qq
  # policy-rc.d 101 tells the maintainer scripts not to start services (an existing one is
  # someone's policy and stays as it is).
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    trap '$SUDO rm -f "$policy"' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [ -d /run/systemd/system ]; then
    for p in "${missing[@]}"; do
      if [ -n "${SERVICES[$p]:-}" ]; then
        $SUDO systemctl disable --now -q "${SERVICES[$p]}" || true
      fi
    done
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "== python venv .venv"; changed=1
  /usr/bin/python3 -m venv .venv
fi
# Skip pip when pyproject.toml and the pins here are what was installed last time.
stamp=.venv/.chm-setup-stamp
want="$(cat pyproject.toml <(echo "$SNMPSIM_DATA") | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "== pip install -e .[dev] $SNMPSIM_DATA into .venv"; changed=1
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
  .venv/bin/pip install -q --disable-pip-version-check --no-deps "$SNMPSIM_DATA"
  echo "$want" > "$stamp"
fi

# snmpsim drops privileges to nobody when started as root, so it lives in a world-readable
# place, on Debian's python with python3-gdbm (its index needs a dbm module nobody can load).
if [ ! -x "$SNMPSIM_VENV/bin/snmpsim-command-responder" ]; then
  echo "== snmpsim venv $SNMPSIM_VENV"; changed=1
  $SUDO /usr/bin/python3 -m venv "$SNMPSIM_VENV"
  # snmpsim 1.2.2 imports pysmi without declaring it.
  $SUDO "$SNMPSIM_VENV/bin/pip" install -q --disable-pip-version-check \
    snmpsim==1.2.2 pysmi==2.0.0 pysnmp==7.1.30 pyasn1==0.6.5
fi

# Unprivileged ICMP (datagram) sockets for every group; the exporter needs no root for ping.
if [ "$(id -u)" -eq 0 ]; then
  sysctl -q -w net.ipv4.ping_group_range="0 2147483647" || true
fi
[ -z "$changed" ] || echo "== setup done"
