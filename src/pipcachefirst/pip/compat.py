"""Every pip-internal name pipcachefirst touches, in one place, each one guarded.

pip documents its internals as changeable at any time; pip-accel died of
depending on them all over its code.  Here each name is read defensively and
a missing one disables only the feature that needs it.  When a new pip comes
out, this is the file to read against it:

* :data:`HOOK_POINTS` -- the functions pipcachefirst wraps: module,
  attribute, the parameters its wrapper relies on, and the feature they
  enable.  One table drives registration (``hooks``), the signature checks
  and ``pipcachefirst status``.
* :class:`PipBehavior` -- what differs between pip versions, named once
  (coverage.py's ``env.PYBEHAVIOR`` is the model); code and tests ask it by name.
* The Protocols say what pipcachefirst needs a pip object to keep offering,
  and the functions below are the only code that reads pip objects.

Checked against pip 22.3.1 to 26.3.  What the hooks call imports no pip
module that pip has not imported itself by then (pip 26.3 refuses imports
once installation starts): modules are taken from ``sys.modules``.  Only the
functions for the ``pipcachefirst`` command line import pip modules, and
``defer_user_agent`` the one module pip's ``user_agent`` would have imported.
"""

from __future__ import annotations

import datetime
import importlib
import os
import sys
from types import ModuleType
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Protocol,
    Sequence,
    Tuple,
)
from zipfile import ZipInfo

SUPPORTED_MAJOR_VERSIONS = range(22, 27)
VERBOSE = 15  # pip's own level between DEBUG and INFO, shown with -v

# -- what pipcachefirst needs pip's objects to offer ---------------------------


class Specifier(Protocol):
    """``pip._vendor.packaging.specifiers.SpecifierSet``."""

    prereleases: Optional[bool]

    def __iter__(self) -> Iterator[Any]: ...

    def __and__(self, other: Any) -> "Specifier": ...

    def contains(self, item: str, prereleases: Optional[bool] = None) -> bool: ...


class Link(Protocol):
    """``pip._internal.models.link.Link``."""

    @property
    def filename(self) -> str: ...

    @property
    def url_without_fragment(self) -> str: ...

    @property
    def is_file(self) -> bool: ...

    def is_hash_allowed(self, hashes: Any) -> bool: ...


class Candidate(Protocol):
    """``pip._internal.models.candidate.InstallationCandidate``."""

    @property
    def link(self) -> Link: ...


class Finder(Protocol):
    """``pip._internal.index.package_finder.PackageFinder``."""

    @property
    def index_urls(self) -> List[str]: ...

    @property
    def find_links(self) -> List[str]: ...

    def make_link_evaluator(self, project_name: str) -> Any: ...

    def evaluate_links(self, link_evaluator: Any, links: Iterable[Link]) -> List[Candidate]: ...

    def make_candidate_evaluator(self, project_name: str, specifier: Any = None, hashes: Any = None) -> Any: ...


# -- hook points -------------------------------------------------------------

IMPORTED = "imported"  # wrapped when pip imports the module
COMMAND_STARTS = "command starts"  # wrapped when a pip command starts (its module is still loading earlier)


_REQUIRED: Any = object()


class HookPoint(NamedTuple):
    """A pip function pipcachefirst wraps, and what for.

    ``required``: a core point, without which nothing is served (the cache is
    neither opened, filled nor asked); ``pipcachefirst status`` says "off"
    when one is missing.  Any other point is a feature or a speed-up: a pip
    without it loses that one thing, and status names it.
    """

    module: str
    attribute: str
    parameters: Tuple[str, ...]  # the leading parameters the wrapper binds, by name
    feature: str
    when: str = IMPORTED
    required: bool = False

    def argument(self, name: str, args: Sequence[Any], kwargs: Mapping[str, Any], default: Any = _REQUIRED) -> Any:
        """The value pip passed for parameter ``name`` (positional or keyword; ``self`` not in ``args``)."""
        position = [p for p in self.parameters if p != "self"].index(name)
        if len(args) > position:
            return args[position]
        if name in kwargs or default is _REQUIRED:
            return kwargs[name]
        return default


FINDER_MODULE = "pip._internal.index.package_finder"
WHEEL_CACHE_MODULE = "pip._internal.cache"

