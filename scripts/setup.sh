#!/usr/bin/env bash
# Installs everything CHM needs on a fresh Debian 12 machine: the system packages (net-snmp,
# Prometheus, Alertmanager, the anchor exporters for the benchmarks), a virtual environment for
# the exporter at .venv and one for the SNMP simulator at /opt/chm-snmpsim. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv python3-dev python3-gdbm gcc make iproute2 procps iputils-ping
  snmpd snmp
  prometheus prometheus-alertmanager
  prometheus-snmp-exporter prometheus-blackbox-exporter
)
SNMPSIM_VENV=/opt/chm-snmpsim

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  # Debian's snmpd and prometheus packages try to start their services; nothing here wants them.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ ! -x .venv/bin/python ]; then
  echo "== python venv .venv"
  /usr/bin/python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'

# snmpsim drops privileges to nobody when started as root, so it lives in a world-readable
# place, on Debian's python with python3-gdbm (its index needs a dbm module nobody can load).
if [ ! -x "$SNMPSIM_VENV/bin/snmpsim-command-responder" ]; then
  echo "== snmpsim venv $SNMPSIM_VENV"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO /usr/bin/python3 -m venv "$SNMPSIM_VENV"
  # snmpsim 1.2.2 imports pysmi without declaring it.
  $SUDO "$SNMPSIM_VENV/bin/pip" install -q --disable-pip-version-check \
    snmpsim==1.2.2 pysmi==2.0.0 pysnmp==7.1.30 pyasn1==0.6.5
fi

# Unprivileged ICMP (datagram) sockets for every group; the exporter needs no root for ping.
if [ "$(id -u)" -eq 0 ]; then
  sysctl -q -w net.ipv4.ping_group_range="0 2147483647" || true
fi
echo "== setup done"
