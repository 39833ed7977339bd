"""``python -m pipcachefirst``: the same as the ``pipcachefirst`` command."""

import sys

from pipcachefirst.cli import main

sys.exit(main())