COMMAND_PARSE_ARGS = HookPoint(
    "pip._internal.cli.base_command", "Command.parse_args", ("self", "args"), "the cache location and mode",
    required=True,
)
COMMAND_MAIN = HookPoint(
    "pip._internal.cli.base_command", "Command._main", ("self", "args"), "the summary line", required=True
)
EVALUATE_LINKS = HookPoint(
    FINDER_MODULE, "PackageFinder.evaluate_links", ("self", "link_evaluator", "links"), "storing downloads",
    required=True,
)
FIND_BEST_CANDIDATE = HookPoint(
    FINDER_MODULE, "PackageFinder.find_best_candidate", ("self", "project_name", "specifier", "hashes"),
    "serving pins from the cache", required=True,
)
# Also where pip sets ``req.download_info`` for every file it prepares (22.3-26.3): what
# ``--report`` and a built wheel's origin in pip's wheel cache say the file came from.
PREPARE_LINKED = HookPoint(
    "pip._internal.operations.prepare", "RequirementPreparer._prepare_linked_requirement", ("self", "req"),
    "storing downloads, and pip's reports naming the index", required=True,
)
BUILD_ONE = HookPoint("pip._internal.wheel_builder", "_build_one", ("req", "output_dir"), "storing built wheels")
GET_CACHE_ENTRY = HookPoint(
    WHEEL_CACHE_MODULE, "WheelCache.get_cache_entry", ("self", "link", "package_name", "supported_tags"),
    "using wheels built earlier",
)
GET_REQUIREMENTS = HookPoint(
    "pip._internal.cli.req_command", "RequirementCommand.get_requirements",
    ("self", "args", "options", "finder", "session"), "the user's pins and offline mode", COMMAND_STARTS,
)

# Every request pip makes goes through PipSession.request (requests' get, head and post call
# it); pip computes its User-Agent header once per session, in PipSession.__init__.  Wrapped
# in this order, so a user agent is deferred only where requests will settle it.
SESSION_MODULE = "pip._internal.network.session"
SESSION_REQUEST = HookPoint(
    SESSION_MODULE, "PipSession.request", ("self", "method", "url"), "the user agent only for a request"
)
USER_AGENT = HookPoint(SESSION_MODULE, "user_agent", (), "the user agent only for a request")

# Before pip 24.2 the resolver's factory works out the supported tags again for every
# candidate it makes (to look it up in the wheel cache); 24.2+ calls this once per factory.
SUPPORTED_TAGS = HookPoint(
    "pip._internal.resolution.resolvelib.factory", "get_supported", (), "the supported tags worked out once"
)

# Before pip 24.2 the installed distributions' metadata parses each Requires-Dist line into a
# new Requirement every time it is read (24.2 goes through the cached get_requirement); before
# 24.1 that parser is pyparsing's.  The name is the class, as _dists imported it.
REQUIRES_DIST = HookPoint(
    "pip._internal.metadata.importlib._dists", "Requirement", ("self", "requirement_string"),
    "requirements parsed once",
)

# Before pip 24.2, ``pip install`` looks each installed project up for its closing
# "Successfully installed" line, every lookup a scan of the whole environment.
GET_DISTRIBUTION = HookPoint(
    "pip._internal.metadata.importlib._envs", "Environment.get_distribution", ("self", "name"),
    "installed distributions found in one pass",
)

# Called with keywords by install_wheel in every pip 22.3-26.3; 26.2 adds script_executable after these.
INSTALL_WHEEL = HookPoint(
    "pip._internal.operations.install.wheel", "_install_wheel",
    ("name", "wheel_zip", "wheel_path", "scheme", "pycompile", "warn_script_location", "direct_url", "requested"),
    "installed trees",
)

# pip's own cache.  After parsing, Command._main sets options.cache_dir to None where pip's
# check_path_owner fails (a folder that is not the user's, or for root not root's: sudo pip
# on a user's cache), then calls self.run(options, args) (22.3-26.3).  Each command class has
# its own run: this one is wrapped on the command object as the command starts.
COMMAND_RUN = HookPoint(
    "pip._internal.cli.base_command", "Command.run", ("self", "options", "args"),
    "the cache only where pip keeps its own", COMMAND_STARTS,
)
# pip cache purge is remove_cache_items(options, ["*"]); pip only globs its own http and
# wheels folders (22.3-26.3).  The module is imported only for pip cache, when it starts.
CACHE_COMMAND, CACHE_COMMAND_MODULE = "cache", "pip._internal.commands.cache"
CACHE_REMOVE = HookPoint(
    CACHE_COMMAND_MODULE, "CacheCommand.remove_cache_items", ("self", "options", "args"),
    "pip cache purge and remove", COMMAND_STARTS,
)
CACHE_INFO = HookPoint(
    CACHE_COMMAND_MODULE, "CacheCommand.get_cache_info", ("self", "options", "args"), "pip cache info", COMMAND_STARTS,
)

