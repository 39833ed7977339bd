"""Answer pip's question "best file for this pin?" from the cache, by pip's own rules.

pip asks ``PackageFinder.find_best_candidate(name, specifier, hashes)`` with
the intersection of every specifier and constraint it knows for ``name``.
When that pins one version, the cached files of that version from the
indexes this command uses are turned into local links and handed to pip's
own evaluators, so tags, target Python, ``--only-binary``/``--no-binary``,
Requires-Python, pre-release rules, ``--prefer-binary`` and ``--hash`` mean
exactly what they mean to pip.

The files the index listed next to a cached one (its *siblings*) take part in
that choice as well.  If pip would pick one of them -- say a wheel for this
interpreter while the cache holds only the sdist -- the cache steps aside and
pip asks the index: serving the sdist would mean a build pip would not have
run.  A served sdist reaches pip as the cached file itself; a wheel built
earlier from it is handed to pip through pip's own wheel-cache lookup
(:func:`built_wheel`), so pip alone decides where a built wheel may stand in
(not for ``pip download``, not in hash-checking mode before pip 23.1, not for
``--no-binary`` before 23.1), exactly as it does for the wheels it built itself.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from pipcachefirst._packaging import InvalidVersion, Version, canonicalize_name

from pipcachefirst import pipcompat, session
from pipcachefirst.settings import EXACT
from pipcachefirst.session import Decision
from pipcachefirst.store import KIND_BUILT, KIND_DOWNLOAD, Entry, Record, Store, StoreError, parse_filename, version_key

_MAX_DAMAGED = 3


class Answer(NamedTuple):
    """pip's result object when served (else None), and what to tell the user."""

    result: Any
    decision: Optional[Decision]
    entry: Optional[Entry] = None


PASS = Answer(None, None)


def answer(
    store: Store,
    finder: Any,
    project_name: str,
    specifier: Any,
    hashes: Any,
    origins: Sequence[str],
    picks: Optional[Dict[Any, Any]] = None,
    mode: str = EXACT,
) -> Answer:
    """Serve the requirement from ``store`` or say why not; ``PASS`` when it is not ours to answer.

    ``origins`` are the normalized index and find-links locations the command
    uses.  In ``exact`` mode only pins are answered; in the other modes any
    specifier is, from the newest cached version that satisfies it.

    pip asks again for the same name as it learns more specifiers (``==1.4``,
    then ``==1.4,>=1.0``); ``picks`` remembers the file chosen for a version
    so that only the final check against the specifier is repeated.
    """
    pins = pipcompat.pinned_versions(specifier)
    if specifier is None or (not pins and mode == EXACT):
        return PASS
    canonical = canonicalize_name(project_name)

    def refuse(detail: str) -> Answer:
        return Answer(None, Decision(canonical, str(specifier), False, detail))

    step_aside = pipcompat.reason_to_step_aside(finder, project_name, canonical)
    if step_aside:
        return refuse(step_aside)
    origins = tuple(sorted(origins))
    if not origins:
        return refuse(session.NO_INDEX)
    picks = {} if picks is None else picks
    reason = session.NOT_CACHED
    for version in pins[:1] or _cached_versions(store, canonical, specifier):
        key = (canonical, version_key(version), origins, hashes)
        if key not in picks:
            picks[key] = _pick(store, finder, project_name, canonical, version, specifier, hashes, origins)
        pick = picks[key]
        if isinstance(pick, str):
            reason = pick
            continue
        entry, candidate = pick
        result = pipcompat.best_result(finder, project_name, specifier, hashes, [candidate])
        if pipcompat.best_candidate(result) is None:
            reason = session.NO_COMPATIBLE_FILE
            continue
        return Answer(result, Decision(canonical, str(specifier), True, entry.record.filename), entry)
    return refuse(reason if pins else session.NO_CACHED_VERSION)


def _cached_versions(store: Store, canonical: str, specifier: Any) -> List[str]:
    """Cached versions that satisfy ``specifier``, newest first; pre-releases only if it names one."""
    allow_pre = bool(getattr(specifier, "prereleases", False))
    versions = []
    for name in store.versions(canonical):
        try:
            version = Version(name)
        except InvalidVersion:
            continue
        if (allow_pre or not version.is_prerelease) and specifier.contains(name, prereleases=True):
            versions.append(version)
    return [str(v) for v in sorted(versions, reverse=True)]


