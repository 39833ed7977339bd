"""Answer pip's question "best file for this pin?" from the cache, by pip's own rules.

pip asks ``PackageFinder.find_best_candidate(name, specifier, hashes)`` with
the intersection of every specifier and constraint it knows for ``name``.
When that pins one version, the records the cache holds for that version
from the indexes this command uses are turned into links and handed to pip's
own evaluators, so tags, target Python, ``--only-binary``/``--no-binary``,
Requires-Python, pre-release rules, ``--prefer-binary`` and ``--hash`` mean
exactly what they mean to pip.  The choice is made on records alone; only the
winner's file is fetched (and verified) from the tier, then offered to pip.

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

import posixpath
from typing import Any, Callable, Dict, Hashable, List, NamedTuple, Optional, Sequence, Tuple, Union

from pipcachefirst.base.packaging import InvalidVersion, Version, canonicalize_name
from pipcachefirst.base.settings import EXACT
from pipcachefirst.cache.catalog import (
    KIND_BUILT,
    KIND_DOWNLOAD,
    CacheTier,
    Entry,
    Record,
    StoreError,
    parse_filename,
    version_key,
)
from pipcachefirst.cache.decisions import Decision, Reason
from pipcachefirst.pip import compat

_MAX_DAMAGED = 3
# Links are chosen before any file is fetched: they point here, at no real file.
_UNFETCHED = "/pipcachefirst-unfetched"

Pick = Union[Reason, Tuple[Entry, compat.Candidate]]
Picks = Dict[Hashable, Pick]


class Answer(NamedTuple):
    """pip's result object when served (else None), and what to tell the user."""

    result: Any
    decision: Optional[Decision]
    entry: Optional[Entry] = None


PASS = Answer(None, None)


def answer(
    cache: CacheTier,
    finder: compat.Finder,
    project_name: str,
    specifier: Optional[compat.Specifier],
    hashes: Any,
    origins: Sequence[str],
    picks: Optional[Picks] = None,
    mode: str = EXACT,
    evaluators: Optional[Dict[Any, Any]] = None,
) -> Answer:
    """Serve the requirement from ``cache`` or say why not; ``PASS`` when it is not ours to answer.

    ``origins`` are the normalized index and find-links locations the command
    uses.  In ``exact`` mode only pins are answered; in the other modes any
    specifier is, from the newest cached version that satisfies it.

    pip asks again for the same name as it learns more specifiers (``==1.4``,
    then ``==1.4,>=1.0``); ``picks`` remembers the file chosen for a version
    so that only the final check against the specifier is repeated;
    ``evaluators`` keeps pip's evaluator of a question for its next choice
    (``compat.best_result``).
    """
    pins = compat.pinned_versions(specifier)
    if specifier is None or (not pins and mode == EXACT):
        return PASS
    canonical = canonicalize_name(project_name)

    def refuse(detail: Union[Reason, str]) -> Answer:
        return Answer(None, Decision(canonical, str(specifier), False, str(detail)))

    step_aside = compat.reason_to_step_aside(finder, project_name, canonical)
    if step_aside:
        return refuse(step_aside)
    origins = tuple(sorted(origins))
    if not origins:
        return refuse(Reason.NO_INDEX)
    picks = {} if picks is None else picks
    reason = Reason.NOT_CACHED
    for version in pins[:1] or _cached_versions(cache, canonical, specifier):
        key = (canonical, version_key(version), origins, hashes)
        if key not in picks:
            picks[key] = _pick(cache, finder, project_name, canonical, version, specifier, hashes, origins, evaluators)
        pick = picks[key]
        if isinstance(pick, Reason):
            reason = pick
            continue
        entry, candidate = pick
        result = compat.best_result(finder, project_name, specifier, hashes, [candidate], evaluators)
        if compat.best_candidate(result) is None:
            reason = Reason.NO_COMPATIBLE_FILE
            continue
        return Answer(result, Decision(canonical, str(specifier), True, entry.record.filename), entry)
    return refuse(reason if pins else Reason.NO_CACHED_VERSION)


def _cached_versions(cache: CacheTier, canonical: str, specifier: compat.Specifier) -> List[str]:
    """Cached versions that satisfy ``specifier``, newest first; pre-releases only if it names one."""
    allow_pre = compat.allows_prereleases(specifier)
    versions = []
    for name in cache.versions(canonical):
        try:
            version = Version(name)
        except InvalidVersion:
            continue
        if (allow_pre or not version.is_prerelease) and specifier.contains(name, prereleases=True):
            versions.append(version)
    return [str(v) for v in sorted(versions, reverse=True)]


