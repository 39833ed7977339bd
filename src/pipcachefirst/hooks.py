"""Wire pipcachefirst into pip with wrapt post-import hooks.

Imported by the start-up trigger only once pip is importing its index
package, and imports everything it will ever need right here: pip 26.3
refuses new imports once installation starts.

Every wrapper calls pip's own function unchanged when anything is off, and an
exception inside our part becomes one warning line, never a failed pip run.
A hook point a pip version lacks disables only the feature that needs it.
"""

from __future__ import annotations

import logging
import sys
import weakref
from typing import Any, Callable, Dict, List, MutableMapping, Tuple

from packaging.utils import canonicalize_name

from pipcachefirst import pipcompat, record, serve, settings
from pipcachefirst._wrapt import import_wrapt
from pipcachefirst.session import CURRENT as SESSION
from pipcachefirst.provenance import normalized_set
from pipcachefirst.session import Decision
from pipcachefirst.store import StoreError

wrapt = import_wrapt()
logger = logging.getLogger("pipcachefirst")

_installed = False
# Per PackageFinder: the answers given (pip asks the same question several
# times and must get the same answer), and the links its pages listed.
_answers: MutableMapping[Any, Dict[Tuple[Any, ...], serve.Answer]] = weakref.WeakKeyDictionary()
_page_links: MutableMapping[Any, Dict[str, List[Any]]] = weakref.WeakKeyDictionary()
_picks: MutableMapping[Any, Dict[Any, Any]] = weakref.WeakKeyDictionary()


def install() -> None:
    """Register the post-import hooks, once per process."""
    global _installed
    if _installed:
        return
    _installed = True
    problem = settings.switch_problem()
    if problem:
        sys.stderr.write(problem + "\n")
        return
    if not pipcompat.pip_version_supported():
        logger.log(pipcompat.VERBOSE, "pipcachefirst: pip %s is not one it knows; stepping aside", pipcompat.pip_version())
        return
    for module_name, patch in (
        (pipcompat.COMMAND_MODULE, _patch_command),
        (pipcompat.FINDER_MODULE, _patch_finder),
        (pipcompat.PREPARER_MODULE, _patch_preparer),
        (pipcompat.WHEEL_BUILDER_MODULE, _patch_wheel_builder),
    ):
        wrapt.register_post_import_hook(_guarded(patch), module_name)


def _guarded(patch: Callable[[Any], None]) -> Callable[[Any], None]:
    def hook(module: Any) -> None:
        try:
            patch(module)
        except Exception as exc:  # a hook point this pip lacks: that feature only is off
            logger.log(pipcompat.VERBOSE, "pipcachefirst: %s unavailable: %s", patch.__doc__, exc)

    return hook


def _wrap(module: Any, dotted: str, wrapper: Callable[..., Any]) -> None:
    pipcompat.check_signature(pipcompat.resolve(module, dotted), dotted)
    wrapt.wrap_function_wrapper(module, dotted, wrapper)


# -- the command: options, and the summary at the end ------------------------


def _patch_command(module: Any) -> None:
    """summary line and cache location"""
    _wrap(module, pipcompat.COMMAND_PARSE_ARGS, _parse_args)
    _wrap(module, pipcompat.COMMAND_MAIN, _command_main)


