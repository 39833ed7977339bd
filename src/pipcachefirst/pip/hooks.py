"""Wire pipcachefirst into pip with post-import hooks (see ``base.patching``).

Imported by the start-up trigger only once pip is importing its index
package, and imports everything it will ever need right here: pip 26.3
refuses new imports once installation starts.

Which pip function is wrapped, and with what, is one table: the hook points
of ``compat.HOOK_POINTS`` and their wrappers in ``_WRAPPERS`` (the end of
this module).  Every wrapper calls pip's own function unchanged when anything
is off, and each is built in one of the three guarded shapes of
``base.patching`` (``before``, ``after``, ``instead``): an exception inside
our part becomes one warning line and pip's own call, never a failed pip run.
A hook point a pip version lacks disables only the feature that needs it.
"""

from __future__ import annotations

import atexit
import gc
import json
import logging
import os
import sys
import time
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from pipcachefirst.base import patching, settings
from pipcachefirst.base.packaging import canonicalize_name
from pipcachefirst.cache import limit
from pipcachefirst.cache.catalog import KIND_BUILT, KIND_DOWNLOAD, Record, StoreError
from pipcachefirst.cache.decisions import Decision
from pipcachefirst.cache.provenance import normalized_set
from pipcachefirst.cache.store import Store
from pipcachefirst.pip import compat, filling, serve
from pipcachefirst.pip.compat import HookPoint
from pipcachefirst.pip.session import CURRENT as SESSION

logger = logging.getLogger("pipcachefirst")


def install() -> None:
    """Register the post-import hooks, once per process."""
    if SESSION.hooks_installed:
        return
    SESSION.hooks_installed = True
    patching.report_failures_to(SESSION.warn)
    problem = settings.switch_problem()
    if problem:
        sys.stderr.write(problem + "\n")
        return
    if not compat.pip_version_supported():
        line = compat.unknown_pip_line()
        if line:  # a newer pip: said once per command (pip runs a command per process), pip runs unchanged
            sys.stderr.write(line + "\n")
        else:
            logger.log(compat.VERBOSE, "pipcachefirst: pip %s is not one it knows; stepping aside",
                       compat.pip_version())
        return
    for module_name in dict.fromkeys(p.module for p in compat.HOOK_POINTS if p.when == compat.IMPORTED):
        patching.when_imported(module_name, _patch_module)


def _patch_module(module: ModuleType) -> None:
    if module.__name__ == compat.INSTALL_WHEEL.module:
        # Loaded with pip's own wheel module, not before: pip imports it (and compileall,
        # zipfile) only to install, and always before it starts refusing imports.
        import pipcachefirst.pip.installing  # noqa: F401, PLC0415
    for point in compat.HOOK_POINTS:
        if point.module == module.__name__ and point.when == compat.IMPORTED:
            _wrap(module, point)


def _wrap(module: ModuleType, point: HookPoint) -> bool:
    """Wrap one hook point with its wrapper from ``_WRAPPERS``; a pip that lacks it loses that feature only."""
    try:
        owner, name = compat.hook_target(module, point)
        patching.wrap(owner, name, _WRAPPERS[point])
    except Exception as exc:  # noqa: BLE001 -- a pip without this point: only its feature is off
        logger.log(compat.VERBOSE, "pipcachefirst: %s unavailable: %s", point.feature, exc)
        return False
    SESSION.hook_points.add(point)  # a feature whose points are not all wrapped is off
    return True


# -- the command: options, and the summary at the end ------------------------


@patching.after("could not find the cache location")
def _parse_args(instance: Any, args: Any, kwargs: Any, parsed: Any) -> None:
    """pip's options are parsed: where the cache is, the mode, installed trees."""
    if SESSION.command and SESSION.command != compat.command_name(instance):
        return
    options = compat.parsed_options(parsed)
    SESSION.parsed_cache_dir = compat.cache_dir_option(options)
    if compat.COMMAND_RUN not in SESSION.hook_points:  # no later look at what pip decided: open it now
        _use_cache(options)
    SESSION.mode, problem = settings.mode()
    if problem:
        sys.stderr.write(problem + "\n")
    SESSION.trees, problem = settings.trees()
    if problem:
        sys.stderr.write(problem + "\n")
    SESSION.max_size, problem = settings.max_size()
    if problem:
        sys.stderr.write(problem + "\n")
    SESSION.stage_ahead = (compat.installs_here_compiled(compat.command_name(instance), options)
                           and settings.copy_ahead())
    if not SESSION.stage_ahead:
        _stop_early_staging()  # its guess from the command line was wrong (options from pip's config)
    if SESSION.mode == settings.OFFLINE:
        compat.skip_version_check(options)