def _pick(
    store: Store,
    finder: Any,
    project_name: str,
    canonical: str,
    pin: str,
    specifier: Any,
    hashes: Any,
    origins: Tuple[str, ...],
) -> Union[str, Tuple[Entry, Any]]:
    """The intact cached file pip would choose for this pin, or why there is none."""
    entries = store.entries(canonical, pin, origins)
    if not entries:
        return session.OTHER_INDEX if store.has_other_origins(canonical, pin, origins) else session.NOT_CACHED
    damaged = False
    for _ in range(_MAX_DAMAGED):
        choice = _choose(finder, project_name, specifier, hashes, entries)
        if isinstance(choice, str):
            return session.DAMAGED if damaged else choice
        entry, candidate = choice
        if store.is_intact(entry):
            if not store.trusted(entry):
                return session.UNTRUSTED
            return entry, candidate
        store.quarantine(entry)
        entries = [e for e in entries if e != entry]
        damaged = True
    return session.DAMAGED


def _choose(
    finder: Any, project_name: str, specifier: Any, hashes: Any, entries: List[Entry]
) -> Union[str, Tuple[Entry, Any]]:
    """pip's pick among cached downloads and their siblings; a reason if not a cached one."""
    downloads = [e for e in entries if e.record.kind == KIND_DOWNLOAD]
    with_digest = bool(hashes)
    cached: Dict[Any, Entry] = {}
    for entry in downloads:
        record = entry.record
        link = pipcompat.make_link(
            str(entry.path), record.requires_python, record.yanked_reason, record.sha256 if with_digest else None
        )
        cached[link] = entry
    if with_digest and not any(pipcompat.hash_allowed(link, hashes) for link in cached):
        return session.HASH_MISMATCH
    candidates = pipcompat.evaluate(finder, project_name, list(cached) + _sibling_links(downloads, with_digest))
    if not any(pipcompat.candidate_link(c) in cached for c in candidates):
        return session.BETTER_FILE_ON_INDEX if candidates else session.NO_COMPATIBLE_FILE
    best = pipcompat.best_candidate(pipcompat.best_result(finder, project_name, specifier, hashes, candidates))
    if best is None:
        return session.NO_COMPATIBLE_FILE
    link = pipcompat.candidate_link(best)
    if link not in cached:
        return session.BETTER_FILE_ON_INDEX
    if with_digest and not pipcompat.hash_allowed(link, hashes):
        return session.HASH_MISMATCH
    return cached[link], best


def _sibling_links(downloads: List[Entry], with_digest: bool) -> List[Any]:
    """Links standing for files the index listed beside the cached ones but we do not hold."""
    held = {e.record.filename for e in downloads}
    links = []
    for entry in downloads:
        for sibling in entry.record.siblings:
            if sibling.filename in held:
                continue
            held.add(sibling.filename)
            placeholder = str(entry.path.parent.parent / "not-cached" / sibling.filename)
            digest = sibling.sha256 if with_digest else None
            links.append(pipcompat.make_link(placeholder, sibling.requires_python, None, digest))
    return links


def built_wheel(store: Store, sdist: Record, supported: Optional[Callable[[str], bool]] = None) -> Optional[Entry]:
    """An intact wheel this interpreter built earlier from the sdist ``sdist`` describes.

    ``supported`` says whether a wheel file name fits the target, as pip's
    wheel cache checks; a damaged wheel is moved aside and not offered.
    """
    try:
        project, version = parse_filename(sdist.filename)
    except StoreError:
        return None
    interpreter = pipcompat.interpreter_tag()
    for built in store.entries(project, version, [sdist.origin]):
        record = built.record
        if record.kind != KIND_BUILT or record.built_from != sdist.sha256 or record.built_by != interpreter:
            continue
        if supported is not None and not supported(record.filename):
            continue
        if store.is_intact(built) and store.trusted(built):
            return built
        store.quarantine(built)
    return None
