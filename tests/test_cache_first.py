"""A user re-creates an environment from pinned requirements: pins come from the cache.

Each test is a story told with real pip in real venvs against a loopback index
whose request log is the only witness of network use.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from typing import Sequence, Tuple

import pytest

from tests.conftest import PIPBEHAVIOR, PipRun, World, index_pages, sha256_of

# pip reads installed metadata with importlib.metadata on Python 3.11+, with pkg_resources (which
# keeps its own dict of distributions and of their requirements) before.
needs_pips_importlib_backend = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="pip's importlib.metadata backend is its default from Python 3.11"
)


def test_second_install_of_a_pinned_file_asks_no_index_and_installs_the_same(world: World) -> None:
    world.publish_wheel("alpha", "1.0", requires=["beta==2.0"])
    world.publish_wheel("beta", "2.0")
    requirements = world.write("requirements.txt", "alpha==1.0\nbeta==2.0\n")

    first_venv = world.new_venv()
    first = world.install("-r", str(requirements), venv=first_venv)
    assert index_pages(first.requests), "the first install has to ask the index"
    assert "pipcachefirst: 0 of 2 pinned requirements from cache" in first.stderr

    second_venv = world.new_venv()
    second = world.install("-r", str(requirements), venv=second_venv)
    assert second.requests == []
    assert "pipcachefirst: 2 of 2 pinned requirements from cache" in second.stderr
    assert second_venv.freeze() == first_venv.freeze()


def test_a_range_still_asks_the_index(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.publish_wheel("beta", "1.0")
    world.install("alpha==1.0", "beta==1.0")
    world.publish_wheel("beta", "1.1")

    run = world.install("alpha==1.0", "beta>=1.0", "-v")
    assert run.requests == ["GET /main/simple/beta/", "GET /main/beta/beta-1.1-py3-none-any.whl"], (
        "the pin asks nothing; the range asks the index, which has a newer beta than the cache"
    )
    assert "pipcachefirst: alpha==1.0 from cache (alpha-1.0-py3-none-any.whl)" in run.stdout
    assert "pipcachefirst: 1 of 1 pinned requirement from cache" in run.stderr
    assert "Successfully installed alpha-1.0 beta-1.1" in run.stdout


def test_a_pin_from_a_constraints_file_is_served(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.publish_wheel("alpha", "1.1")
    world.install("alpha==1.0")
    constraints = world.write("constraints.txt", "alpha==1.0\n")

    run = world.install("-c", str(constraints), "alpha>=0.5", "-v")
    assert run.requests == []
    assert "pipcachefirst: alpha==1.0,>=0.5 from cache" in run.stdout or (
        "pipcachefirst: alpha>=0.5,==1.0 from cache" in run.stdout
    )


def test_a_wheel_for_another_platform_is_not_served(world: World) -> None:
    world.publish_wheel("alpha", "1.0", tag="cp38-cp38-win_amd64")
    world.publish_wheel("alpha", "1.0")
    downloads = world.tmp / "downloads"
    download = world.pip(
        world.new_venv(), "download", "--only-binary=:all:", "--platform=win_amd64", "--python-version=3.8",
        "-d", str(downloads), "alpha==1.0",
    )
    assert download.returncode == 0, download.output
    assert [r["filename"] for r in world.records()] == ["alpha-1.0-cp38-cp38-win_amd64.whl"]

    run = world.install("alpha==1.0", "-v")
    assert "GET /main/simple/alpha/" in run.requests
    assert "alpha-1.0-py3-none-any.whl" in run.output
    assert "pipcachefirst: alpha==1.0 not from cache: a better file for this target is on the index" in run.stdout


def test_a_wheel_for_another_python_is_not_served(world: World) -> None:
    world.publish_wheel("alpha", "1.0", tag="cp38-cp38-manylinux_2_17_x86_64")
    world.publish_wheel("alpha", "1.0", tag="py2-none-any")
    download = world.pip(
        world.new_venv(), "download", "--only-binary=:all:", "--python-version=3.8",
        "--platform=manylinux_2_17_x86_64", "-d", str(world.tmp / "downloads"), "alpha==1.0",
    )
    assert download.returncode == 0, download.output

    run = world.pip(world.new_venv(), "install", "alpha==1.0", "-v")
    assert run.returncode != 0, "no file of alpha 1.0 fits this Python; pip must say so itself"
    assert "GET /main/simple/alpha/" in run.requests
    assert "pipcachefirst: alpha==1.0 not from cache: no compatible file in the cache" in run.stdout


def test_no_binary_is_honoured(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.publish_sdist("alpha", "1.0")
    world.install("alpha==1.0")

    from_source = world.install("--no-binary=alpha", "alpha==1.0", "-v")
    assert "GET /main/simple/alpha/" in from_source.requests
    assert "alpha-1.0.tar.gz" in from_source.output

    again = world.install("--no-binary=alpha", "alpha==1.0", "-v")
    assert again.requests == []
    assert "pipcachefirst: alpha==1.0 from cache (alpha-1.0.tar.gz)" in again.stdout


def test_right_hash_is_served(world: World) -> None:
    wheel = world.publish_wheel("alpha", "1.0")
    requirements = world.write("requirements.txt", f"alpha==1.0 --hash=sha256:{sha256_of(wheel)}\n")
    world.install("-r", str(requirements))

    run = world.install("-r", str(requirements))
    assert run.requests == []


def test_wrong_hash_ends_in_pips_own_error_and_leaves_the_cache_alone(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")
    before = world.cached_files()
    requirements = world.write("requirements.txt", "alpha==1.0 --hash=sha256:" + "0" * 64 + "\n")

    run = world.pip(world.new_venv(), "install", "-r", str(requirements), "-v")
    assert run.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in run.output
    assert "pipcachefirst: alpha==1.0 not from cache: hash mismatch" in run.stdout
    assert world.cached_files() == before


def test_another_index_is_not_served_the_first_ones_file(world: World) -> None:
    world.publish_wheel("alpha", "1.0", index="main")
    world.publish_wheel("alpha", "1.0", index="other", requires=["beta"])
    world.publish_wheel("beta", "1.0", index="other")
    world.install("alpha==1.0")

    run = world.install("alpha==1.0", "-v", env={"PIP_INDEX_URL": world.index_url("other")})
    assert "GET /other/simple/alpha/" in run.requests
    assert "pipcachefirst: alpha==1.0 not from cache: cached only from another index" in run.stdout
    assert "beta" in run.stdout, "the other index's alpha (which needs beta) was installed"


def test_an_extra_index_with_the_file_cached_is_served(world: World) -> None:
    world.publish_wheel("alpha", "1.0", index="other")
    world.install("alpha==1.0", env={"PIP_EXTRA_INDEX_URL": world.index_url("other")})

    run = world.install("alpha==1.0", env={"PIP_EXTRA_INDEX_URL": world.index_url("other")})
    assert run.requests == []


def test_plain_pip_when_turned_off(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")

    for value in ("0", "false", "OFF", "no"):
        run = world.install("alpha==1.0", env={"PIPCACHEFIRST": value})
        assert "GET /main/simple/alpha/" in run.requests
        assert run.lines() == []


def test_pip_download_and_pip_wheel_are_served_too(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")
    venv = world.new_venv()

    download = world.pip(venv, "download", "-d", str(world.tmp / "d"), "alpha==1.0")
    wheel = world.pip(venv, "wheel", "-w", str(world.tmp / "w"), "alpha==1.0")
    assert (download.returncode, download.requests) == (0, [])
    assert (wheel.returncode, wheel.requests) == (0, [])
    assert (world.tmp / "d" / "alpha-1.0-py3-none-any.whl").is_file()


def test_pip_python_into_another_venv_is_served(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")
    target = world.new_venv(dists=("pipcachefirst",))  # no pip of its own

    run = world.pip(world.new_venv(), "--python", str(target.python), "install", "alpha==1.0")
    assert run.returncode == 0, run.output
    assert run.requests == []
    assert "alpha" in target.run(["-c", "import alpha_mod; print('alpha')"], check=True).stdout


def test_pip_python_carries_pipcachefirst_into_a_bare_venv(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")
    bare = world.new_venv(dists=())  # neither pip nor pipcachefirst

    run = world.pip(world.new_venv(), "--python", str(bare.python), "install", "alpha==1.0")
    assert run.returncode == 0, run.output
    assert run.requests == []
    assert "pipcachefirst: 1 of 1 pinned requirement from cache" in run.stderr
    names = "import importlib.metadata as m; print(sorted(d.metadata['Name'] for d in m.distributions()))"
    listed = bare.run(["-c", names])
    assert listed.stdout.strip() == "['alpha']", "nothing of ours shows up as installed there"


def test_a_pre_release_pin_is_served_without_pre(world: World) -> None:
    world.publish_wheel("alpha", "2.0b1")
    world.install("alpha==2.0b1")

    run = world.install("alpha==2.0b1")
    assert run.requests == []


def test_requires_python_listed_by_the_index_is_honoured(world: World) -> None:
    wheel = world.publish_wheel("alpha", "1.0")
    (wheel.parent / (wheel.name + ".requires-python")).write_text(">=3.6")
    world.install("alpha==1.0")
    assert [r["requires_python"] for r in world.records()] == [">=3.6"]

    run = world.pip(
        world.new_venv(), "install", "--target", str(world.tmp / "t"), "--python-version", "3.5",
        "--only-binary=:all:", "alpha==1.0", "-v",
    )
    assert run.returncode != 0, "pip itself refuses alpha for Python 3.5"
    assert "GET /main/simple/alpha/" in run.requests
    assert "pipcachefirst: alpha==1.0 not from cache: no compatible file in the cache" in run.stdout


def test_the_legacy_resolver_is_served_too(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")

    run = world.install("--use-deprecated=legacy-resolver", "alpha==1.0")
    assert run.requests == []


def test_a_cache_that_cannot_be_used_costs_one_warning_and_nothing_else(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    not_a_folder = world.write("not-a-folder", "")

    run = world.install("alpha==1.0", env={"PIPCACHEFIRST_DIR": str(not_a_folder)})
    assert len(run.warnings()) == 1, run.stderr
    assert "Traceback" not in run.output
    assert "Successfully installed alpha-1.0" in run.stdout


def test_pip_works_out_its_user_agent_only_when_it_asks_the_index(world: World) -> None:
    """pip's User-Agent header costs a tenth of a second (``rustc --version``, ``lsb_release``, ...)."""
    tools = world.tmp / "tools"
    tools.mkdir()
    asked = world.tmp / "rustc-was-asked"
    rustc = tools / "rustc"
    rustc.write_text(f"#!/bin/sh\necho asked >> '{asked}'\necho 'rustc 9.9.9 (0000000 2099-01-01)'\n")
    rustc.chmod(rustc.stat().st_mode | stat.S_IEXEC)
    env = {"PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"}
    world.publish_wheel("alpha", "1.0")
    world.publish_wheel("beta", "1.0")
    world.install("alpha==1.0", env=env)
    asked.unlink()

    served = world.install("alpha==1.0", env=env)
    assert served.requests == []
    assert not asked.exists(), "a run the cache serves whole never needs the header"

    seen = len(world.server.user_agents)
    asking = world.install("alpha==1.0", "beta==1.0", env=env)
    assert index_pages(asking.requests) == ["GET /main/simple/beta/"]
    sent = world.server.user_agents[seen:]
    seen = len(world.server.user_agents)
    plain = world.install("beta==1.0", env={**env, "PIPCACHEFIRST": "0"})
    assert index_pages(plain.requests) == ["GET /main/simple/beta/"]
    assert set(sent) == set(world.server.user_agents[seen:]), "the same header plain pip sends"
    assert '"rustc_version":"9.9.9"' in sent[0]


