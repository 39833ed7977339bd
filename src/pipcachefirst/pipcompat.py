"""Every pip-internal name pipcachefirst touches, in one place, each one guarded.

pip documents its internals as changeable at any time; pip-accel died of
depending on them all over its code.  Here each name is read defensively and
a missing one disables only the feature that needs it.  When a new pip comes
out, this is the file to read against it.

Checked against pip 22.3.1 to 26.3.  What the hooks call imports no pip
module that pip has not imported itself by then (pip 26.3 refuses imports
once installation starts): modules are taken from ``sys.modules``.  Only the
functions for the ``pipcachefirst`` command line import pip modules.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

SUPPORTED_MAJOR_VERSIONS = range(22, 27)

# Hook points: (module, dotted attribute, parameters the wrapper relies on).
FINDER_MODULE = "pip._internal.index.package_finder"
FIND_BEST_CANDIDATE = "PackageFinder.find_best_candidate"
EVALUATE_LINKS = "PackageFinder.evaluate_links"
PREPARER_MODULE = "pip._internal.operations.prepare"
PREPARE_LINKED = "RequirementPreparer._prepare_linked_requirement"
WHEEL_BUILDER_MODULE = "pip._internal.wheel_builder"
BUILD_ONE = "_build_one"
COMMAND_MODULE = "pip._internal.cli.base_command"
COMMAND_MAIN = "Command._main"
COMMAND_PARSE_ARGS = "Command.parse_args"
REQ_COMMAND_MODULE = "pip._internal.cli.req_command"
GET_REQUIREMENTS = "RequirementCommand.get_requirements"
WHEEL_CACHE_MODULE = "pip._internal.cache"
GET_CACHE_ENTRY = "WheelCache.get_cache_entry"

# pip --python: where get_runnable_pip lives (utils.misc from 23.x, build_env in 22.x),
# and how pip marks the re-run process.
RUNNABLE_PIP_MODULES = ("pip._internal.utils.misc", "pip._internal.build_env")
RUNNABLE_PIP = "get_runnable_pip"
RERUN_MARKER = "_PIP_RUNNING_IN_SUBPROCESS"
PYTHON_OPTION = "--python"
PYTHON_VARIABLE = "PIP_PYTHON"

HOOK_SIGNATURES = {
    FIND_BEST_CANDIDATE: ("self", "project_name", "specifier", "hashes"),
    EVALUATE_LINKS: ("self", "link_evaluator", "links"),
    PREPARE_LINKED: ("self", "req"),
    BUILD_ONE: ("req", "output_dir"),
    COMMAND_MAIN: ("self", "args"),
    COMMAND_PARSE_ARGS: ("self", "args"),
    GET_REQUIREMENTS: ("self", "args", "options", "finder", "session"),
    GET_CACHE_ENTRY: ("self", "link", "package_name", "supported_tags"),
}

VERBOSE = 15  # pip's own level between DEBUG and INFO, shown with -v


def pip_version() -> Optional[str]:
    pip = sys.modules.get("pip")
    return getattr(pip, "__version__", None)


def pip_version_supported() -> bool:
    version = pip_version() or ""
    try:
        return int(version.split(".")[0]) in SUPPORTED_MAJOR_VERSIONS
    except ValueError:
        return False


def resolve(module: ModuleType, dotted: str) -> Any:
    """``module.<dotted>``, raising AttributeError naming what is missing."""
    target: Any = module
    for part in dotted.split("."):
        target = getattr(target, part)
    return target


def check_signature(function: Any, dotted: str) -> None:
    """Raise TypeError when a hook point no longer takes the arguments we bind."""
    for _ in range(3):  # our own wrapper, an lru_cache (pip < 25.1): look underneath
        if getattr(function, "__code__", None) is not None and not getattr(function, "_pipcachefirst_wrapper", False):
            break
        function = getattr(function, "__wrapped__", None)
    code = getattr(function, "__code__", None)
    if code is None:
        raise TypeError(f"{dotted} is not a Python function")
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    expected = HOOK_SIGNATURES[dotted]
    if tuple(names[: len(expected)]) != expected:
        raise TypeError(f"{dotted} takes {names}, expected {expected} first")


def _loaded(name: str) -> ModuleType:
    module = sys.modules.get(name)
    if module is None:
        raise ImportError(f"{name} is not loaded")
    return module


# -- links -----------------------------------------------------------------


def make_link(path: str, requires_python: Optional[str], yanked_reason: Optional[str], sha256: Optional[str]) -> Any:
    """A pip ``Link`` to a local file, as pip's find-links code would make it.

    The digest goes in the URL fragment, the one form every pip version
    honours for ``Link.is_hash_allowed``.
    """
    link_class = _loaded("pip._internal.models.link").Link
    path_to_url = _loaded("pip._internal.utils.urls").path_to_url
    url = path_to_url(path)
    if sha256:
        url += "#sha256=" + sha256
    return link_class(url, requires_python=requires_python, yanked_reason=yanked_reason)


class LinkFacts(NamedTuple):
    """What pipcachefirst reads from a pip ``Link``."""

    filename: str
    url: str
    page_url: Optional[str]
    requires_python: Optional[str]
    yanked_reason: Optional[str]
    sha256: Optional[str]
    is_local: bool


def link_facts(link: Any) -> LinkFacts:
    comes_from = getattr(link, "comes_from", None)
    page_url = getattr(comes_from, "url", comes_from)  # an index page object before 23.x
    sha256 = None
    if getattr(link, "hash_name", None) == "sha256":
        sha256 = link.hash
    return LinkFacts(
        filename=str(link.filename),
        url=str(link.url_without_fragment),
        page_url=str(page_url) if page_url else None,
        requires_python=getattr(link, "requires_python", None) or None,
        yanked_reason=getattr(link, "yanked_reason", None),
        sha256=sha256,
        is_local=bool(link.is_file or getattr(link, "is_vcs", False)),
    )


# -- the finder ------------------------------------------------------------


def finder_locations(finder: Any) -> Tuple[List[str], List[str]]:
    """The index URLs and find-links locations the finder uses right now.

    Read at call time: ``--index-url`` lines in requirement files change the
    finder's search scope after it was made.
    """
    return list(finder.index_urls or ()), list(finder.find_links or ())


def reason_to_step_aside(finder: Any, project_name: str, canonical_name: str) -> Optional[str]:
    """Why pip's own answer must win for this name, if it must."""
    if getattr(finder, "uploaded_prior_to", None):
        return "--uploaded-prior-to is set"
    locked = getattr(finder, "_locked_links", None) or {}
    if project_name in locked or canonical_name in locked:
        return "locked by a pylock file"
    return None