@patching.instead("could not finish the command")
def _command_main(pip: patching.PipCall, instance: Any, args: Any, kwargs: Any) -> Any:
    """The command: hooks that wait for it, pip's run, then the summary and what waits for pip's last line."""
    if SESSION.command:
        return pip()  # a command run inside a command
    SESSION.command = compat.command_name(instance)
    _watch_requirements()
    _watch_pips_cache(instance)
    _watch_self_check()
    try:
        status = pip()
    finally:
        try:
            installing = sys.modules.get("pipcachefirst.pip.installing")
            if installing is not None:
                installing.finish_staging()
            _stop_early_staging()
        finally:
            # pip's clean-up comes after this (the ExitStack of Command.main, which calls _main): it removes the
            # temporary folders that hold the downloads and built wheels being stored; and what was stored is
            # read from here on.  A second Ctrl-C stops the wait (the file being stored is written whole or not).
            SESSION.wait_for_storing()
    try:
        _share_with_team(status)
        line = SESSION.summary()
        if line:
            SESSION.say(line)
        if status and SESSION.mode == settings.OFFLINE and SESSION.missing() and not SESSION.offline_reported:
            logger.error("%s", _offline_message(SESSION.missing()))
    finally:  # a failure above is one warning; the trees noted are built all the same
        installing = sys.modules.get("pipcachefirst.pip.installing")
        if installing is not None:
            installing.build_later()  # after pip's last line: nothing of it is on pip's clock
        _keep_under_limit()
        _skip_the_last_collection()
    return status


def _keep_under_limit() -> None:
    """After pip's last line, at most once in ten minutes: a helper brings the cache under its limit (``limit``)."""
    store = SESSION.store
    if store is None or not SESSION.storing or not SESSION.max_size or os.name != "posix" \
            or SESSION.command == compat.CACHE_COMMAND:
        return
    try:
        if limit.due(store.root, time.time()):
            limit.start(store.root, SESSION.max_size)
    except Exception as exc:  # noqa: BLE001 -- the next command checks again
        logger.log(compat.VERBOSE, "pipcachefirst: not checking the cache's size: %s", exc)


# -- pip's own cache: where pip keeps none, and its cache command -------------

def _watch_pips_cache(command: Any) -> None:
    """Wrap, as the command starts, the run that follows pip's own check of its cache folder, and ``pip cache``.

    A pip whose cache command cannot be wrapped says so on ``pip cache``, naming what does the same.
    """
    try:
        patching.wrap(*compat.command_run_target(command), _WRAPPERS[compat.COMMAND_RUN])
        SESSION.hook_points.add(compat.COMMAND_RUN)
    except Exception as exc:  # noqa: BLE001 -- the cache is then opened as pip's options are parsed
        logger.log(compat.VERBOSE, "pipcachefirst: %s unavailable: %s", compat.COMMAND_RUN.feature, exc)
    module = sys.modules.get(compat.CACHE_COMMAND_MODULE)
    if module is None:
        return
    missing = [p for p in (compat.CACHE_REMOVE, compat.CACHE_INFO)
               if p not in SESSION.hook_points and not _wrap(module, p)]
    if missing:
        logger.warning("pipcachefirst: pip cache does not see pipcachefirst's cache with this pip; "
                       "use pipcachefirst list, prune or clear")


@patching.before("could not find the cache location")
def _command_run(instance: Any, args: Any, kwargs: Any) -> None:
    """Open the cache as pip runs the command: pip has decided about its own cache folder by now.

    Not for ``pip cache``, which looks at the folders as they are and must
    not create one (or reach a team cache) on the way.
    """
    if SESSION.command != compat.CACHE_COMMAND:
        _use_cache(compat.COMMAND_RUN.argument("options", args, kwargs))


def _use_cache(options: Any) -> None:
    """The cache where pip's options point, used only as pip would use a cache folder of its own.

    pip turns its cache off when the folder is not the user's (``sudo pip``
    on a user's cache: ``check_path_owner``), and then reads nothing from it
    either; its options say so.  A cache named by ``PIPCACHEFIRST_DIR`` gets
    pip's rule too.
    """
    cache_dir = compat.cache_dir_option(options)
    location = settings.cache_location(cache_dir)
    if location.root is None and SESSION.parsed_cache_dir and not cache_dir:
        location = location._replace(reason="pip disabled its cache (the folder is not this user's)")
    SESSION.use_cache(location, ours=location.root is None or compat.pip_would_write(location.root) is not False)
    if SESSION.store is None:
        _stop_early_staging()
    _open_team_cache()


@patching.after("could not remove from pipcachefirst's cache")
def _cache_remove(instance: Any, args: Any, kwargs: Any, _result: Any) -> None:
    """``pip cache remove PATTERN`` and ``pip cache purge``: pip's files, then the same of pipcachefirst's cache.

    pip's own errors (no pattern, too many) stop before this, as without us.
    """
    point = compat.CACHE_REMOVE
    [pattern] = point.argument("args", args, kwargs)
    store = _cache_of(point.argument("options", args, kwargs))
    if store is not None and compat.pip_would_write(str(store.root)) is not False:  # as pip: not another's
        _remove_from(store, pattern)