def _plain_and_served(world: World, pins: Sequence[str], probe: str) -> Tuple[PipRun, PipRun]:
    """``pip install PINS`` into new venvs, plain and then with pipcachefirst, with ``probe`` as sitecustomize."""
    folder = world.tmp / "probe"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(probe)
    probed = {"PYTHONPATH": str(folder)}
    return world.install(*pins, env={**probed, "PIPCACHEFIRST": "0"}), world.install(*pins, env=probed)


def test_pip_works_out_the_tags_this_python_supports_once_not_once_per_wheel(world: World) -> None:
    """Before pip 24.2 its resolver works the list out again for every candidate: about 10 ms each."""
    pins = ("alpha==1.0", "beta==1.0", "gamma==1.0")
    for pin in pins:
        world.publish_wheel(*pin.split("=="))
    world.install(*pins)
    plain, served = _plain_and_served(
        world,
        pins,
        (
            "import atexit, sys\n"
            "import pip._internal.utils.compatibility_tags as tags\n"
            "original, calls = tags.get_supported, []\n"
            "def get_supported(*args, **kwargs):\n"
            "    calls.append(args)\n"
            "    return original(*args, **kwargs)\n"
            "tags.get_supported = get_supported\n"
            "atexit.register(lambda: sys.stderr.write(f'supported tags worked out {len(calls)} times\\n'))\n"
        ),
    )
    assert "pipcachefirst: 3 of 3 pinned requirements from cache" in served.stderr
    assert "supported tags worked out 2 times" in served.stderr, "once for pip's finder, once for its resolver"
    assert "supported tags worked out 2 times" in plain.stderr or "worked out 4 times" in plain.stderr, (
        "plain pip 24.2+ works them out twice too; before that, once more for each of the 3 wheels"
    )


