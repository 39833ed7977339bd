"""``python -m tests.differential``: see ``run.py``."""

import sys

from tests.differential.run import main

sys.exit(main())
