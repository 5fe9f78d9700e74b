"""Network discovery: sweep address ranges, identify the devices that answer, crawl their
LLDP/CDP neighbours, and hand the devices to Prometheus (``/sd``) and to people (``/topology``).

The parts, each one job:

- :mod:`.model`: the ``discovery:`` block of the config (pydantic, leaf module).
- :mod:`.ber`, :mod:`.sweep`: one UDP socket sends a tiny SNMP request to every address at the
  configured rate and notes which auth each answering address took.
- :mod:`.reader`: the seam to the SNMP client ("read these GETs and columns within a deadline").
- :mod:`.identify`: sysObjectID/sysName/sysDescr, the module=auto profile choice, device_info.
- :mod:`.crawl`: neighbours from the ``lldp``/``cdp`` profiles' ``chm_neighbor_info``.
- :mod:`.registry`: the devices found per job, the grace period, http_sd rendering.
- :mod:`.topology`: nodes and edges as JSON and as an SVG picture.
- :mod:`.runner`: jobs on their interval, one run at a time per job, the shared rate.

This file imports nothing so that :mod:`chm_exporter.config` can import :mod:`.model`.
"""