# A wheel's metadata, read by pip from the wheel's zip: once as the resolver prepares it, again
# as pip checks the installed set for conflicts, again as it installs the wheel (entry points),
# and by the requirement itself (--dry-run's and --report's list).  Each module imports the
# function by name (22.3-26.3).
WHEEL_METADATA = HookPoint(
    "pip._internal.distributions.wheel", "get_wheel_distribution", ("wheel", "canonical_name"),
    "a served wheel's metadata read once",
)
WHEEL_METADATA_AT_INSTALL = WHEEL_METADATA._replace(module="pip._internal.operations.install.wheel")
WHEEL_METADATA_OF_REQUIREMENT = WHEEL_METADATA._replace(module="pip._internal.req.req_install")

# pip's self-version check reads its answer from a state file named after sys.prefix
# (SelfCheckState, the same in 22.3-26.3): a fresh venv has none, and asks the index.  The
# module is still being imported when the other hooks are registered (it imports the index
# package): wrapped as the command starts.
SELF_CHECK_STATE = HookPoint(
    "pip._internal.self_outdated_check", "SelfCheckState.__init__", ("self", "cache_dir"),
    "pip's self-version check answered from its state folder", COMMAND_STARTS,
)

HOOK_POINTS = (
    COMMAND_PARSE_ARGS,
    COMMAND_MAIN,
    EVALUATE_LINKS,
    FIND_BEST_CANDIDATE,
    PREPARE_LINKED,
    BUILD_ONE,
    GET_CACHE_ENTRY,
    GET_REQUIREMENTS,
    INSTALL_WHEEL,
    SESSION_REQUEST,
    USER_AGENT,
    SUPPORTED_TAGS,
    REQUIRES_DIST,
    GET_DISTRIBUTION,
    COMMAND_RUN,
    CACHE_REMOVE,
    CACHE_INFO,
    WHEEL_METADATA,
    WHEEL_METADATA_AT_INSTALL,
    WHEEL_METADATA_OF_REQUIREMENT,
    SELF_CHECK_STATE,
)

# pip --python: where get_runnable_pip lives (utils.misc from 23.x, build_env in 22.x),
# and how pip marks the re-run process.
RUNNABLE_PIP_MODULES = ("pip._internal.utils.misc", "pip._internal.build_env")
RUNNABLE_PIP = "get_runnable_pip"
RERUN_MARKER = "_PIP_RUNNING_IN_SUBPROCESS"
PYTHON_OPTION = "--python"
PYTHON_VARIABLE = "PIP_PYTHON"

LOCK_COMMAND = "lock"  # pip lock (25.1+) writes URLs into a lock file: never cache paths


def resolve(module: ModuleType, dotted: str) -> Any:
    """``module.<dotted>``, raising AttributeError naming what is missing."""
    target: Any = module
    for part in dotted.split("."):
        target = getattr(target, part)
    return target


def check_signature(function: Any, point: HookPoint) -> None:
    """Raise TypeError when a hook point no longer takes the arguments we bind."""
    for _ in range(3):  # our own wrapper, an lru_cache (pip < 25.1): look underneath
        if getattr(function, "__code__", None) is not None and not getattr(function, "_pipcachefirst_wrapper", False):
            break
        if isinstance(function, type):  # a class: what its constructor takes
            function = vars(function).get("__init__")
            break
        function = getattr(function, "__wrapped__", None)
    code = getattr(function, "__code__", None)
    if code is None:
        raise TypeError(f"{point.attribute} is not a Python function")
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    if tuple(names[: len(point.parameters)]) != point.parameters:
        raise TypeError(f"{point.attribute} takes {names}, expected {point.parameters} first")


def hook_target(module: ModuleType, point: HookPoint) -> Tuple[Any, str]:
    """``(owner, name)`` to wrap for ``point`` in the loaded ``module``, its signature checked."""
    check_signature(resolve(module, point.attribute), point)
    if point == INSTALL_WHEEL:
        install_step(module)  # the names it looks up while it runs are there too
    owner, _, name = point.attribute.rpartition(".")
    return (resolve(module, owner) if owner else module), name


def hook_points() -> Dict[str, str]:
    """Each hook point in the installed pip: ``"ok"`` or what is wrong (imports pip: command line only)."""
    report = {}
    for point in HOOK_POINTS:
        try:
            hook_target(importlib.import_module(point.module), point)
            report[point.attribute] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            report[point.attribute] = f"{type(exc).__name__}: {exc} ({point.feature} is off)"
    return report


# -- the session: a user agent computed only when a request needs it ----------------


class DeferredUserAgent(str):
    """What ``PipSession.__init__`` puts in its User-Agent header until a request needs the real one.

    Its text, pip's name and version, is a valid header on its own; it is
    never meant to be sent (``settle_user_agent`` replaces it first).
    """

    compute: Callable[[], str]


