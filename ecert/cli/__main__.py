"""``python -m ecert.cli``: the ``ecert`` command."""

import sys

from .commands import main

sys.exit(main())
