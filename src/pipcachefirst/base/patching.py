"""Post-import hooks and function wrappers, the two things pipcachefirst takes from wrapt's design.

pipcachefirst runs inside the user's environment, whose packages are the
user's choice: a lock may pin any ``wrapt`` (1.12 is common in real locks,
and cannot even be imported on Python 3.11), and pipcachefirst must work
and must not conflict whatever it pins.  So it depends on no package at all,
and does here, with the standard library, what it used wrapt for:

- :func:`when_imported` runs a hook right after a module's code has run,
  or at once if the module is already in ``sys.modules`` (wrapt's
  ``register_post_import_hook``);
- :func:`wrap` replaces a function or method with one that calls
  ``wrapper(wrapped, instance, args, kwargs)``, wrapt's signature, where
  ``wrapped`` is bound and ``args`` has no ``self``
  (wrapt's ``wrap_function_wrapper``).

Nothing here knows of pip.  Only ``sys`` and ``threading`` (both loaded in
every interpreter) are imported.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, Dict, List, Set

Hook = Callable[[Any], None]
Wrapper = Callable[[Any, Any, Any, Any], Any]

_hooks: Dict[str, List[Hook]] = {}
_lock = threading.RLock()
_finder_installed = False


def when_imported(name: str, hook: Hook) -> None:
    """Call ``hook(module)`` once module ``name`` is imported: now if it already is."""
    with _lock:
        module = sys.modules.get(name)
        if module is None:
            _hooks.setdefault(name, []).append(hook)
            _install_finder()
            return
    hook(module)


def _install_finder() -> None:
    global _finder_installed
    if not _finder_installed:
        _finder_installed = True
        sys.meta_path.insert(0, _PostImportFinder())


def _run_hooks(name: str, module: Any) -> None:
    with _lock:
        hooks = _hooks.pop(name, [])
    for hook in hooks:
        hook(module)


class _PostImportFinder:
    """Finds nothing itself; for a watched module it hands out the real spec with hooks after exec.

    It stays in ``sys.meta_path`` once its hooks have run: removing itself
    while the import system walks that list could skip the finder after it.
    """

    _searching: Set[str] = set()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in _hooks or fullname in self._searching:
            return None
        self._searching.add(fullname)
        try:
            spec = _spec_from_others(self, fullname, path, target)
        finally:
            self._searching.discard(fullname)
        loader = getattr(spec, "loader", None)
        exec_module = getattr(loader, "exec_module", None)
        if loader is None or exec_module is None:
            return None  # imported the ordinary way; hooks wait for a later import

        def exec_then_hooks(module: Any) -> None:
            exec_module(module)
            _run_hooks(fullname, module)

        loader.exec_module = exec_then_hooks  # this spec's own loader
        return spec

    def invalidate_caches(self) -> None:
        pass


def _spec_from_others(own: object, fullname: str, path: Any, target: Any) -> Any:
    """The spec the finders after ``own`` in ``sys.meta_path`` give, as an import would get it."""
    for finder in list(sys.meta_path):
        if finder is own:
            continue
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        spec = find_spec(fullname, path, target)
        if spec is not None:
            return spec
    return None


def wrap(owner: Any, name: str, wrapper: Wrapper) -> None:
    """Replace ``owner.name`` (a module's function or a class's method) by one that calls ``wrapper``.

    The replacement keeps the original as ``__wrapped__`` and its name and
    docstring, so a signature check can look underneath, as it does through
    ``functools.lru_cache``.
    """
    original = vars(owner)[name] if name in vars(owner) else getattr(owner, name)
    if isinstance(original, (staticmethod, classmethod)):
        raise TypeError(f"{name} is a {type(original).__name__}; only plain functions and methods are wrapped")
    if isinstance(owner, type):

        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            return wrapper(original.__get__(self, type(self)), self, args, kwargs)

        replacement: Any = method
    else:

        def function(*args: Any, **kwargs: Any) -> Any:
            return wrapper(original, None, args, kwargs)

        replacement = function
    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        try:
            setattr(replacement, attribute, getattr(original, attribute))
        except (AttributeError, TypeError):
            pass
    replacement.__wrapped__ = original
    replacement._pipcachefirst_wrapper = True
    setattr(owner, name, replacement)