def defer_user_agent(compute: Callable[[], str]) -> DeferredUserAgent:
    """A stand-in for pip's user agent; ``compute()`` is pip's own ``user_agent`` call, made later.

    pip's function imports ``distro`` when it runs; it is imported now, while
    pip still allows imports (a request after installation started must not
    import anything).
    """
    importlib.import_module("pip._vendor.distro")
    agent = DeferredUserAgent(f"pip/{pip_version()}")
    agent.compute = compute
    return agent


def settle_user_agent(session: Any) -> None:
    """Put pip's real user agent into ``session``'s headers, if it was deferred."""
    headers: Any = getattr(session, "headers", None)
    agent = headers.get("User-Agent") if headers is not None else None
    if isinstance(agent, DeferredUserAgent):
        headers["User-Agent"] = str(agent)  # a failing computation is not tried again
        headers["User-Agent"] = agent.compute()


# -- the install step: what a tree stands in for -----------------------------------


class InstallStep(NamedTuple):
    """The names ``_install_wheel`` looks up in its module while it runs (the same in pip 22.3-26.3).

    ``file_class`` unpacks one wheel member (``ZipBackedFile(src_record_path,
    dest_path, zip_file)``, ``.save()``); ``compileall`` is the module whose
    ``compile_file(path, force=True, quiet=True)`` compiles each installed
    ``.py``; ``is_executable(zipinfo)`` is pip's rule for the executable bits;
    ``warnings`` is the module whose ``catch_warnings()`` starts pip's compile
    step (None when pip's wheel module no longer names it: the tree's files are
    then placed one by one, on pip's thread); ``record_path`` is pip's
    ``_fs_to_record_path``, which RECORD's row of every installed file goes
    through (None when the module no longer names it); ``ensure_dir`` is the
    function pip 24.1 and later call to make each installed file's folder
    before ``save()`` (None when the module does not name it).
    """

    module: Any  # pip's wheel module: its names are set back and forth
    file_class: type
    compileall: ModuleType
    is_executable: Any
    warnings: Optional[ModuleType] = None
    record_path: Optional[Callable[[str, str], str]] = None  # _fs_to_record_path(path, lib_dir): see quick_record_path
    ensure_dir: Optional[Callable[[str], None]] = None  # ensure_dir(path): makes the folder and its parents


def install_step(module: ModuleType) -> InstallStep:
    """The install step's names in pip's loaded wheel module; AttributeError/TypeError when one changed."""
    file_class = module.ZipBackedFile
    compileall = module.compileall
    if not isinstance(file_class, type) or not callable(getattr(file_class, "save", None)):
        raise TypeError("ZipBackedFile is not the class it was")
    if not callable(getattr(compileall, "compile_file", None)):
        raise TypeError("compileall is not the module it was")
    warnings_module = getattr(module, "warnings", None)
    if not callable(getattr(warnings_module, "catch_warnings", None)):
        warnings_module = None
    record_path = getattr(module, "_fs_to_record_path", None)
    ensure_dir = getattr(module, "ensure_dir", None)
    return InstallStep(module, file_class, compileall, module.zip_item_is_executable, warnings_module,
                       record_path if callable(record_path) else None, ensure_dir if callable(ensure_dir) else None)


def replace_install_names(
    step: InstallStep, file_class: Optional[type] = None, compileall: Any = None, warnings_module: Any = None,
    record_path: Optional[Callable[[str, str], str]] = None, ensure_dir: Optional[Callable[[str], None]] = None,
) -> None:
    """Swap the names ``_install_wheel`` looks up in its module (None: put pip's own back, see ``InstallStep``)."""
    step.module.ZipBackedFile = file_class or step.file_class
    step.module.compileall = compileall or step.compileall
    if warnings_module is not None:
        step.module.warnings = warnings_module
    if step.record_path is not None:
        step.module._fs_to_record_path = record_path or step.record_path
    if step.ensure_dir is not None:
        step.module.ensure_dir = ensure_dir or step.ensure_dir


_CLEAN_PARTS = frozenset(("", ".", ".."))


