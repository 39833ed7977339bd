"""``python -m pipcachefirst``: the same as the ``pipcachefirst`` command."""

import sys

from pipcachefirst.commands.main import main

sys.exit(main())
