"""CHM (Catalyst Health Monitor): a Prometheus exporter for network-device health.

The public surface is small: :func:`create_app` builds the aiohttp application,
:func:`load_config` reads and validates a configuration file.
"""

from chm_exporter.config import Config, load_config
from chm_exporter.errors import ChmError, ConfigError, TargetError
from chm_exporter.server import create_app
from chm_exporter.version import __version__

__all__ = [
    "ChmError",
    "Config",
    "ConfigError",
    "TargetError",
    "__version__",
    "create_app",
    "load_config",
]
