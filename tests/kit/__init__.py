"""Tests of the Prometheus kit: rules, Prometheus and Alertmanager configs, dashboards, Compose.

The helpers here (`tools`, `layout`, `dashboards`) are meant for the end-to-end test too.
"""