def quick_record_path(pip_record_path: Callable[[str, str], str]) -> Callable[[str, str], str]:
    """pip's ``_fs_to_record_path(path, lib_dir)``, without ``os.path.relpath`` for the usual path.

    pip 22.3-26.3 compute a RECORD row's path as ``relpath(path,
    lib_dir)`` with ``/`` separators; ``relpath`` normalizes both paths anew
    for each of a tree's files, a tenth of pip's thread while it installs a
    large tree.  For an absolute, normalized ``lib_dir`` and a ``path`` that
    is ``lib_dir``, a separator and normalized parts, that is the rest of
    ``path``: the same string.  Any other path (a script in ``bin``, a
    Windows path, ``..``) goes to pip's own function.
    """
    prefixes: Dict[str, Optional[str]] = {}

    def record_path(path: str, lib_dir: str) -> str:
        prefix = prefixes.get(lib_dir, "")
        if prefix == "":
            usable = (os.sep == "/" and os.altsep is None and type(lib_dir) is str and lib_dir.startswith("/")
                      and os.path.normpath(lib_dir) == lib_dir and lib_dir != "/")
            prefix = prefixes[lib_dir] = lib_dir + "/" if usable else None
        if prefix is not None and type(path) is str and path.startswith(prefix):
            rest = path[len(prefix):]
            if _CLEAN_PARTS.isdisjoint(rest.split("/")):
                return rest
        return pip_record_path(path, lib_dir)

    return record_path


# A wheel member as ``_install_wheel`` hands it to ``save()`` (``ZipBackedFile``, the same in pip 22.3-26.3).
def member_record_path(member: Any) -> str:
    """The member's path in the wheel, as its RECORD names it."""
    return str(member.src_record_path)


def member_destination(member: Any) -> str:
    """Where pip would unzip the member."""
    return str(member.dest_path)


def member_zipinfo(member: Any) -> ZipInfo:
    return member._getinfo()  # type: ignore[no-any-return]


def mark_written(member: Any) -> None:
    """Say the member's file is in place: pip 26.3 reads it (``written_paths``) to record what an interrupted
    install left; earlier pips never look."""
    member.written = True


def built_anew(direct_url: Any, wheel_path: str) -> bool:
    """Whether pip installs a wheel it built for this command alone, whose bytes will not come again.

    A local folder (``pip install .``, editables) is built every time; so is
    any wheel pip does not keep in its wheel cache (a VCS branch or tag rather
    than a commit, say), which it builds in an ephemeral one.  Keeping a tree
    of such a wheel would only fill the cache.
    """
    if type(getattr(direct_url, "info", None)).__name__ == "DirInfo":
        return True
    return any(part.startswith(EPHEMERAL_WHEELS) for part in os.path.normpath(wheel_path).split(os.sep))


# pip builds a wheel it will not keep under TempDirectory(kind="ephem-wheel-cache"), named "pip-<kind>-…" (22.3-26.3).
EPHEMERAL_WHEELS = "pip-ephem-wheel-cache-"


# -- what differs between pip versions ------------------------------------------


class PipBehavior:
    """What a pip version does by itself, named once; code and tests ask by these names."""

    def __init__(self, version: str) -> None:
        try:
            numbers = tuple(int(part) for part in version.split(".")[:2])
        except ValueError:
            numbers = (0, 0)
        self.version = numbers
        self.supported = bool(numbers) and numbers[0] in SUPPORTED_MAJOR_VERSIONS
        # pip's wheel cache hands out a wheel it built in hash-checking mode, checking
        # the user's hash against the sdist it was built from (23.1)
        self.built_wheels_in_hash_mode = numbers >= (23, 1)
        # before 23.1 pip's wheel cache refuses --no-binary projects (it had a format control)
        self.wheel_cache_refuses_no_binary = numbers < (23, 1)
        # a project's extras identifier takes the base's requirements into account (23.3)
        self.extras_merge_base = numbers >= (23, 3)
        self.lock_command = numbers >= (25, 1)
        self.uploaded_prior_to = numbers >= (26, 0)
        # installing a pylock file puts its links into the finder (26.2)
        self.pylock_locks_links = numbers >= (26, 2)
        # installation polices late imports: a warning from 26.1, an error from 26.3
        self.polices_late_imports = numbers >= (26, 1)
        # pip install reads the environment once for its "Successfully installed" line (24.2)
        self.summary_reads_environment_once = numbers >= (24, 2)
        # the self-version check passes an aware UTC time to its state (23.3; a naive utcnow() before)
        self.self_check_aware_time = numbers >= (23, 3)


def pip_version() -> Optional[str]:
    pip = sys.modules.get("pip")
    return getattr(pip, "__version__", None)


def behavior() -> PipBehavior:
    """The behaviour of the pip running in this process."""
    return PipBehavior(pip_version() or "")


def pip_version_supported() -> bool:
    return behavior().supported


def known_pips() -> str:
    """The pip major versions this table knows, as ``22–26``."""
    return f"{SUPPORTED_MAJOR_VERSIONS.start}\u2013{SUPPORTED_MAJOR_VERSIONS.stop - 1}"