def _remove_from(store: Store, pattern: str) -> None:
    """Remove what ``pattern`` names (``*``: everything, as pip's purge), and say it as pip says its part."""
    from pipcachefirst.cache import tidying  # noqa: PLC0415 -- only for pip cache remove and purge

    items = tidying.removables(store)
    if pattern != "*":
        items = [item for item in items if tidying.matches(pattern, item.name)]
    outcome = tidying.remove(items, time.time(), grace=0)  # pip's purge spares nothing either
    left = tidying.remove_leftovers(store) if pattern == "*" else None
    if left is not None:
        logger.warning("pipcachefirst: could not remove %s", left)
    for is_tree, what in ((False, "cache files"), (True, "installed trees")):
        done = [item for item in outcome.removed if item.is_tree is is_tree]
        logger.info("pipcachefirst %s removed: %d (%s)", what, len(done),
                    compat.format_size(sum(item.size for item in done)))
    if outcome.failed:
        logger.warning("pipcachefirst: %s; pipcachefirst clear says the same", tidying.not_removed(outcome.failed))


@patching.after("could not measure pipcachefirst's cache")
def _cache_info(instance: Any, args: Any, kwargs: Any, _result: Any) -> None:
    """``pip cache info``: pip's lines, then pipcachefirst's cache in the same words."""
    point = compat.CACHE_INFO
    store = _cache_of(point.argument("options", args, kwargs))
    if store is not None:
        from pipcachefirst.cache import tidying  # noqa: PLC0415 -- only for pip cache info

        entries, size = store.usage()
        trees = tidying.shelf(store).usage()
        logger.info("pipcachefirst cache location: %s\npipcachefirst cache size: %s\n"
                    "Number of pipcachefirst cached files: %d\nNumber of pipcachefirst installed trees: %d",
                    store.root, compat.format_size(size + trees.size), entries, trees.trees)


def _cache_of(options: Any) -> Optional[Store]:
    """The store ``pip cache`` acts on: pipcachefirst's cache as this command would use it, if it exists."""
    location = settings.cache_location(compat.cache_dir_option(options))
    if location.root is None or not os.path.isdir(location.root):
        return None
    return Store(location.root, report=SESSION.problem)


def _skip_the_last_collection() -> None:
    """Hide pip's objects from the garbage collector at exit, when pip is the program.

    At exit, Python collects garbage over every object left: after an install
    that is some millions, and it took 0.15 s of every pip run here (the
    interpreter's end, measured from the last atexit handler to the process's
    end: 0.18-0.21 s before, 0.04-0.05 s after, ``flask-celery.txt``, pip 26.3).
    ``gc.freeze()`` moves them out of the collector's sight; the memory goes
    with the process.  What is no longer done at exit is finalizing objects
    caught in reference cycles; pip closes its files and removes its temporary
    folders itself (``with`` blocks, and atexit handlers, which still run).
    Only when pip is the program: a program that runs pip's code inside itself
    keeps the exit it had.
    """
    if compat.pip_is_the_program():
        atexit.register(gc.freeze)


def _stop_early_staging() -> None:
    early_staging = sys.modules.get("pipcachefirst.pip.early_staging")
    if early_staging is not None:
        early_staging.discard()


# -- the user's requirements: pins that hold for every identifier, offline ---


def _watch_requirements() -> None:
    """See the user's requirements before pip resolves anything.

    Patched here, when the command starts, because pip's requirement-command
    module is still being imported when the other hooks are registered.
    """
    point = compat.GET_REQUIREMENTS
    module = sys.modules.get(point.module)
    wrapped = point in SESSION.hook_points or (module is not None and _wrap(module, point))
    if not wrapped and settings.mode()[0] == settings.OFFLINE:
        SESSION.warn("offline mode is unavailable with this pip", ImportError(f"{point.attribute} cannot be wrapped"))


@patching.after("could not read the requirements")
def _get_requirements(instance: Any, args: Any, kwargs: Any, ireqs: Any) -> None:
    """The user's requirements, before pip resolves: their pins, the team cache's files, offline's check."""
    finder = compat.GET_REQUIREMENTS.argument("finder", args, kwargs)
    wanted = compat.wanted_requirements(ireqs)
    SESSION.hash_checking = compat.hash_checking(compat.GET_REQUIREMENTS.argument("options", args, kwargs), ireqs)
    SESSION.finder(finder).root_pins = _pins_by_project(wanted)
    _from_team_cache(finder, [(w.name, w.specifier, w.hashes) for w in wanted])
    if SESSION.mode == settings.OFFLINE:
        _check_offline(finder, wanted)


def _pins_by_project(wanted: List[compat.Wanted]) -> Dict[str, compat.Wanted]:
    """The user's pins, one per project; a project pinned to two versions is left to pip."""
    pins: Dict[str, compat.Wanted] = {}
    versions: Dict[str, Set[Optional[str]]] = {}
    for requirement in wanted:
        canonical = canonicalize_name(requirement.name)
        versions.setdefault(canonical, set()).update(compat.pinned_versions(requirement.specifier) or [None])
        pins.setdefault(canonical, requirement)
    return {name: pins[name] for name, found in versions.items() if len(found) == 1 and None not in found}


