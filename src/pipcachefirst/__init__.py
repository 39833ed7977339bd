"""pipcachefirst: pip serves exact pins from a local cache without asking the index.

Interpreter start-up imports this package on every run (see ``_startup``), so
it imports nothing but ``os`` (which ``site`` has loaded already).  It holds
the version and the one variable every interpreter reads before anything else
of pipcachefirst: ``PIPCACHEFIRST``, read the same way by start-up, the
virtualenv seeder and the settings.
"""

import os

__version__ = "0.1.0"

SWITCH = "PIPCACHEFIRST"
OFF_VALUES = ("0", "false", "off", "no")
ON_VALUES = ("", "1", "true", "on", "yes")


def switch_state(value: "str | None" = None) -> str:
    """Return ``"on"``, ``"off"`` or ``"invalid"`` for a ``PIPCACHEFIRST`` value."""
    if value is None:
        value = os.environ.get(SWITCH, "")
    value = value.strip().lower()
    if value in OFF_VALUES:
        return "off"
    if value in ON_VALUES:
        return "on"
    return "invalid"