def unknown_pip_line() -> Optional[str]:
    """The line for a pip newer than this table knows (it runs as plain pip); None for any other pip."""
    version = pip_version()
    if not version or behavior().version[0] < SUPPORTED_MAJOR_VERSIONS.stop:
        return None
    return f"pipcachefirst: pip {version} is newer than this pipcachefirst knows ({known_pips()}): plain pip; " \
           "upgrade pipcachefirst"


def _loaded(name: str) -> ModuleType:
    module = sys.modules.get(name)
    if module is None:
        raise ImportError(f"{name} is not loaded")
    return module


# -- links -----------------------------------------------------------------


def make_link(path: str, requires_python: Optional[str], yanked_reason: Optional[str], sha256: Optional[str]) -> Link:
    """A pip ``Link`` to a local file, as pip's find-links code would make it.

    The digest goes in the URL fragment, the one form every pip version
    honours for ``Link.is_hash_allowed``.
    """
    link_class = _loaded("pip._internal.models.link").Link
    path_to_url = _loaded("pip._internal.utils.urls").path_to_url
    url = path_to_url(path)
    if sha256:
        url += "#sha256=" + sha256
    link: Link = link_class(url, requires_python=requires_python, yanked_reason=yanked_reason)
    return link


class LinkFacts(NamedTuple):
    """What pipcachefirst reads from a pip ``Link``."""

    filename: str
    url: str
    page_url: Optional[str]
    requires_python: Optional[str]
    yanked_reason: Optional[str]
    sha256: Optional[str]
    is_local: bool


def link_facts(link: Link) -> LinkFacts:
    comes_from = getattr(link, "comes_from", None)
    page_url = getattr(comes_from, "url", comes_from)  # a URL, or the index page object listing it
    sha256 = None
    if getattr(link, "hash_name", None) == "sha256":
        sha256 = getattr(link, "hash", None)
    return LinkFacts(
        filename=str(link.filename),
        url=str(link.url_without_fragment),
        page_url=str(page_url) if page_url else None,
        requires_python=getattr(link, "requires_python", None) or None,
        yanked_reason=getattr(link, "yanked_reason", None),
        sha256=sha256,
        is_local=bool(link.is_file or getattr(link, "is_vcs", False)),
    )


def link_url(link: Link) -> str:
    return str(link.url_without_fragment)


def hash_allowed(link: Link, hashes: Any) -> bool:
    return bool(link.is_hash_allowed(hashes))


# -- the finder ------------------------------------------------------------


def finder_locations(finder: Finder) -> Tuple[List[str], List[str]]:
    """The index URLs and find-links locations the finder uses right now.

    Read at call time: ``--index-url`` lines in requirement files change the
    finder's search scope after it was made.
    """
    return list(finder.index_urls or ()), list(finder.find_links or ())


def reason_to_step_aside(finder: Finder, project_name: str, canonical_name: str) -> Optional[str]:
    """Why pip's own answer must win for this name, if it must."""
    if getattr(finder, "uploaded_prior_to", None):  # behavior().uploaded_prior_to
        return "--uploaded-prior-to is set"
    locked = getattr(finder, "_locked_links", None) or {}  # behavior().pylock_locks_links
    if project_name in locked or canonical_name in locked:
        return "locked by a pylock file"
    return None


def evaluate(finder: Finder, project_name: str, links: Sequence[Link]) -> List[Candidate]:
    """pip's own link evaluation: tags, target Python, --only/--no-binary, Requires-Python."""
    return list(finder.evaluate_links(finder.make_link_evaluator(project_name), links))


def best_result(
    finder: Finder,
    project_name: str,
    specifier: Any,
    hashes: Any,
    candidates: Sequence[Candidate],
    evaluators: Optional[Dict[Any, Any]] = None,
) -> Any:
    """pip's own choice among ``candidates``, as the ``BestCandidateResult`` pip expects.

    ``evaluators`` keeps pip's ``CandidateEvaluator`` per question for the
    next choice on the same question: making one orders the few hundred tags
    this interpreter supports (about 0.4 ms), and choosing with it changes
    nothing in it.
    """
    try:
        key: Any = (project_name, specifier, getattr(specifier, "prereleases", None), hashes)
        evaluator = evaluators.get(key) if evaluators is not None else None
    except TypeError:  # a specifier or hashes that cannot be a key: a new evaluator
        key, evaluator = None, None
    if evaluator is None:
        evaluator = finder.make_candidate_evaluator(project_name=project_name, specifier=specifier, hashes=hashes)
        if evaluators is not None and key is not None:
            evaluators[key] = evaluator
    return evaluator.compute_best_candidate(list(candidates))