def _check_offline(finder: Any, wanted: List[compat.Wanted]) -> None:
    """Offline: fail at once, naming every requirement the cache cannot answer."""
    SESSION.finder(finder).offline_origins = tuple(_origins(finder))
    compat.search_no_index(finder)
    missing = []
    for requirement in wanted:
        answer = _answer(finder, requirement.name, requirement.specifier, requirement.hashes)
        if answer.result is None and answer.decision is not None:
            missing.append(answer.decision)
    if missing:
        SESSION.offline_reported = True
        raise patching.Refusal(compat.installation_error(_offline_message(missing)))


def _offline_message(missing: List[Decision]) -> str:
    wanted = " ".join(f"'{d.project}{d.pin}'" for d in missing)
    listed = ", ".join(f"{d.project}{d.pin} ({d.detail})" for d in missing)
    return (
        f"pipcachefirst: offline ({settings.MODE_VARIABLE}=offline), and not in the cache: {listed}. "
        f"Fetch them first with: pipcachefirst warm {wanted}"
    )


# -- the finder: serve pins, note what pages list ----------------------------


@patching.instead("could not use the cache", when_stopped=True)
def _find_best_candidate(pip: patching.PipCall, instance: Any, args: Any, kwargs: Any) -> Any:
    """pip's finder chooses a file: the cache's answer for a pin it holds, else pip's own choice.

    After a hook failed (``patching.stop``) only the answers already given are
    given again: pip asks one question several times and must get one answer.
    """
    point = compat.FIND_BEST_CANDIDATE
    asked = (point.argument("project_name", args, kwargs), point.argument("specifier", args, kwargs, None),
             point.argument("hashes", args, kwargs, None))
    if patching.stopped():
        given = SESSION.finder(instance).answers.get(_answer_key(*asked))
        return given.result if given is not None and given.result is not None else pip()
    answer = _answer(instance, *asked)
    if answer.result is not None:
        return answer.result
    return pip()


def _answer_key(project_name: str, specifier: Any, hashes: Any) -> Tuple[Any, ...]:
    return (project_name, str(specifier), hashes)


def _answer(finder: Any, project_name: str, specifier: Any = None, hashes: Any = None) -> serve.Answer:
    answers = SESSION.finder(finder).answers
    key = _answer_key(project_name, specifier, hashes)
    if key in answers:
        return answers[key]
    answer = _through_user_pin(finder, project_name, specifier, hashes) or _fresh_answer(
        finder, project_name, specifier, hashes
    )
    answers[key] = answer
    if answer.decision is not None:
        SESSION.decide(answer.decision)
    if answer.entry is not None and SESSION.store is not None:
        SESSION.store.mark_served(answer.entry)
        if SESSION.stage_ahead and answer.entry.record.filename.endswith(".whl"):
            import pipcachefirst.pip.installing  # noqa: PLC0415 (pip installs next, and polices imports only then)

            pipcachefirst.pip.installing.stage_ahead(answer.entry.record.sha256)
    candidate = compat.best_candidate(answer.result)
    if answer.entry is not None and candidate is not None:
        url = compat.link_url(compat.candidate_link(candidate))
        SESSION.served[url] = answer.entry.record
        SESSION.served_files[str(answer.entry.path)] = answer.entry
        if not answer.entry.record.filename.endswith(".whl"):
            SESSION.remember_source(url, answer.entry.record)
    return answer


def _through_user_pin(finder: Any, project_name: str, specifier: Any, hashes: Any) -> Optional[serve.Answer]:
    """The file served for the user's pin, when pip asks for that project by a range.

    A lock may pin ``a[x]==2.1`` while another package needs ``a>=2,<3``
    (or the other way round): two identifiers of one project, which pip
    resolves separately before older pips (< 23.3) merge them.  The user's pin
    decides the version for both, so both must see the same file: were one
    served from the cache and the other listed by the index, pip would
    prepare the file twice, and in hash-checking mode refuse the one that
    came through the range as unpinned.
    """
    if specifier is None or SESSION.mode != settings.EXACT or compat.pinned_versions(specifier):
        return None
    pinned = (SESSION.finder(finder).root_pins or {}).get(canonicalize_name(project_name))
    if pinned is None:
        return None
    [version] = compat.pinned_versions(pinned.specifier)[:1]
    if not specifier.contains(version, prereleases=True):
        return None
    served = _answer(finder, pinned.name, pinned.specifier, pinned.hashes)
    candidate = compat.best_candidate(served.result)
    if candidate is None:
        return None
    result = compat.best_result(finder, project_name, specifier, hashes, [candidate])
    if compat.best_candidate(result) is None:
        return None
    return serve.Answer(result, None)


def _fresh_answer(finder: Any, project_name: str, specifier: Any, hashes: Any) -> serve.Answer:
    off = SESSION.serving_off_reason()
    if SESSION.store is None or off:
        if specifier is None or (SESSION.mode == settings.EXACT and not compat.pinned_versions(specifier)):
            return serve.PASS
        return serve.Answer(
            None, Decision(canonicalize_name(project_name), str(specifier), False, f"pipcachefirst is off: {off}")
        )
    _from_team_cache(finder, [(project_name, specifier, hashes)])
    return serve.answer(
        SESSION.store, finder, project_name, specifier, hashes, _origins(finder), SESSION.finder(finder).picks,
        SESSION.mode, SESSION.finder(finder).evaluators,
    )