def _parse_args(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    parsed = wrapped(*args, **kwargs)
    try:
        if not SESSION.command or SESSION.command == pipcompat.command_name(instance):
            SESSION.use_cache(settings.cache_location(pipcompat.cache_dir_option(parsed[0])))
            SESSION.mode, problem = settings.mode()
            if problem:
                sys.stderr.write(problem + "\n")
            if SESSION.mode == settings.OFFLINE:
                pipcompat.skip_version_check(parsed[0])
    except Exception as exc:
        SESSION.warn("could not find the cache location", exc)
    return parsed


def _command_main(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    if SESSION.command:
        return wrapped(*args, **kwargs)  # a command run inside a command
    SESSION.command = pipcompat.command_name(instance)
    if settings.mode()[0] == settings.OFFLINE:
        _go_offline()
    status = wrapped(*args, **kwargs)
    try:
        line = SESSION.summary()
        if line:
            logger.info("%s", line)
        if status and SESSION.mode == settings.OFFLINE and SESSION.missing() and not SESSION.offline_reported:
            logger.error("%s", _offline_message(SESSION.missing()))
    except Exception:  # the summary is a courtesy; never a reason to fail
        pass
    return status


# -- offline: the index is never asked ---------------------------------------

_offline_origins: MutableMapping[Any, Tuple[str, ...]] = weakref.WeakKeyDictionary()


def _go_offline() -> None:
    """Check the user's requirements against the cache before pip resolves anything.

    Patched here, when the command starts, because pip's requirement-command
    module is still being imported when the other hooks are registered.
    """
    try:
        module = sys.modules[pipcompat.REQ_COMMAND_MODULE]
        _wrap(module, pipcompat.GET_REQUIREMENTS, _get_requirements_offline)
    except Exception as exc:
        SESSION.warn("offline mode is unavailable with this pip", exc)


def _get_requirements_offline(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    ireqs = wrapped(*args, **kwargs)
    finder = args[2] if len(args) > 2 else kwargs["finder"]
    _offline_origins[finder] = tuple(_origins(finder))
    pipcompat.search_no_index(finder)
    missing = []
    for wanted in pipcompat.wanted_requirements(ireqs):
        answer = _answer(finder, wanted.name, wanted.specifier, wanted.hashes)
        if answer.result is None and answer.decision is not None:
            missing.append(answer.decision)
    if missing:
        SESSION.offline_reported = True
        raise pipcompat.installation_error(_offline_message(missing))
    return ireqs


def _offline_message(missing: List[Decision]) -> str:
    wanted = " ".join(f"'{d.project}{d.pin}'" for d in missing)
    listed = ", ".join(f"{d.project}{d.pin} ({d.detail})" for d in missing)
    return (
        f"pipcachefirst: offline ({settings.MODE_VARIABLE}=offline), and not in the cache: {listed}. "
        f"Fetch them first with: pipcachefirst warm {wanted}"
    )


# -- the finder: serve pins, note what pages list ----------------------------


def _patch_finder(module: Any) -> None:
    """serving pins from the cache"""
    _wrap(module, pipcompat.EVALUATE_LINKS, _evaluate_links)
    _wrap(module, pipcompat.FIND_BEST_CANDIDATE, _find_best_candidate)


def _find_best_candidate(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    try:
        answer = _answer(instance, *args, **kwargs)
    except Exception as exc:
        SESSION.warn("could not use the cache", exc)
        answer = serve.PASS
    if answer.result is not None:
        return answer.result
    return wrapped(*args, **kwargs)


def _answer(finder: Any, project_name: str, specifier: Any = None, hashes: Any = None) -> serve.Answer:
    answers = _answers.setdefault(finder, {})
    key = (project_name, str(specifier), hashes)
    if key in answers:
        return answers[key]
    answer = _fresh_answer(finder, project_name, specifier, hashes)
    answers[key] = answer
    if answer.decision is not None:
        SESSION.decide(answer.decision)
    if answer.entry is not None and SESSION.store is not None:
        SESSION.store.mark_served(answer.entry)
    if answer.entry is not None and not answer.entry.record.filename.endswith(".whl"):
        link = pipcompat.candidate_link(pipcompat.best_candidate(answer.result))
        SESSION.remember_source(pipcompat.link_facts(link).url, answer.entry.record)
    return answer


def _fresh_answer(finder: Any, project_name: str, specifier: Any, hashes: Any) -> serve.Answer:
    off = SESSION.serving_off_reason()
    if SESSION.store is None or off:
        if specifier is None or (SESSION.mode == settings.EXACT and not pipcompat.pinned_versions(specifier)):
            return serve.PASS
        return serve.Answer(
            None, Decision(canonicalize_name(project_name), str(specifier), False, f"pipcachefirst is off: {off}")
        )
    return serve.answer(
        SESSION.store, finder, project_name, specifier, hashes, _origins(finder), _picks.setdefault(finder, {}), SESSION.mode
    )


def _origins(finder: Any) -> List[str]:
    """The locations this command uses; offline, those it used before the index was taken away."""
    if finder in _offline_origins:
        return list(_offline_origins[finder])
    index_urls, find_links = pipcompat.finder_locations(finder)
    return sorted(normalized_set(index_urls + find_links))


def _evaluate_links(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    try:
        link_evaluator, links = _bind_evaluate_links(*args, **kwargs)
    except TypeError:
        return wrapped(*args, **kwargs)
    links = list(links)  # may be a generator: read it once, for pip and for us
    try:
        name = pipcompat.link_evaluator_project(link_evaluator)
        if name:
            _page_links.setdefault(instance, {}).setdefault(canonicalize_name(name), []).extend(links)
    except Exception as exc:
        SESSION.warn("could not note an index page", exc)
    return wrapped(link_evaluator, links)


def _bind_evaluate_links(link_evaluator: Any, links: Any) -> Tuple[Any, Any]:
    return link_evaluator, links


# -- the preparer and the wheel builder: fill the cache ----------------------


def _storing(what: str, store: Callable[[Any, Any, Any], None]) -> Callable[..., Any]:
    """A wrapper that runs pip's function, then ``store(instance, req, result)``.

    Storing is a side effect: its failure is one warning, pip's result stands.
    """

    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        result = wrapped(*args, **kwargs)
        try:
            store(instance, args[0] if args else kwargs["req"], result)
        except StoreError as exc:
            logger.log(pipcompat.VERBOSE, "pipcachefirst: not stored: %s", exc)
        except OSError as exc:
            SESSION.stop_storing(exc)
        except Exception as exc:
            SESSION.warn(f"could not store {what}", exc)
        return result

    return wrapper


def _store_download(preparer: Any, req: Any, _dist: Any) -> None:
    prepared = pipcompat.prepared_file(req)
    if SESSION.store is None or not SESSION.storing or prepared is None:
        return
    finder = pipcompat.preparer_finder(preparer)
    listed = _page_links.get(finder, {}).get(canonicalize_name(prepared.project), [])
    page_links = [pipcompat.link_facts(link) for link in listed]
    entry = record.record_download(SESSION.store, finder, prepared, page_links)
    if entry is not None and not entry.record.filename.endswith(".whl"):
        SESSION.remember_source(pipcompat.link_facts(prepared.link).url, entry.record)


def _store_built(_module: Any, req: Any, wheel_path: Any) -> None:
    link = getattr(req, "link", None)
    if SESSION.store is None or not SESSION.storing or not wheel_path or link is None or getattr(req, "editable", False):
        return
    source = SESSION.sources.get(pipcompat.link_facts(link).url)
    if source is not None:
        record.record_built(SESSION.store, req.name, source, str(wheel_path))


def _patch_preparer(module: Any) -> None:
    """storing downloaded files"""
    _wrap(module, pipcompat.PREPARE_LINKED, _storing("a downloaded file", _store_download))


def _patch_wheel_builder(module: Any) -> None:
    """storing built wheels"""
    _wrap(module, pipcompat.BUILD_ONE, _storing("a built wheel", _store_built))