def best_candidate(result: Any) -> Optional[Candidate]:
    return getattr(result, "best_candidate", None)


def candidate_link(candidate: Candidate) -> Link:
    return candidate.link


def link_evaluator_project(link_evaluator: Any) -> Optional[str]:
    return getattr(link_evaluator, "project_name", None)


def pinned_versions(specifier: Optional[Specifier]) -> List[str]:
    """Versions named by non-wildcard ``==`` or ``===`` clauses of a specifier set."""
    pins = []
    for clause in specifier or ():
        operator, version = getattr(clause, "operator", ""), getattr(clause, "version", "")
        if operator == "===" or (operator == "==" and not version.endswith(".*")):
            pins.append(version)
    return pins


def allows_prereleases(specifier: Specifier) -> bool:
    return bool(getattr(specifier, "prereleases", False))


def search_no_index(finder: Finder) -> None:
    """Make the finder look at local find-links only, as ``--no-index`` would."""
    scope_class = _loaded("pip._internal.models.search_scope").SearchScope
    local = [location for location in finder.find_links or () if "://" not in location or location.startswith("file:")]
    finder.search_scope = scope_class.create(find_links=local, index_urls=[], no_index=True)  # type: ignore[attr-defined]


# -- installed distributions ----------------------------------------------


def distributions_by_name(environment: Any) -> Dict[str, Any]:
    """Each project in pip's ``environment``, by canonical name: the first found, as ``get_distribution`` picks."""
    found: Dict[str, Any] = {}
    for distribution in environment.iter_all_distributions():
        found.setdefault(distribution.canonical_name, distribution)
    return found


def cached_requirement(text: str) -> Any:
    """``text`` parsed by pip's cached ``utils.packaging.get_requirement`` (pip 22.3-26.3).

    None when that function is not there or does not parse ``text``: the
    caller's own parser then answers, and raises pip's own error.
    """
    module = sys.modules.get("pip._internal.utils.packaging")
    get_requirement = getattr(module, "get_requirement", None)
    if get_requirement is None:
        return None
    try:
        return get_requirement(text)
    except Exception:  # noqa: BLE001 - pip's parser says it again, in its own words
        return None


# -- requirements being prepared and built ---------------------------------


class PreparedFile(NamedTuple):
    """A distribution file pip has in hand for a requirement."""

    project: str
    link: Link
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


def built_source_url(req: Any) -> Optional[str]:
    """The URL of the sdist pip built a wheel from for ``req``; None for editables and the like."""
    link = getattr(req, "link", None)
    if link is None or getattr(req, "editable", False):
        return None
    return link_url(link)


def download_url(req: Any) -> Optional[str]:
    """Where pip will report ``req``'s file came from (``download_info.url``), once pip has set it."""
    url = getattr(getattr(req, "download_info", None), "url", None)
    return url if isinstance(url, str) else None


def report_index_file(req: Any, url: str, sha256: str) -> None:
    """Make ``req``'s ``download_info`` what pip itself sets for the index's link ``url#sha256=...``.

    pip's own ``direct_url_from_link`` makes it, so its form is the running pip's
    (``archive_info.hash`` alone in pip 22, ``hashes`` as well in later pips).
    """
    link = _loaded("pip._internal.models.link").Link(f"{url}#sha256={sha256}")
    req.download_info = _loaded("pip._internal.utils.direct_url_helpers").direct_url_from_link(link)


def preparer_finder(preparer: Any) -> Finder:
    finder: Finder = preparer.finder
    return finder


def command_name(command: Any) -> str:
    return str(getattr(command, "name", ""))


def parsed_options(parse_args_result: Any) -> Any:
    """The options object of what ``Command.parse_args`` returned (``(options, args)``)."""
    return parse_args_result[0]


def cache_dir_option(options: Any) -> Any:
    return getattr(options, "cache_dir", None)


def installs_here_compiled(command: str, options: Any) -> bool:
    """``pip install`` that byte-compiles, for real (not ``--dry-run``), into this environment's own folders.

    Not ``--target``, ``--prefix`` (pip's build environments before 26.2),
    ``--root`` or ``--user``, whose folders may be anywhere.
    """
    return (command == "install" and getattr(options, "compile", False) is True
            and not any(getattr(options, name, None) for name in ("dry_run", "target_dir", "prefix_path",
                                                                   "root_path", "use_user_site")))


PIP_MAIN_MODULE = "pip.__main__"  # python -m pip, and pip's runner (pip --python, build environments)
# What the pip console scripts import and call: pip._internal.cli.main:main, :cli from 26.x
CLI_MODULE, CLI_ENTRY_POINTS = "pip._internal.cli.main", ("main", "cli")