def test_pip_reads_a_served_wheels_metadata_out_of_its_zip_once(world: World) -> None:
    """pip reads a wheel's metadata three times (resolving, the conflict check, installing): 10 ms for a big one."""
    pins = ("alpha==1.0", "beta==1.0", "gamma==1.0")
    for pin in pins:
        world.publish_wheel(*pin.split("=="), requires=["delta>=1"] if pin.startswith("alpha") else [])
    world.publish_wheel("delta", "1.0")
    world.install(*pins, "delta==1.0")
    plain, served = _plain_and_served(
        world,
        (*pins, "delta==1.0"),
        (
            "import atexit, sys\n"
            "import pip._internal.metadata as metadata\n"
            "backend, reads = metadata.select_backend().Distribution, []\n"
            "original = backend.from_wheel.__func__\n"
            "def from_wheel(cls, wheel, name):\n"
            "    reads.append(name)\n"
            "    return original(cls, wheel, name)\n"
            "backend.from_wheel = classmethod(from_wheel)\n"
            "atexit.register(lambda: sys.stderr.write(f'wheel metadata read {len(reads)} times\\n'))\n"
        ),
    )
    assert "pipcachefirst: 4 of 4 pinned requirements from cache" in served.stderr
    assert "wheel metadata read 12 times" in plain.stderr, "plain pip: three times each"
    assert "wheel metadata read 4 times" in served.stderr, "once for each served wheel"
    assert served.requests == []
    dry_run = world.install("--dry-run", *pins, "delta==1.0", env={"PYTHONPATH": str(world.tmp / "probe")})
    assert "wheel metadata read 4 times" in dry_run.stderr, "resolving, then the list of what pip would install"


