"""``python -m dlgtut``: see :mod:`dlgtut.cli`."""

import sys

from .cli import main

sys.exit(main())
