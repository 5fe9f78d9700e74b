"""The Grafana dashboards and their generator (dashboards/generate.py)."""