def _origins(finder: Any) -> List[str]:
    """The locations this command uses; offline, those it used before the index was taken away."""
    offline_origins = SESSION.finder(finder).offline_origins
    if offline_origins is not None:
        return list(offline_origins)
    index_urls, find_links = compat.finder_locations(finder)
    return sorted(normalized_set(index_urls + find_links))


@patching.instead("could not note an index page")
def _evaluate_links(pip: patching.PipCall, instance: Any, args: Any, kwargs: Any) -> Any:
    """pip evaluates an index page's links: they are noted for the records of files stored from it.

    The links may be a generator: read once into a list, which pip gets
    (before anything of ours that could fail), and then noted.
    """
    point = compat.EVALUATE_LINKS
    try:
        link_evaluator, links = point.argument("link_evaluator", args, kwargs), point.argument("links", args, kwargs)
    except (IndexError, KeyError):
        return pip()
    links = list(links)
    result = pip(link_evaluator, links)
    name = compat.link_evaluator_project(link_evaluator)
    if name:
        SESSION.finder(instance).page_links.setdefault(canonicalize_name(name), []).extend(links)
    return result


# -- the team cache: bring pins in before pip looks, share what pip fetched --


def _open_team_cache() -> None:
    """The team cache ``PIPCACHEFIRST_REMOTE`` names, if any; its client is imported only then."""
    SESSION.remote = None
    if not os.environ.get(settings.REMOTE_VARIABLE, "").strip():
        return
    from pipcachefirst.team import remote, s3  # noqa: PLC0415 -- the S3 client, only where a team cache is set

    where, problem = s3.remote_from_environment()
    if problem:
        SESSION.problem(problem.replace("pipcachefirst: ", "", 1))
    if where is None or SESSION.store is None:
        return
    if not SESSION.storing:
        logger.log(compat.VERBOSE, "pipcachefirst: the local cache is read-only; not using the team cache")
        return
    readonly, problem = settings.remote_readonly()
    if problem:
        sys.stderr.write(problem + "\n")
    SESSION.remote = remote.open_team_cache(
        where, SESSION.store, readonly, SESSION.problem, lambda line: logger.log(compat.VERBOSE, "%s", line)
    )


def _from_team_cache(finder: Any, asked: List[Tuple[str, Any, Any]]) -> None:
    """Bring into the local store what the team cache holds for pins the store lacks, all at once."""
    team = SESSION.remote
    if team is None or team.off or SESSION.store is None or SESSION.serving_off_reason():
        return
    origins = _origins(finder)
    how: Dict[Any, Tuple[str, Any, Any]] = {}
    for name, specifier, hashes in asked:
        pins = compat.pinned_versions(specifier)
        if len(pins) != 1 or not origins:
            continue
        want = team.want(name, pins[0], origins)
        if any(r.kind == KIND_DOWNLOAD for r in SESSION.store.records(want.project, want.version, origins)):
            continue
        how.setdefault(want, (name, specifier, hashes))
    if how:
        try:
            team.lookup(list(how), lambda want, records: _team_choice(finder, *how[want], records))
        except Exception as exc:  # noqa: BLE001 -- a bug of ours must cost the team cache, not the install
            team.off = f"{type(exc).__name__}: {exc}"
            SESSION.warn("could not use the team cache", exc)


def _team_choice(finder: Any, name: str, specifier: Any, hashes: Any, records: List[Record]) -> List[Record]:
    """What to bring in of what the team cache holds for a pin: the file pip would choose, by its rules.

    With a wheel built earlier from that file when it is an sdist, so pip
    need not build it again.  Nothing when pip would prefer a file only the
    index has, or must not use the cache for this project.
    """
    if compat.reason_to_step_aside(finder, name, canonicalize_name(name)):
        return []
    downloads = [r for r in records if r.kind == KIND_DOWNLOAD]
    chosen = serve.choose(finder, name, specifier, hashes, downloads) if downloads else None
    if not isinstance(chosen, Record):
        return []
    if chosen.filename.endswith(".whl"):
        return [chosen]
    interpreter = compat.interpreter_tag()
    built = [r for r in records if r.kind == KIND_BUILT and r.built_from == chosen.sha256 and r.built_by == interpreter]
    return [chosen] + sorted(built, key=lambda r: (r.stored_at, r.sha256))[:1]  # two builders' bytes: the first


def _share_with_team(status: Any) -> None:
    """After a command that succeeded: upload what it downloaded and built; one line for what moved."""
    team = SESSION.remote
    if team is None:
        return
    SESSION.wait_for_storing()
    if status == 0 and SESSION.stored:
        try:
            team.share(SESSION.stored)
        except Exception as exc:  # noqa: BLE001 -- pip's work is done; a bug of ours costs only the sharing
            SESSION.warn("could not share with the team cache", exc)
    if team.fetched or team.shared:
        SESSION.say(f"pipcachefirst: team cache: {team.fetched} files fetched, {team.shared} shared")


