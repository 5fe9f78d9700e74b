"""End-to-end tests: the exporter, the real Prometheus and Alertmanager, simulated devices."""