def evaluate(finder: Any, project_name: str, links: Sequence[Any]) -> List[Any]:
    """pip's own link evaluation: tags, target Python, --only/--no-binary, Requires-Python."""
    return list(finder.evaluate_links(finder.make_link_evaluator(project_name), links))


def best_result(finder: Any, project_name: str, specifier: Any, hashes: Any, candidates: Sequence[Any]) -> Any:
    """pip's own choice among ``candidates``, as the ``BestCandidateResult`` pip expects."""
    evaluator = finder.make_candidate_evaluator(project_name=project_name, specifier=specifier, hashes=hashes)
    return evaluator.compute_best_candidate(list(candidates))


def best_candidate(result: Any) -> Any:
    return getattr(result, "best_candidate", None)


def candidate_link(candidate: Any) -> Any:
    return candidate.link


def hash_allowed(link: Any, hashes: Any) -> bool:
    return bool(link.is_hash_allowed(hashes))


def link_evaluator_project(link_evaluator: Any) -> Optional[str]:
    return getattr(link_evaluator, "project_name", None)


def pinned_versions(specifier: Any) -> List[str]:
    """Versions named by non-wildcard ``==`` or ``===`` clauses of a specifier set."""
    pins = []
    for clause in specifier or ():
        operator, version = getattr(clause, "operator", ""), getattr(clause, "version", "")
        if operator == "===" or (operator == "==" and not version.endswith(".*")):
            pins.append(version)
    return pins


# -- requirements being prepared and built ---------------------------------


class PreparedFile(NamedTuple):
    """A distribution file pip has in hand for a requirement."""

    project: str
    link: Any
    local_path: str


def prepared_file(req: Any) -> Optional[PreparedFile]:
    """The file pip fetched or found for ``req``, if it is a plain archive."""
    link = getattr(req, "link", None)
    path = getattr(req, "local_file_path", None)
    name = getattr(req, "name", None)
    if link is None or not path or not name or getattr(req, "editable", False):
        return None
    if getattr(link, "is_vcs", False) or not os.path.isfile(path):
        return None
    return PreparedFile(project=name, link=link, local_path=path)


def preparer_finder(preparer: Any) -> Any:
    return preparer.finder


def command_name(command: Any) -> str:
    return str(getattr(command, "name", ""))


def cache_dir_option(options: Any) -> Any:
    return getattr(options, "cache_dir", None)


def skip_version_check(options: Any) -> None:
    """Offline: pip's own check for a newer pip must not reach out either."""
    if hasattr(options, "disable_pip_version_check"):
        options.disable_pip_version_check = True


class Wanted(NamedTuple):
    """A requirement the user gave, as the cache sees it."""

    name: str
    specifier: Any
    hashes: Any
    text: str


def wanted_requirements(ireqs: Sequence[Any]) -> List[Wanted]:
    """Named, user-given requirements with the constraints for their names merged in."""
    constraints: dict = {}
    for ireq in ireqs:
        if getattr(ireq, "constraint", False) and ireq.name and ireq.req is not None:
            key = ireq.name.lower()
            constraints[key] = ireq.req.specifier if key not in constraints else constraints[key] & ireq.req.specifier
    wanted = []
    for ireq in ireqs:
        if getattr(ireq, "constraint", False) or not ireq.name or ireq.req is None or getattr(ireq, "link", None):
            continue
        if hasattr(ireq, "match_markers") and not ireq.match_markers():
            continue
        specifier = ireq.req.specifier
        if ireq.name.lower() in constraints:
            specifier = specifier & constraints[ireq.name.lower()]
        wanted.append(Wanted(ireq.name, specifier, ireq.hashes(trust_internet=False), f"{ireq.name}{specifier}"))
    return wanted


