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

And the one rule pipcachefirst lives by inside someone else's program: our
code failing never fails pip.  Both choke points are guarded here, once, so
no hook and no wrapper has to remember its own ``try``:

- a post-import hook that raises does not break the import it follows: it is
  one warning line, and from then on every wrapper steps aside (:func:`stop`)
  and pip runs as plain pip;
- a wrapper is built in one of three shapes, :func:`before`, :func:`after`
  and :func:`instead`, each of which guards our part: when it raises, pip's
  own function is called exactly once, with the arguments pip gave, its
  result (or its own exception) is what pip gets, and the failure is one
  warning line.

Nothing here knows of pip.  Only ``sys`` and ``threading`` (both loaded in
every interpreter) are imported.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, Dict, List, Optional, Set

Hook = Callable[[Any], None]
Wrapper = Callable[[Any, Any, Any, Any], Any]
Report = Callable[[str, BaseException], None]

_hooks: Dict[str, List[Hook]] = {}
_lock = threading.RLock()
_finder_installed = False
_stopped = False  # a hook failed: every wrapper calls pip's own function, and no hook runs any more


def _say_on_stderr(what: str, exc: BaseException) -> None:
    sys.stderr.write(f"pipcachefirst: {what} ({type(exc).__name__}: {exc}); pip carries on without it\n")


_report: Report = _say_on_stderr


def report_failures_to(report: Report) -> None:
    """Where a failing hook or wrapper is told: ``report(what, exc)``, whose job it is to say it in one line."""
    global _report
    _report = report


def stop() -> None:
    """Step aside for the rest of the process: no hook runs any more, and every wrapper just calls pip's function."""
    global _stopped
    with _lock:
        _stopped = True
        _hooks.clear()


def stopped() -> bool:
    return _stopped


def when_imported(name: str, hook: Hook) -> None:
    """Call ``hook(module)`` once module ``name`` is imported: now if it already is."""
    with _lock:
        module = sys.modules.get(name)
        if module is None:
            _hooks.setdefault(name, []).append(hook)
            _install_finder()
            return
    _run_hook(name, hook, module)


def _install_finder() -> None:
    global _finder_installed
    if not _finder_installed:
        _finder_installed = True
        sys.meta_path.insert(0, _PostImportFinder())


def _run_hooks(name: str, module: Any) -> None:
    with _lock:
        hooks = _hooks.pop(name, [])
    for hook in hooks:
        if not _run_hook(name, hook, module):
            return


def _run_hook(name: str, hook: Hook, module: Any) -> bool:
    """Run one hook; if it raises, pip's import goes on and pip runs as plain pip from now on (False)."""
    if _stopped:
        return False
    try:
        hook(module)
    except Exception as exc:  # noqa: BLE001 -- a hook is ours: pip's import goes on, as plain pip
        stop()
        _report(f"a hook after importing {name} failed", exc)
        return False
    return True


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


# -- the three shapes of a wrapper, each guarding our part -----------------------


class Refusal(Exception):
    """Raised by our part to fail pip's call on purpose with pip's own ``error`` (offline mode's missing pins).

    The one exception a guard lets through: ``error`` is raised in its place.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class PipCall:
    """pip's own function with the arguments pip gave, for our part to call at most once.

    It remembers whether it was called and what it returned or raised, so
    that a guard can tell pip's exception from ours, and never calls pip's
    function a second time.
    """

    def __init__(self, wrapped: Callable[..., Any], args: Any, kwargs: Any) -> None:
        self.wrapped, self.args, self.kwargs = wrapped, args, kwargs
        self.called = False
        self.result: Any = None
        self.raised: Optional[BaseException] = None

    def __call__(self, *args: Any) -> Any:
        """pip's function on pip's arguments; ``args``, if given, stand in for them (a generator read into a list)."""
        if self.called:
            raise RuntimeError(f"{getattr(self.wrapped, '__name__', 'pip')} was already called")
        self.called = True
        try:
            self.result = self.wrapped(*args) if args else self.wrapped(*self.args, **self.kwargs)
        except BaseException as exc:
            self.raised = exc
            raise
        return self.result


Instead = Callable[[PipCall, Any, Any, Any], Any]
Before = Callable[[Any, Any, Any], None]
After = Callable[[Any, Any, Any, Any], None]


def instead(what: str, when_stopped: bool = False) -> Callable[[Instead], Wrapper]:
    """Decorates ``ours(pip, instance, args, kwargs)`` into a wrapper: our answer, or ``pip()``, pip's own.

    When ``ours`` raises: pip's own exception, if pip's call raised, goes on
    unchanged; otherwise the failure is one warning (``what``) and pip gets
    what its own function returned, called now if ``ours`` had not called it.
    Once a hook failed (:func:`stop`) the wrapper is pip's function alone,
    unless ``when_stopped``: a wrapper that must settle what earlier calls of
    this command started (a deferred header, answers already given) still runs.
    """

    def decorate(ours: Instead) -> Wrapper:
        def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            if _stopped and not when_stopped:
                return wrapped(*args, **kwargs)
            pip = PipCall(wrapped, args, kwargs)
            try:
                return ours(pip, instance, args, kwargs)
            except Refusal as refusal:
                failure: Exception = refusal
            except Exception as exc:
                if exc is pip.raised:
                    raise
                failure = exc
            if pip.raised is not None:
                raise pip.raised  # our clean-up failed after pip's own failure: pip's, as plain pip raises it
            if isinstance(failure, Refusal):
                raise failure.error
            _report(what, failure)
            return pip.result if pip.called else wrapped(*args, **kwargs)

        wrapper.__name__, wrapper.__doc__ = getattr(ours, "__name__", "wrapper"), ours.__doc__
        return wrapper

    return decorate


def before(what: str, when_stopped: bool = False) -> Callable[[Before], Wrapper]:
    """Decorates ``ours(instance, args, kwargs)`` into a wrapper that runs it, then pip's function."""

    def decorate(ours: Before) -> Wrapper:
        def run(pip: PipCall, instance: Any, args: Any, kwargs: Any) -> Any:
            ours(instance, args, kwargs)
            return pip()

        run.__name__, run.__doc__ = getattr(ours, "__name__", "run"), ours.__doc__
        return instead(what, when_stopped)(run)

    return decorate


def after(what: str) -> Callable[[After], Wrapper]:
    """Decorates ``ours(instance, args, kwargs, result)`` into a wrapper that runs it after pip's function.

    pip's result is what pip gets, whatever ``ours`` does.
    """

    def decorate(ours: After) -> Wrapper:
        def run(pip: PipCall, instance: Any, args: Any, kwargs: Any) -> Any:
            result = pip()
            ours(instance, args, kwargs, result)
            return result

        run.__name__, run.__doc__ = getattr(ours, "__name__", "run"), ours.__doc__
        return instead(what)(run)

    return decorate