# -- the preparer and the wheel builder: fill the cache ----------------------


def _storing(point: HookPoint, store: Callable[[Any, Any, Any], None]) -> Callable[[Any, Any, Any, Any], None]:
    """Our part after pip's function: ``store(instance, req, result)``.

    A file that cannot be stored is a line with ``-v``; a disk that refuses
    writes stops storing for the rest of the command.  The same holds for the
    files themselves, stored on the storing thread (``Session.wait_for_storing``).
    """

    def ours(instance: Any, args: Any, kwargs: Any, result: Any) -> None:
        try:
            store(instance, point.argument("req", args, kwargs), result)
        except StoreError as exc:
            logger.log(compat.VERBOSE, "pipcachefirst: not stored: %s", exc)
        except OSError as exc:
            SESSION.stop_storing(exc)

    return ours


def _store_download(preparer: Any, req: Any, _dist: Any) -> None:
    prepared = compat.prepared_file(req)
    if SESSION.store is None or not SESSION.storing or prepared is None:
        return
    if compat.EVALUATE_LINKS not in SESSION.hook_points:
        return  # without the index page's other files, a record could not say when the index has a better one
    finder = compat.preparer_finder(preparer)
    listed = SESSION.finder(finder).page_links.get(canonicalize_name(prepared.project), [])
    page_links = [compat.link_facts(link) for link in listed]
    record = filling.download_record(finder, prepared, page_links)
    if record is not None:
        source_url = None if record.filename.endswith(".whl") else compat.link_facts(prepared.link).url
        SESSION.store_later(prepared.local_path, record, "could not store a downloaded file", source_url)


_store_prepared = _storing(compat.PREPARE_LINKED, _store_download)


@patching.after("could not store a downloaded file")
def _prepare_linked(instance: Any, args: Any, kwargs: Any, result: Any) -> None:
    """pip prepares a file: it is stored if pip downloaded it, and reported as the index's if the cache served it.

    pip sets ``download_info`` from the link it was handed, for a served file
    its place in this cache (``file://…``).  ``--report`` shows it, and pip
    keeps it as the origin of a wheel it builds from that file.  Plain pip
    would have the index's link, with the sha256 an index lists: so it becomes
    what pip makes of that link, from the record (the index's URL, without
    credentials, as pip's report writes it).  pip reads it only later (the
    report, the wheel cache's origin, ``direct_url.json`` for a URL the user
    gave, which a served pin never is).  Named first: storing may fail.
    """
    req = compat.PREPARE_LINKED.argument("req", args, kwargs)
    record = SESSION.served.get(compat.download_url(req) or "")
    if record is not None:
        compat.report_index_file(req, record.url, record.sha256)
    _store_prepared(instance, args, kwargs, result)


def _store_built(_module: Any, req: Any, wheel_path: Any) -> None:
    url = compat.built_source_url(req)
    if SESSION.store is None or not SESSION.storing or not wheel_path or url is None:
        return
    source = SESSION.source(url)
    if source is not None:
        SESSION.store_later(str(wheel_path), filling.built_record(source, str(wheel_path)),
                            "could not store a built wheel")


@patching.instead("could not use a wheel built earlier")
def _get_cache_entry(pip: patching.PipCall, instance: Any, args: Any, kwargs: Any) -> Any:
    """pip's wheel cache, then, where it misses, a wheel built earlier from a served sdist."""
    entry = pip()
    if entry is not None:
        return entry
    point = compat.GET_CACHE_ENTRY
    return _built_earlier(
        instance,
        point.argument("link", args, kwargs),
        point.argument("package_name", args, kwargs),
        point.argument("supported_tags", args, kwargs),
    )


def _built_earlier(wheel_cache: Any, link: Any, package_name: Any, supported_tags: Any) -> Any:
    """pip's wheel cache missed a cached sdist: the wheel built from it earlier, if any.

    pip looks its built wheels up by the sdist's URL, and a served sdist has a
    new one (its place in this cache), so pip's own lookup misses it.
    """
    source = SESSION.source(compat.link_url(link))
    if SESSION.store is None or source is None or not package_name:
        return None
    if not compat.wheel_cache_allows_binary(wheel_cache, package_name):
        return None
    built = serve.built_wheel(SESSION.store, source, lambda name: compat.wheel_supported(name, supported_tags))
    if built is None:
        return None
    logger.log(compat.VERBOSE, "pipcachefirst: %s built earlier from %s", built.record.filename, source.filename)
    return compat.wheel_cache_entry(str(built.path))


@patching.instead("could not use installed trees")
def _install_wheel(pip: patching.PipCall, instance: Any, args: Any, kwargs: Any) -> Any:
    """pip installs one wheel: from its installed tree where there is one (``installing``)."""
    return sys.modules["pipcachefirst.pip.installing"].install_wheel(pip, args, kwargs)


# -- the session: the user agent --------------------------------------------