def pip_is_the_program() -> bool:
    """Whether this process is pip's command line, not a program that runs pip's code inside itself."""
    program = sys.modules.get("__main__")
    spec = getattr(program, "__spec__", None)
    if getattr(spec, "name", None) == PIP_MAIN_MODULE:
        return True
    cli = sys.modules.get(CLI_MODULE)
    for name in CLI_ENTRY_POINTS:
        entry_point = getattr(cli, name, None)
        if entry_point is not None and getattr(program, name, None) is entry_point:
            return True
    return False


def command_run_target(command: Any) -> Tuple[Any, str]:
    """``(command, "run")``: the run pip calls after deciding about its cache, wrapped on this command object only."""
    check_signature(command.run, COMMAND_RUN)
    return command, "run"


def pip_would_write(path: str) -> Optional[bool]:
    """Whether pip's own rule lets it write to ``path`` as its cache folder; None where pip has no such rule.

    ``check_path_owner`` (pip 22.3-26.3): the first existing folder on the path
    must be writable, and for root owned by root.
    """
    check = getattr(sys.modules.get("pip._internal.utils.filesystem"), "check_path_owner", None)
    return None if check is None else bool(check(path))


def format_size(size: float) -> str:
    """A size as pip's own cache commands show it (``1.2 kB``, ``8.9 MB``)."""
    return str(_loaded("pip._internal.utils.misc").format_size(size))


def wheel_location(wheel: Any) -> Optional[str]:
    """The path of the wheel file pip reads metadata from (``FilesystemWheel.location``); None for another kind."""
    location = getattr(wheel, "location", None)
    return location if isinstance(location, str) and type(wheel).__name__ == "FilesystemWheel" else None


def self_check_answer(state: Any) -> Optional[str]:
    """What pip's own ``SelfCheckState.get`` answers now: the latest pip it knows, None when it must ask.

    Called with the time pip itself passes (see ``PipBehavior``); a state
    this pip cannot read (another pip's date format) raises: no answer.
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    if not behavior().self_check_aware_time:
        now = now.replace(tzinfo=None)  # pip's datetime.utcnow()
    try:
        answer = state.get(now)
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
    return answer if isinstance(answer, str) else None


def self_check_files(state: Any) -> Tuple[Optional[str], Any]:
    """``(path of this environment's state file, the state pip read)``; path None when pip keeps none."""
    path = getattr(state, "_statefile_path", None)
    return (path if isinstance(path, str) else None), getattr(state, "_state", None)


def use_self_check_state(state: Any, content: Any) -> None:
    """Make ``content`` (another state file's, as pip's json reads it) the state pip's object answers from."""
    state._state = content


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


def hash_checking(options: Any, ireqs: Sequence[Any]) -> bool:
    """Whether pip runs in hash-checking mode: ``--require-hashes``, or any requirement with a ``--hash``."""
    return bool(getattr(options, "require_hashes", False)) or any(
        getattr(ireq, "has_hash_options", False) for ireq in ireqs)


def wanted_requirements(ireqs: Sequence[Any]) -> List[Wanted]:
    """Named, user-given requirements with the constraints for their names merged in."""
    constraints: Dict[str, Any] = {}
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


# -- pip's wheel cache -----------------------------------------------------


def wheel_cache_allows_binary(wheel_cache: Any, project_name: str) -> bool:
    """Whether pip's wheel cache may hand out a wheel for this project (see ``PipBehavior``)."""
    if not behavior().wheel_cache_refuses_no_binary:
        return True
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


def installation_error(message: str) -> Exception:
    """The error pip reports as one clean message, without a traceback."""
    error: Exception = _loaded("pip._internal.exceptions").InstallationError(message)
    return error


# -- the command line (pipcachefirst status / why): pip's own option parsing --


def configured_options(args: Sequence[str] = ()) -> Tuple[Any, Any, List[str]]:
    """pip's install command and its options as pip would parse ``args`` (config files and PIP_* too)."""
    commands = importlib.import_module("pip._internal.commands")
    command = commands.create_command("install", isolated=False)
    options, rest = command.parse_args(list(args))
    return command, options, rest


def finder_and_requirements(args: Sequence[str]) -> Tuple[Finder, List[Wanted]]:
    """The finder and the user's requirements ``pip install ARGS`` would start from; no network.

    Requirement files given by URL are fetched, as pip would.
    """
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


def interpreter_tag() -> str:
    """Which interpreter built a wheel: pip's wheel cache keys on the same thing."""
    return f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}"
