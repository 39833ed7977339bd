"""What every benchmark here shares: files on a loopback index, tool venvs, timed installs.

Setup talks to PyPI, once per work folder: the workload's files, the build
tools its sdists need, pip versions, uv, matplotlib.  Everything timed talks
to 127.0.0.1 only, with none of this machine's pip configuration
(``tests.support.envs.isolated_environ``).

Each timed command runs right after ``os.sync()``: otherwise the previous
run's deleted venv and written files are flushed to disk during the next
timed run, which on a small machine adds up to a second at random.  What a
run is done with is not deleted but set aside (``trash``): on this machine
a deletion slows every file made for minutes after it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

if __package__:  # imported as bench.harness (tests.differential): the same trash module as its importer
    from bench import trash  # noqa: E402
else:
    import trash  # noqa: E402
from tests.support.envs import create_venv, isolated_environ  # noqa: E402
from tests.support.indexserver import canonical  # noqa: E402

WORKLOADS = REPO / "bench" / "workloads"
DEFAULT_WORKDIR = REPO / "bench" / "work"
# What building the workloads' sdists needs (pip's and uv's default build
# requirements), with their dependencies: on the index and in the find-links
# folder, so builds never leave loopback.  Only the warm-up run builds anything.
BUILD_TOOLS = ("setuptools==84.2.1", "wheel==0.48.0")
UV_REQUIREMENT = "uv==0.13.9"  # the outside reference, pinned so that reruns compare like with like


def run(command: Sequence[str], env: Mapping[str, str], cwd: Path = REPO) -> "subprocess.CompletedProcess[str]":
    """Run ``command``; stop the benchmark with its output if it fails."""
    proc = subprocess.run(list(command), env=dict(env), cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, command))}\n{proc.stdout}\n{proc.stderr}")
    return proc


def timed(command: Sequence[str], env: Mapping[str, str]) -> float:
    """Seconds ``command`` takes, on a disk with nothing left to flush."""
    trash.make_room()
    os.sync()
    start = time.perf_counter()
    run(command, env)
    return time.perf_counter() - start


def wait_for_tree_helpers(cache_root: Path, timeout: float = 600.0) -> float:
    """Seconds until the helpers pip leaves behind are done in ``cache_root``.

    (Those helpers: ``pipcachefirst.trees.later``, building trees after pip's
    last line, and ``pipcachefirst.cache.limit``, keeping the cache under its
    size limit at most every ten minutes.)

    Not timed, but waited for: a helper still running would slow whatever is
    timed next, and it imports pip from the venv it was started in, whose
    path the next fresh venv takes.
    """
    if str(REPO / "src") not in sys.path:  # the benchmark runs from a checkout, with nothing installed
        sys.path.append(str(REPO / "src"))
    from pipcachefirst.cache import limit  # noqa: PLC0415
    from pipcachefirst.cache.store import TREES  # noqa: PLC0415 -- from the checkout, once on sys.path
    from pipcachefirst.trees import later  # noqa: PLC0415

    start = time.perf_counter()
    while [job for folder in cache_root.glob(f"{TREES.name}/*") for job in later.running(folder)] or (
            limit.running(cache_root)):
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"trees still being built in {cache_root} after {timeout:.0f} s")
        time.sleep(0.02)
    return time.perf_counter() - start


def project_of(filename: str) -> str:
    """The project a wheel or sdist file name belongs to."""
    if filename.endswith(".whl"):
        return canonical(filename.split("-")[0])
    stem = re.sub(r"\.(tar\.gz|zip|tar\.bz2)$", "", filename)
    return canonical(stem.rsplit("-", 1)[0])


def is_sdist(filename: str) -> bool:
    return not filename.endswith(".whl")


def workload_files(workload: Path, work: Path) -> Path:
    """The workload's pinned files, downloaded once, plus the build tools when it has sdists.

    This folder is what the bound's ``--find-links`` points at.
    """
    digest = hashlib.sha256(workload.read_bytes()).hexdigest()[:12]
    python = f"py{sys.version_info[0]}{sys.version_info[1]}-{sys.platform}"  # the files pip picks depend on it
    files = work / "files" / f"{workload.stem}-{digest}-{python}"
    if files.is_dir():
        return files
    print(f"downloading the files of {workload.name} from PyPI (once)...", flush=True)
    files.parent.mkdir(parents=True, exist_ok=True)
    scratch = tempfile.mkdtemp(dir=files.parent)
    try:
        download = [sys.executable, "-m", "pip", "download", "-q", "-d", scratch]
        run([*download, "--no-deps", "-r", str(workload)], isolated_environ())
        if any(is_sdist(name) for name in os.listdir(scratch)):
            run([*download, *BUILD_TOOLS], isolated_environ())  # with what they depend on
        os.replace(scratch, files)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return files


def pip_files(versions: Sequence[str], work: Path) -> Path:
    """pip's own wheels of ``versions``, downloaded once: for pip's page on the loopback index.

    pip's self-version check asks the index for pip's page; on PyPI it finds a
    version and pip remembers it for a week (``selfcheck/`` in pip's cache), on
    an index without pip it finds none and asks again on every run.
    """
    files = work / "files" / ("pip-" + "-".join(sorted(versions)))
    if files.is_dir():
        return files
    files.parent.mkdir(parents=True, exist_ok=True)
    scratch = tempfile.mkdtemp(dir=files.parent)
    try:
        for version in versions:  # one at a time: pip's resolver refuses two versions of one project
            run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", scratch, f"pip=={version}"],
                isolated_environ())
        os.replace(scratch, files)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return files


def publish(files: Path, index_root: Path, index: str = "main") -> None:
    """Lay ``files`` out as ``index`` of a ``tests.support.indexserver`` root."""
    for path in files.iterdir():
        project = index_root / index / project_of(path.name)
        project.mkdir(parents=True, exist_ok=True)
        if not (project / path.name).exists():
            shutil.copy2(path, project / path.name)


def product_wheel(work: Path) -> Path:
    """pipcachefirst built from this checkout (``built_from`` says which commit)."""
    global built_from
    wheels = work / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    built_from = source_commit()
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO)], isolated_environ())
    return next(wheels.glob("pipcachefirst-*.whl"))


built_from = ""  # " (commit abc1234)" of the last product wheel: the code measured, whatever is committed meanwhile


def source_commit() -> str:
    """`` (commit abc1234)``, with ``, with changes`` when ``src`` differs from it; empty outside git."""
    git = ["git", "-C", str(REPO)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    if not commit:
        return ""
    changed = subprocess.run([*git, "status", "--porcelain", "src"], capture_output=True, text=True).stdout
    return f" (commit {commit}{', with changes' if changed.strip() else ''})"


def tool_venv(work: Path, name: str, requirements: Sequence[str]) -> Path:
    """A venv under ``work`` holding ``requirements`` (from PyPI); its ``bin`` folder.

    Kept between runs while it was made from the same requirements (a wheel
    path counts with its sha256), so a rerun does not reinstall.
    """
    venv = work / name
    wanted = "\n".join(_describe(r) for r in requirements) + "\n"
    marker = venv / "bench-requirements.txt"
    if marker.is_file() and marker.read_text() == wanted:
        return venv / "bin"
    trash.set_aside(venv)
    run([sys.executable, "-m", "venv", str(venv)], isolated_environ())
    python = str(venv / "bin" / "python")
    pips = [r for r in requirements if r.startswith("pip==")]
    if pips:  # first, so that the pip under test installs the rest
        run([python, "-m", "pip", "install", "-q", *pips], isolated_environ())
    others = [r for r in requirements if r not in pips]
    if others:
        run([python, "-m", "pip", "install", "-q", *others], isolated_environ())
    marker.write_text(wanted)
    return venv / "bin"


def _describe(requirement: str) -> str:
    path = Path(requirement)
    if path.suffix == ".whl" and path.is_file():
        return f"{path.name} sha256={hashlib.sha256(path.read_bytes()).hexdigest()}"
    return requirement


def target_template(tool_python: Path, target: Path) -> Path:
    """A venv made at ``target`` from the tool venv's pip and pipcachefirst, then moved aside.

    Made where every copy of it will live, byte-compiled as pip leaves an
    install, so a copy back at ``target`` is a fresh venv like any other, in
    a third of the time it takes to make one.
    """
    template = target.with_name(f"{target.name}-template-{tool_python.parent.parent.name}")
    trash.set_aside(template)
    trash.set_aside(target)
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[2]);"
        "from tests.support.envs import create_venv; v = create_venv(Path(sys.argv[1]));"
        "import compileall; compileall.compile_dir(str(v.site_packages), quiet=1)"
    )
    run([str(tool_python), "-c", code, str(target), str(REPO)], isolated_environ())
    os.replace(target, template)
    return template


def fresh_target(template: Path, target: Path) -> Path:
    """A fresh copy of ``template`` at ``target``; its python."""
    trash.set_aside(target)
    shutil.copytree(template, target, symlinks=True)
    return target / "bin" / "python"


def rerun_where_installed(work: Path) -> None:
    """Run this script again under a venv holding this checkout's pipcachefirst, unless it runs there."""
    try:
        import pipcachefirst  # noqa: F401, PLC0415 -- is it here?
    except ImportError:
        bin_dir = tool_venv(work, "tool-pip-26.3", ["pip==26.3", str(product_wheel(work))])
        os.execv(bin_dir / "python", [str(bin_dir / "python"), *sys.argv])


def tool_version(bin_dir: Path, distribution: str) -> str:
    code = f"from importlib.metadata import version; print(version({distribution!r}))"
    return run([str(bin_dir / "python"), "-c", code], isolated_environ()).stdout.strip()


_SLOWING = ("PYTHONDEVMODE", "PYTHONTRACEMALLOC", "PYTHONPROFILEIMPORTTIME", "PYTHONMALLOC")


def environ(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment every timed command runs in: no pip or uv configuration of this machine.

    Nor anything that slows every Python process down.
    """
    env = {k: v for k, v in isolated_environ().items() if not k.startswith("UV_") and k not in _SLOWING}
    env["UV_NO_CONFIG"] = "1"
    env.update(extra or {})
    return env


def venv_without_pip(path: Path) -> Path:
    """An empty venv (for uv, which brings its own installer)."""
    trash.set_aside(path)
    create_venv(path, dists=())
    return path / "bin" / "python"



def link_mode(folder: Path, tool_bin: Optional[Path] = None) -> str:
    """How pipcachefirst places trees from a cache in ``folder``, in words.

    With ``tool_bin`` (a tool venv's ``bin``), as that pipcachefirst's
    ``status --json`` says (its default, and what it becomes on this file
    system); else, or where status does not say, whether a clone works here.
    """
    if tool_bin is not None:
        env = environ({"PIP_CACHE_DIR": str(folder)})
        proc = subprocess.run([str(tool_bin / "python"), "-m", "pipcachefirst", "status", "--json"], env=env,
                              capture_output=True, text=True)
        try:
            trees = json.loads(proc.stdout)["trees"]
            mode, in_use, why = trees["link_mode"], trees["link_mode_in_use"], trees["link_mode_fallback"]
        except (ValueError, KeyError, TypeError):
            pass
        else:
            meaning = {"link-compiled": "hard links for byte code and extension modules, copies for the rest"}
            explained = f": {meaning[in_use]}" if in_use in meaning else ""
            return f"{mode} → {in_use} here{explained} ({why})" if why else f"{mode}{explained}"
    import fcntl  # noqa: PLC0415 -- POSIX only, as trees are

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        source, target = Path(scratch, "a"), Path(scratch, "b")
        source.write_bytes(b"probe")
        with open(source, "rb") as fd_in, open(target, "wb") as fd_out:
            try:
                fcntl.ioctl(fd_out.fileno(), getattr(fcntl, "FICLONE", 0x40049409), fd_in.fileno())
            except OSError as exc:
                return f"copy (clone asked; this file system cannot clone: {exc.strerror})"
    return "clone"


def machine() -> Dict[str, object]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory: Optional[int] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    except (ValueError, OSError, AttributeError):
        memory = None
    return {
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory,
    }


def describe(facts: Mapping[str, object]) -> str:
    """``machine()`` in words."""
    memory = f", {facts['memory_gib']} GiB" if facts.get("memory_gib") else ""
    return f"Python {facts['python']}, {facts['system']}, {facts['cores']} × {facts['cpu']}{memory}"


def measured_on(command: str, date: Optional[str] = None, facts: Optional[Mapping[str, object]] = None) -> str:
    """The sentence that says when, where and with what command a table was measured (default: now, here)."""
    date = date or datetime.date.today().isoformat()
    return f"Measured on {date} with `{command}`: {describe(facts or machine())}."
