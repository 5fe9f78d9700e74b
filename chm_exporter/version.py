"""The exporter's version (a leaf: the package face and the server both need it)."""

__version__ = "0.1.0"
