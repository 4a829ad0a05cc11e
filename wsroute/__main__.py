"""Run the ``wsroute`` command: ``python -m wsroute``."""

import sys

from .cli import main

sys.exit(main())