@patching.instead("could not defer pip's user agent")
def _user_agent(pip: patching.PipCall, instance: Any, args: Any, kwargs: Any) -> Any:
    """pip's User-Agent header, computed at the session's first request rather than when it is made.

    Computing it runs ``rustc --version`` and ``lsb_release -a`` and looks for
    setuptools among the installed distributions: about a tenth of a second,
    spent on every pip run, for a header that a command the cache serves
    whole never sends.
    """
    if compat.SESSION_REQUEST not in SESSION.hook_points:
        return pip()
    return compat.defer_user_agent(pip)


@patching.before("could not compute pip's user agent", when_stopped=True)  # a deferred header is always settled
def _session_request(instance: Any, args: Any, kwargs: Any) -> None:
    """A request: pip's real user agent goes into the session's headers first, if it was deferred."""
    compat.settle_user_agent(instance)


# -- the resolver: the supported tags ------------------------------------------



@patching.instead("could not keep the supported tags")
def _supported_tags_once(pip: patching.PipCall, instance: Any, args: Any, kwargs: Any) -> Any:
    """pip's list of the wheel tags this interpreter supports, worked out once per set of arguments.

    Before pip 24.2 the resolver works it out again for every candidate, to
    look the candidate up in pip's wheel cache: about 10 ms each here, a
    tenth of pipcachefirst's time installing ``flask-celery.txt`` (21 wheels)
    with pip 23.2.1.  The list depends on nothing but the arguments and this
    interpreter; each caller gets a copy of its own.
    """
    try:
        key = (tuple(_hashable(a) for a in args), tuple(sorted((k, _hashable(v)) for k, v in kwargs.items())))
        known = SESSION.supported_tags.get(key)
    except TypeError:  # arguments that cannot be a key: pip's own function, every time
        return pip()
    if known is None:
        known = SESSION.supported_tags[key] = list(pip())
    return list(known)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


# -- installed distributions: their requirements, and finding them ------------


@patching.instead("could not parse requirements once")
def _requirement_parsed_once(pip: patching.PipCall, instance: Any, args: Any, kwargs: Any) -> Any:
    """A distribution's ``Requires-Dist`` line, parsed through pip's own cache, as pip 24.2+ does.

    Before pip 24.2, pip parses these lines again each time it reads a
    distribution's requirements: the resolver for every candidate, the
    conflict check after it for everything installed.  Before pip 24.1 the
    parser is pyparsing's: installing ``flask-celery.txt`` from installed
    trees with pip 23.2.1 took 0.88 s before this, 0.83 s after (medians of
    11 interleaved runs).  pip 24.2 sends these
    lines through ``get_requirement`` (cached, one shared object per text);
    so does this, and pip's readers of these requirements only read them.
    A text that does not parse raises pip's own error, as before.
    """
    if kwargs or len(args) != 1 or not isinstance(args[0], str):
        return pip()
    parsed = compat.cached_requirement(args[0])
    return pip() if parsed is None else parsed


# Per pip environment: asked once already, and then every distribution in it by name.
@patching.instead("could not find installed distributions in one pass")
def _distribution_found_in_one_pass(pip: patching.PipCall, instance: Any, args: Any, kwargs: Any) -> Any:
    """An installed project, from one scan of the environment per environment object.

    Before pip 24.2, ``pip install`` ends by looking each project it installed
    up again for its "Successfully installed" line, and each lookup reads the
    metadata of the whole environment: 83 ms of 21 lookups after
    ``flask-celery.txt`` here, and it grows with the square of a lock's size.
    pip 24.2 reads the environment once for that line.  Here the second
    lookup in one environment object reads it all once, and later lookups
    use that; the first goes to pip as before, so a one-off lookup costs what
    it did.  Before 24.2 pip makes a new environment object for each use
    (the summary's after the last install), so none outlives a change to the
    files; from 24.2 on this stays out of the way.  When reading all of it
    fails, pip's own lookup answers, every time.
    """
    found = None if compat.behavior().summary_reads_environment_once else _all_by_name(instance)
    if found is None:
        return pip()
    return found.get(canonicalize_name(compat.GET_DISTRIBUTION.argument("name", args, kwargs)))


def _all_by_name(environment: Any) -> Optional[Dict[str, Any]]:
    """Every distribution in ``environment`` by name; None to ask pip (its first lookup, or reading all failed)."""
    state = SESSION.environment(environment)
    if state.read:
        return state.by_name
    if not state.asked:
        state.asked = True
        return None
    state.read = True  # should reading fail: pip's lookup from now on
    try:
        state.by_name = compat.distributions_by_name(environment)
    except Exception as exc:  # noqa: BLE001 - an environment pip reads one by one, as it does itself
        logger.log(compat.VERBOSE, "pipcachefirst: installed distributions read one by one: %s", exc)
    return state.by_name


# -- a served wheel's metadata, and pip's self-version check -------------------


