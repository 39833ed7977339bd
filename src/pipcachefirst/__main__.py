"""``python -m pipcachefirst``: the same as the ``pipcachefirst`` command."""

import sys

from pipcachefirst.commands.cli import main

sys.exit(main())