def test_a_served_pin_costs_pip_no_more_candidate_evaluators_than_plain_pip(world: World) -> None:
    """Making one of pip's candidate evaluators orders every tag this Python supports: 0.4 ms each."""
    pins = ("alpha==1.0", "beta==1.0", "gamma==1.0")
    for pin in pins:
        world.publish_wheel(*pin.split("=="), requires=["beta>=1"] if pin.startswith("alpha") else [])
    world.install(*pins)
    plain, served = _plain_and_served(
        world,
        pins,
        (
            "import atexit, sys\n"
            "from pip._internal.index.package_finder import CandidateEvaluator\n"
            "original, made = CandidateEvaluator.__init__, []\n"
            "def __init__(self, *args, **kwargs):\n"
            "    made.append(args)\n"
            "    original(self, *args, **kwargs)\n"
            "CandidateEvaluator.__init__ = __init__\n"
            "atexit.register(lambda: sys.stderr.write(f'candidate evaluators made: {len(made)}\\n'))\n"
        ),
    )
    assert "pipcachefirst: 3 of 3 pinned requirements from cache" in served.stderr
    [plain_count] = re.findall(r"candidate evaluators made: (\d+)", plain.stderr)
    [served_count] = re.findall(r"candidate evaluators made: (\d+)", served.stderr)
    assert int(served_count) == int(plain_count), "one per question pip asks, as plain pip makes"


