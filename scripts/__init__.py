"""Setup, test, demo and docs scripts; the Python ones run as modules from the repository root."""
