"""wrapt, imported without loading asyncio on every pip run.

wrapt 2 imports ``asyncio`` when it is imported, for its ``synchronized``
decorator, which pipcachefirst never uses; pip 24 and later never import it
(22 and 23 do, through their vendored tenacity, and then it loads as before).
Loading it costs 7 to 9 ms, about a quarter of everything pipcachefirst added
to a pip run.  So while wrapt is imported, ``asyncio`` is a deferred module:
an empty module object that runs asyncio's own code, in place, the first time
anything asks it for an attribute it does not have yet -- including
``__path__``, so ``import asyncio.events`` loads asyncio first, as usual.

``importlib.util.LazyLoader`` cannot do this: the ``import asyncio``
statement in wrapt reads ``__spec__``, which makes a lazy module load.

Whatever goes wrong in setting that up, wrapt is imported the plain way.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any, Set

DEFERRED = ("asyncio",)


def import_wrapt() -> ModuleType:
    """The ``wrapt`` module, with the modules named in ``DEFERRED`` loaded only once used."""
    for name in DEFERRED:
        if name not in sys.modules:
            _defer(name)
    import wrapt

    return wrapt


class _DeferredModule(ModuleType):
    """A module whose code has not run yet; the first missing attribute runs it.

    It stays a ``_DeferredModule`` until its code has run, so another thread
    asking meanwhile waits for the lock instead of seeing half a module; the
    loading thread's own questions (``from . import x`` inside the package)
    get the ``AttributeError`` a module being imported gives.
    """

    def __getattr__(self, attribute: str) -> Any:
        with _lock:
            if type(self) is _DeferredModule and self.__name__ not in _running:
                _run(self)
        if type(self) is _DeferredModule:
            raise AttributeError(f"module {self.__name__!r} has no attribute {attribute!r}")
        return getattr(self, attribute)


_lock = threading.RLock()
_running: Set[str] = set()


def _run(module: _DeferredModule) -> None:
    spec = module.__spec__
    _running.add(spec.name)
    try:
        if spec.submodule_search_locations is not None:
            module.__path__ = spec.submodule_search_locations
        spec.loader.exec_module(module)
    except BaseException:  # as after a failed import: gone from sys.modules
        if sys.modules.get(spec.name) is module:
            del sys.modules[spec.name]
        raise
    finally:
        _running.discard(spec.name)
        module.__class__ = ModuleType


def _defer(name: str) -> None:
    try:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return
        module = _DeferredModule(name)
        module.__spec__ = spec
        module.__loader__ = spec.loader
        module.__package__ = name if spec.submodule_search_locations is not None else name.rpartition(".")[0]
        module.__file__ = spec.origin
        sys.modules[name] = module
    except Exception:  # the plain import then happens inside wrapt
        sys.modules.pop(name, None)
