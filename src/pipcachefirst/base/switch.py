"""``PIPCACHEFIRST``: the one variable read in every interpreter, before anything else of pipcachefirst.

Start-up (:mod:`pipcachefirst.boot.startup`), the virtualenv seeder and the
settings read it the same way, from here.  Standard library only, and only
``os``: every interpreter of an environment imports this module.
"""

from __future__ import annotations

import os

SWITCH = "PIPCACHEFIRST"
OFF_VALUES = ("0", "false", "off", "no")
ON_VALUES = ("", "1", "true", "on", "yes")


def switch_state(value: str | None = None) -> str:
    """Return ``"on"``, ``"off"`` or ``"invalid"`` for a ``PIPCACHEFIRST`` value."""
    if value is None:
        value = os.environ.get(SWITCH, "")
    value = value.strip().lower()
    if value in OFF_VALUES:
        return "off"
    if value in ON_VALUES:
        return "on"
    return "invalid"