def test_records_read_as_pip_starts_are_not_read_again_to_serve(world: World) -> None:
    """``pip install -r`` looks its pins' trees up as pip starts (copying ahead); serving then reads nothing again."""
    pins = ("alpha==1.0", "beta==1.0", "gamma==1.0")
    for pin in pins:
        world.publish_wheel(*pin.split("=="))
    requirements = world.write("requirements.txt", "\n".join(pins) + "\n")
    world.install("-r", str(requirements))
    records = len(world.records())
    folder = world.tmp / "probe"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        "import atexit, io, os, sys\n"
        "original, read = io.open, []\n"
        "def counting_open(file, *args, **kwargs):\n"
        "    name = os.fspath(file) if isinstance(file, os.PathLike) else file\n"
        "    if isinstance(name, str) and 'files-v1' in name and name.endswith('.json'):\n"
        "        read.append(name)\n"
        "    return original(file, *args, **kwargs)\n"
        "io.open = counting_open\n"
        "atexit.register(lambda: sys.stderr.write(f'records read: {len(read)}\\n'))\n"
    )
    served = world.install("-r", str(requirements), env={"PYTHONPATH": str(folder)})
    assert "pipcachefirst: 3 of 3 pinned requirements from cache" in served.stderr
    assert f"records read: {records}\n" in served.stderr, "each record once, as pip starts"


@needs_pips_importlib_backend
def test_pip_reads_the_environment_once_for_its_successfully_installed_line(world: World) -> None:
    """Before pip 24.2 it looks each installed project up again, each lookup a scan of the whole environment."""
    pins = ("alpha==1.0", "beta==1.0", "gamma==1.0", "delta==1.0")
    for pin in pins:
        world.publish_wheel(*pin.split("=="))
    world.install(*pins)
    plain, served = _plain_and_served(
        world,
        pins,
        (
            "import atexit, sys\n"
            "from pip._internal.metadata.importlib._envs import Environment\n"
            "original, scans = Environment._iter_distributions, []\n"
            "def _iter_distributions(self):\n"
            "    scans.append(self)\n"
            "    return original(self)\n"
            "Environment._iter_distributions = _iter_distributions\n"
            "atexit.register(lambda: sys.stderr.write(f'environment read {len(scans)} times\\n'))\n"
        ),
    )

    summary = "Successfully installed alpha-1.0 beta-1.0 delta-1.0 gamma-1.0"
    assert summary in plain.stdout and summary in served.stdout
    [plain_reads] = re.findall(r"environment read (\d+) times", plain.stderr)
    [served_reads] = re.findall(r"environment read (\d+) times", served.stderr)
    for_the_summary = 0 if PIPBEHAVIOR.summary_reads_environment_once else len(pins) - 2
    assert int(plain_reads) - int(served_reads) == 1 + for_the_summary, (
        "one read fewer for pip's user agent (no request needed it); before pip 24.2, the summary's"
        " first lookup and one read for all the others"
    )


@needs_pips_importlib_backend
def test_pip_parses_each_requirement_a_wheel_declares_once_not_each_time_it_reads_it(world: World) -> None:
    """Before pip 24.2 the resolver and the conflict check each parse ``Requires-Dist`` again (pyparsing < 24.1)."""
    world.publish_wheel("alpha", "1.0", requires=["beta>=1.0"])
    world.publish_wheel("beta", "1.0")
    pins = ("alpha==1.0", "beta==1.0")
    world.install(*pins)
    plain, served = _plain_and_served(
        world,
        pins,
        (
            "import atexit, sys\n"
            "from pip._vendor.packaging.requirements import Requirement\n"
            "original, texts = Requirement.__init__, []\n"
            "def __init__(self, requirement_string):\n"
            "    texts.append(requirement_string)\n"
            "    original(self, requirement_string)\n"
            "Requirement.__init__ = __init__\n"
            "atexit.register(lambda: sys.stderr.write(f'beta>=1.0 parsed {texts.count(\"beta>=1.0\")} times\\n'))\n"
        ),
    )
    assert "pipcachefirst: 2 of 2 pinned requirements from cache" in served.stderr
    assert "beta>=1.0 parsed 1 times" in served.stderr
    assert "beta>=1.0 parsed 1 times" in plain.stderr or "beta>=1.0 parsed 3 times" in plain.stderr, (
        "plain pip 24.2+ parses it once too; before that, once for pip's own requirement and twice reading alpha's"
    )
