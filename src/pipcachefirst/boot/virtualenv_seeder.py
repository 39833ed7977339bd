"""A virtualenv seeder: pip, as virtualenv's default seeder installs it, plus the pipcachefirst hook.

Registered as ``pipcachefirst`` in the ``virtualenv.seed`` entry-point group,
so every tool that creates environments through virtualenv (tox, nox, hatch,
virtualenv itself) can use it once selected: ``pipcachefirst enable
--virtualenv`` writes ``seeder = pipcachefirst`` into virtualenv's own config
file.  It must be installed where virtualenv runs; the new environment gets
only the two seed files (``pipcachefirst.boot.seed``), no packages.

Imported only by virtualenv, so importing virtualenv here costs nothing else.
"""

from __future__ import annotations

from typing import Any

from virtualenv.seed.embed.via_app_data.via_app_data import FromAppData

from pipcachefirst import switch_state
from pipcachefirst.boot import seed


class PipCacheFirstSeeder(FromAppData):  # type: ignore[misc]  # virtualenv has no type information
    """``--seeder pipcachefirst``: the app-data seeder, then the hook."""

    def run(self, creator: Any) -> None:
        super().run(creator)
        if switch_state() != "off":
            seed.write_seed(str(creator.purelib))

