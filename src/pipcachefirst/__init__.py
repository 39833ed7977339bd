"""pipcachefirst: pip serves exact pins from a local cache without asking the index.

Importing this package does nothing else: interpreter start-up imports it on
every run (see ``_startup``), so it must stay free of imports.
"""

__version__ = "0.1.0"