def requirements_finder(args: Sequence[Any], kwargs: Any) -> Any:
    """The finder passed to ``RequirementCommand.get_requirements(args, options, finder, session)``."""
    return args[2] if len(args) > 2 else kwargs["finder"]


# -- pip's wheel cache -----------------------------------------------------


def wheel_cache_allows_binary(wheel_cache: Any, project_name: str) -> bool:
    """Whether pip's wheel cache may hand out a wheel for this project.

    pip before 23.1 keeps ``--no-binary`` projects out of its wheel cache;
    later pips use built wheels for them too and have no format control there.
    """
    format_control = getattr(wheel_cache, "format_control", None)
    if format_control is None:
        return True
    canonical = _loaded("pip._vendor.packaging.utils").canonicalize_name(project_name)
    return "binary" in format_control.get_allowed_formats(canonical)


def wheel_supported(filename: str, supported_tags: Sequence[Any]) -> bool:
    """Whether a wheel's tags are among ``supported_tags``, as pip's wheel cache checks."""
    return bool(_loaded("pip._internal.models.wheel").Wheel(filename).supported(supported_tags))


def wheel_cache_entry(path: str) -> Any:
    """A persistent entry of pip's wheel cache for the wheel at ``path``.

    pip treats it as its own cached wheel: in hash-checking mode (pip 23.1+)
    it checks the user's hashes against the sdist the wheel was built from.
    """
    return _loaded(WHEEL_CACHE_MODULE).CacheEntry(make_link(path, None, None, None), persistent=True)


def link_url(link: Any) -> str:
    return str(link.url_without_fragment)


def search_no_index(finder: Any) -> None:
    """Make the finder look at local find-links only, as ``--no-index`` would."""
    scope_class = _loaded("pip._internal.models.search_scope").SearchScope
    local = [location for location in finder.find_links or () if "://" not in location or location.startswith("file:")]
    finder.search_scope = scope_class.create(find_links=local, index_urls=[], no_index=True)


def installation_error(message: str) -> Exception:
    """The error pip reports as one clean message, without a traceback."""
    return _loaded("pip._internal.exceptions").InstallationError(message)


# -- the command line (pipcachefirst status / why): pip's own option parsing --


def configured_options(args: Sequence[str] = ()) -> Tuple[Any, Any, List[str]]:
    """pip's install command and its options as pip would parse ``args`` (config files and PIP_* too)."""
    import importlib

    commands = importlib.import_module("pip._internal.commands")
    command = commands.create_command("install", isolated=False)
    options, rest = command.parse_args(list(args))
    return command, options, rest


def finder_and_requirements(args: Sequence[str]) -> Tuple[Any, List[Wanted]]:
    """The finder and the user's requirements ``pip install ARGS`` would start from; no network.

    Requirement files given by URL are fetched, as pip would.
    """
    import importlib

    command, options, rest = configured_options(args)
    cmdoptions = importlib.import_module("pip._internal.cli.cmdoptions")
    temp_dir = importlib.import_module("pip._internal.utils.temp_dir")
    with command.main_context():
        command.enter_context(temp_dir.global_tempdir_manager())
        command.tempdir_registry = command.enter_context(temp_dir.tempdir_registry())
        session = command.get_default_session(options)
        finder = command._build_package_finder(
            options=options,
            session=session,
            target_python=cmdoptions.make_target_python(options),
            ignore_requires_python=options.ignore_requires_python,
        )
        ireqs = command.get_requirements(rest, options, finder, session)
        return finder, wanted_requirements(ireqs)


def hook_points() -> dict:
    """Each hook point pipcachefirst uses in the installed pip: ``"ok"`` or what is wrong."""
    import importlib

    report = {}
    for module_name, dotted in (
        (FINDER_MODULE, FIND_BEST_CANDIDATE),
        (FINDER_MODULE, EVALUATE_LINKS),
        (PREPARER_MODULE, PREPARE_LINKED),
        (WHEEL_BUILDER_MODULE, BUILD_ONE),
        (COMMAND_MODULE, COMMAND_MAIN),
        (COMMAND_MODULE, COMMAND_PARSE_ARGS),
        (REQ_COMMAND_MODULE, GET_REQUIREMENTS),
        (WHEEL_CACHE_MODULE, GET_CACHE_ENTRY),
    ):
        try:
            check_signature(resolve(importlib.import_module(module_name), dotted), dotted)
            report[dotted] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            report[dotted] = f"{type(exc).__name__}: {exc}"
    return report


def interpreter_tag() -> str:
    """Which interpreter built a wheel: pip's wheel cache keys on the same thing."""
    return f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}"
