"""What the SSH prober (chm_exporter.probers.ssh) is built from.

- :mod:`~chm_exporter.ssh.config`: `ssh_auths` and a module's `ssh:` settings.
- :mod:`~chm_exporter.ssh.profile`: CLI profiles (YAML data per platform) and their templates.
- :mod:`~chm_exporter.ssh.driver`: one scrapli driver for any platform, built from its profile.
- :mod:`~chm_exporter.ssh.sessions`: persistent sessions, one per device, and their self-metrics.
- :mod:`~chm_exporter.ssh.hostkeys`: known_hosts, trust on first use, or off.
- :mod:`~chm_exporter.ssh.parse` and :mod:`~chm_exporter.ssh.emit`: TextFSM records into metrics.
- :mod:`~chm_exporter.ssh.logs`: counting new log-buffer messages scrape after scrape.
"""