@patching.instead("could not keep a wheel's metadata")
def _wheel_metadata_once(pip: patching.PipCall, instance: Any, args: Any, kwargs: Any) -> Any:
    """pip's metadata of a served wheel, read out of its zip by pip's own function once per command.

    pip reads a wheel's metadata as the resolver prepares it, again as it
    checks the new set for conflicts, and again as it installs the wheel: a
    zip's directory and its ``.dist-info`` files, three times over, up to
    10 ms a time for the larger wheels of ``data-science.txt`` (321 reads,
    1.2 s of a 17.7 s install under cProfile).  A served file is the cache's, checked when it
    was served; while its stamp (size, times, inode) is unchanged, pip gets
    the object its own function made the first time, which only its readers
    read.  Any other wheel (one pip downloaded or built) is pip's as before.
    """
    point = compat.WHEEL_METADATA
    location = compat.wheel_location(point.argument("wheel", args, kwargs))
    if location is None or location not in SESSION.served_files:
        return pip()
    try:
        info = os.stat(location)
    except OSError:
        return pip()
    key = (location, point.argument("canonical_name", args, kwargs), info.st_size, info.st_mtime_ns,
           info.st_ctime_ns, info.st_ino)
    known = SESSION.wheel_metadata.get(key)
    if known is None:
        known = SESSION.wheel_metadata[key] = pip()
    return known


def _watch_self_check() -> None:
    """Wrap pip's self-check state as the command starts, or once pip imports it for the check.

    pip 26 loads the module at start-up (it was still loading when the hooks
    were set); pip 24 and 25 import it only when the check runs.
    """
    point = compat.SELF_CHECK_STATE
    if point not in SESSION.hook_points:
        patching.when_imported(point.module, lambda module: _wrap_once(module, point))


def _wrap_once(module: ModuleType, point: HookPoint) -> None:
    if point not in SESSION.hook_points:
        _wrap(module, point)


@patching.after("could not read pip's self-check state")
def _self_check_state(instance: Any, args: Any, kwargs: Any, _result: Any) -> None:
    """pip's self-version check: an environment without an answer of its own takes the folder's newest.

    pip keeps the latest pip version it found on the index in a state file
    per environment (named after ``sys.prefix``) in its cache's ``selfcheck``
    folder, and asks the index again when that answer is over a week old.
    A fresh venv has no file, so every fresh venv asks (about 0.2 s of a
    warm install).  The newest state file of the folder, when pip's own rule
    takes it as current, holds what the index said about pip at most a week
    ago: what an environment made that day would still be told by plain pip
    for a week.  pip's own answer, when it has one, is never replaced; a
    newer pip on that state shows pip's notice as usual; and pip writes no
    file for this environment, so it asks the index itself once the borrowed
    answer is a week old.  What a fresh venv may miss is a pip released since
    the newest check, for at most the week pip itself waits between checks.
    """
    path, state = compat.self_check_files(instance)
    if path is None or compat.self_check_answer(instance) is not None:
        return
    newest = _newest_state_file(os.path.dirname(path), os.path.basename(path))
    if newest is None:
        return
    try:
        with open(newest, encoding="utf-8") as handle:
            content = json.load(handle)
    except (OSError, ValueError):
        return
    if not isinstance(content, dict):
        return
    compat.use_self_check_state(instance, content)
    if compat.self_check_answer(instance) is None:  # over a week old, or not this pip's format: pip asks
        compat.use_self_check_state(instance, state)
    else:
        logger.debug("pipcachefirst: pip's self-version check answered by %s", newest)


def _newest_state_file(folder: str, own: str) -> Optional[str]:
    """The most recently written regular file of pip's ``selfcheck`` folder but ``own``; older ones are older."""
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name != own and not entry.name.startswith(".") and entry.is_file(follow_symlinks=False):
                    found.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.path))
    except OSError:
        return None
    return max(found)[1] if found else None


_WRAPPERS: Dict[HookPoint, Callable[[Any, Any, Any, Any], Any]] = {
    compat.COMMAND_PARSE_ARGS: _parse_args,
    compat.COMMAND_MAIN: _command_main,
    compat.EVALUATE_LINKS: _evaluate_links,
    compat.FIND_BEST_CANDIDATE: _find_best_candidate,
    compat.PREPARE_LINKED: _prepare_linked,
    compat.BUILD_ONE: patching.after("could not store a built wheel")(_storing(compat.BUILD_ONE, _store_built)),
    compat.GET_CACHE_ENTRY: _get_cache_entry,
    compat.GET_REQUIREMENTS: _get_requirements,
    compat.INSTALL_WHEEL: _install_wheel,
    compat.SESSION_REQUEST: _session_request,
    compat.USER_AGENT: _user_agent,
    compat.SUPPORTED_TAGS: _supported_tags_once,
    compat.REQUIRES_DIST: _requirement_parsed_once,
    compat.GET_DISTRIBUTION: _distribution_found_in_one_pass,
    compat.COMMAND_RUN: _command_run,
    compat.CACHE_REMOVE: _cache_remove,
    compat.CACHE_INFO: _cache_info,
    compat.WHEEL_METADATA: _wheel_metadata_once,
    compat.WHEEL_METADATA_AT_INSTALL: _wheel_metadata_once,
    compat.WHEEL_METADATA_OF_REQUIREMENT: _wheel_metadata_once,
    compat.SELF_CHECK_STATE: _self_check_state,
}