def _pick(
    cache: CacheTier,
    finder: compat.Finder,
    project_name: str,
    canonical: str,
    pin: str,
    specifier: compat.Specifier,
    hashes: Any,
    origins: Tuple[str, ...],
    evaluators: Optional[Dict[Any, Any]] = None,
) -> Pick:
    """The verified cached file pip would choose for this pin, as pip's candidate; or why there is none."""
    records = [r for r in cache.records(canonical, pin, origins) if r.kind == KIND_DOWNLOAD]
    if not records:
        return Reason.OTHER_INDEX if cache.has_other_origins(canonical, pin, origins) else Reason.NOT_CACHED
    damaged = False
    for _ in range(_MAX_DAMAGED):
        chosen = choose(finder, project_name, specifier, hashes, records, evaluators)
        if isinstance(chosen, Reason):
            return Reason.DAMAGED if damaged else chosen
        fetched = cache.fetch(chosen)
        if isinstance(fetched, Entry):
            return _as_candidate(finder, project_name, fetched, bool(hashes))
        if fetched is not Reason.DAMAGED:
            return fetched
        records = [r for r in records if r != chosen]
        damaged = True
    return Reason.DAMAGED


def choose(
    finder: compat.Finder,
    project_name: str,
    specifier: compat.Specifier,
    hashes: Any,
    records: List[Record],
    evaluators: Optional[Dict[Any, Any]] = None,
) -> Union[Reason, Record]:
    """pip's pick among cached downloads and their siblings: the record, or why not a cached one.

    Records alone decide, so a tier can be asked what it holds before any
    file is fetched (the team cache chooses this way before bringing a file in).
    """
    with_digest = bool(hashes)
    cached: Dict[Any, Record] = {}
    for record in records:
        link = _unfetched_link(
            record.filename, record.sha256, record.requires_python, record.yanked_reason, with_digest
        )
        cached[link] = record
    if with_digest and not any(compat.hash_allowed(link, hashes) for link in cached):
        return Reason.HASH_MISMATCH
    candidates = compat.evaluate(finder, project_name, list(cached) + _sibling_links(records, with_digest))
    if not any(compat.candidate_link(c) in cached for c in candidates):
        return Reason.BETTER_FILE_ON_INDEX if candidates else Reason.NO_COMPATIBLE_FILE
    best = compat.best_candidate(compat.best_result(finder, project_name, specifier, hashes, candidates, evaluators))
    if best is None:
        return Reason.NO_COMPATIBLE_FILE
    link = compat.candidate_link(best)
    if link not in cached:
        return Reason.BETTER_FILE_ON_INDEX
    if with_digest and not compat.hash_allowed(link, hashes):
        return Reason.HASH_MISMATCH
    return cached[link]


def _unfetched_link(
    filename: str,
    sha256: Optional[str],
    requires_python: Optional[str],
    yanked_reason: Optional[str],
    with_digest: bool,
) -> compat.Link:
    """A link for pip's evaluators to judge a file by its name and record, before it is fetched."""
    folder = (sha256 or "sibling")[:16]
    return compat.make_link(
        posixpath.join(_UNFETCHED, folder, filename), requires_python, yanked_reason, sha256 if with_digest else None
    )


def _sibling_links(records: List[Record], with_digest: bool) -> List[compat.Link]:
    """Links standing for files the index listed beside the cached ones but the cache does not hold."""
    held = {r.filename for r in records}
    links = []
    for record in records:
        for sibling in record.siblings:
            if sibling.filename in held:
                continue
            held.add(sibling.filename)
            links.append(_unfetched_link(sibling.filename, sibling.sha256, sibling.requires_python, None, with_digest))
    return links


def _as_candidate(finder: compat.Finder, project_name: str, entry: Entry, with_digest: bool) -> Pick:
    """pip's candidate for the fetched file: the same evaluation, now on the real local path."""
    record = entry.record
    link = compat.make_link(
        str(entry.path), record.requires_python, record.yanked_reason, record.sha256 if with_digest else None
    )
    candidates = compat.evaluate(finder, project_name, [link])
    if not candidates:
        return Reason.NO_COMPATIBLE_FILE
    return entry, candidates[0]


def built_wheel(cache: CacheTier, sdist: Record, supported: Optional[Callable[[str], bool]] = None) -> Optional[Entry]:
    """An intact wheel this interpreter built earlier from the sdist ``sdist`` describes.

    ``supported`` says whether a wheel file name fits the target, as pip's
    wheel cache checks; a damaged wheel is moved aside and not offered.
    """
    try:
        project, version = parse_filename(sdist.filename)
    except StoreError:
        return None
    interpreter = compat.interpreter_tag()
    for record in cache.records(project, version, [sdist.origin]):
        if record.kind != KIND_BUILT or record.built_from != sdist.sha256 or record.built_by != interpreter:
            continue
        if supported is not None and not supported(record.filename):
            continue
        fetched = cache.fetch(record)
        if isinstance(fetched, Entry):
            return fetched
    return None
