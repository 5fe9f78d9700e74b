"""`python -m chm_exporter`."""

import sys

from chm_exporter.cli import main

sys.exit(main())
