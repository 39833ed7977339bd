"""Never worse than pip: the shapes of real lockfiles that once made pipcachefirst fail.

Each story here is a small synthetic copy of something a real lock did (see
``tests/differential`` for the real lockfiles): a user installs what plain pip
installs, gets the same files, and pip builds nothing that plain pip would not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import pytest

from tests.conftest import PIPBEHAVIOR, World, index_pages, sha256_of
from tests.support.envs import Venv


def _hashed(lines: Iterable[str]) -> str:
    return "".join(line + "\n" for line in lines)


# -- one project reached through two identifiers (extras) -------------------


def _extras_world(world: World) -> Dict[str, Path]:
    """a 2.1 with an extra x (needs c), b needing a plainly or with the extra, through a range."""
    return {
        "a": world.publish_wheel("a", "2.1", requires=['c==1.0; extra == "x"']),
        "a20": world.publish_wheel("a", "2.0", requires=['c==1.0; extra == "x"']),
        "c": world.publish_wheel("c", "1.0"),
    }


@pytest.mark.parametrize(
    "pinned, b_requires",
    [("a[x]==2.1", "a<3,>=2"), ("a==2.1", "a[x]<3,>=2")],
    ids=["extras-pinned-base-through-range", "base-pinned-extras-through-range"],
)
def test_a_hashed_lock_reaching_one_project_through_two_identifiers_installs_twice(
    world: World, pinned: str, b_requires: str
) -> None:
    files = _extras_world(world)
    b = world.publish_wheel("b", "1.0", requires=[b_requires])
    lock = world.write(
        "requirements.txt",
        _hashed(
            [
                f"{pinned} --hash=sha256:{sha256_of(files['a'])}",
                f"b==1.0 --hash=sha256:{sha256_of(b)}",
                f"c==1.0 --hash=sha256:{sha256_of(files['c'])}",
            ]
        ),
    )

    for _ in range(2):
        venv = world.new_venv()
        run = world.install("-r", str(lock), "-v", venv=venv)
        assert "a==2.1" in venv.freeze() and "c==1.0" in venv.freeze()
    assert index_pages(run.requests) == []
    assert run.output.count("Processing ") + run.output.count("Downloading ") == 3, "each file prepared once"


def test_a_lock_whose_pin_another_project_already_cached_installs_first_time(world: World) -> None:
    files = _extras_world(world)
    b = world.publish_wheel("b", "1.0", requires=["a<3,>=2"])
    world.install("a==2.1")  # another project of the user's cached a

    lock = world.write(
        "requirements.txt",
        _hashed(
            [
                f"a[x]==2.1 --hash=sha256:{sha256_of(files['a'])}",
                f"b==1.0 --hash=sha256:{sha256_of(b)}",
                f"c==1.0 --hash=sha256:{sha256_of(files['c'])}",
            ]
        ),
    )
    world.install("-r", str(lock))


def test_without_hashes_both_identifiers_share_the_cached_file(world: World) -> None:
    _extras_world(world)
    world.publish_wheel("b", "1.0", requires=["a<3,>=2"])
    lock = world.write("requirements.txt", "a[x]==2.1\nb==1.0\nc==1.0\n")
    world.install("-r", str(lock))

    run = world.install("-r", str(lock), "-v")
    assert run.requests == []
    assert run.output.count("a-2.1-py3-none-any.whl") >= 1
    assert "pipcachefirst: 3 of 3 pinned requirements from cache" in run.output


# -- a wheel built once is used where pip would use its own ------------------


def test_a_hashed_sdist_lock_is_built_once(world: World) -> None:
    names = ["s1", "s2"]
    sdists = [world.publish_sdist(name, "1.0") for name in names]
    lock = world.write(
        "requirements.txt", _hashed(f"{n}==1.0 --hash=sha256:{sha256_of(s)}" for n, s in zip(names, sdists))
    )
    first = world.install("-r", str(lock))
    assert "Building wheel for s1" in first.output

    second = world.install("-r", str(lock))
    assert second.requests == []
    if PIPBEHAVIOR.built_wheels_in_hash_mode:  # as plain pip does from 23.1
        assert "Building wheel" not in second.output
    third = world.install("-r", str(lock))
    assert third.requests == []


def test_a_no_binary_sdist_is_built_once(world: World) -> None:
    world.publish_sdist("s1", "1.0")
    world.publish_wheel("s1", "1.0")
    lock = world.write("requirements.txt", "--no-binary s1\ns1==1.0\n")
    first = world.install("-r", str(lock))
    assert "Building wheel for s1" in first.output

    second = world.install("-r", str(lock))
    assert second.requests == []
    plain = world.install("-r", str(lock), env={"PIPCACHEFIRST": "0"})
    if "Building wheel" not in plain.output:  # pip reuses its own wheel: so do we
        assert "Building wheel" not in second.output


# -- pip download hands out what the index has -------------------------------


def test_pip_download_saves_the_sdist_never_a_wheel_built_here(world: World, tmp_path: Path) -> None:
    sdist = world.publish_sdist("docopt", "0.6.2")
    world.install("docopt==0.6.2")  # the cache now holds the sdist and the wheel built from it

    venv = world.new_venv()
    run = world.pip(venv, "download", "-d", str(tmp_path / "dl"), "docopt==0.6.2")
    assert run.returncode == 0, run.output
    saved = sorted(p.name for p in (tmp_path / "dl").iterdir())
    assert saved == [sdist.name]
    assert sha256_of(tmp_path / "dl" / sdist.name) == sha256_of(sdist)
    assert run.requests == []


# -- the user's lock may pin pipcachefirst's own dependencies -----------------


@pytest.mark.parametrize("pins", [["packaging==21.3"], ["packaging==20.4"], ["wrapt==1.12.1"]], ids=str)
def test_a_lock_may_pin_any_packaging_and_wrapt(world: World, pins: List[str]) -> None:
    for pin in pins:  # stand-ins with nothing importable: pipcachefirst must need neither
        world.publish_wheel(*pin.split("=="))
    world.publish_wheel("alpha", "1.0")
    lock = world.write("requirements.txt", "".join(p + "\n" for p in [*pins, "alpha==1.0"]))
    venv = world.new_venv()
    first = world.pip(venv, "install", "-r", str(lock))
    assert first.returncode == 0, first.output
    assert "incompatible" not in first.output

    check = world.pip(venv, "check")
    assert check.returncode == 0, check.output
    again = world.install("-r", str(lock), "-v", venv=world.new_venv())
    assert again.requests == []
    assert "pipcachefirst: alpha==1.0 from cache" in again.output


# -- pip's reports name the index, as plain pip's do ---------------------------


def _lock(world: World, hashed: bool) -> Path:
    """alpha 1.0 (a wheel) needing docopt 0.6.2 (an sdist only), both pinned; with hashes or without."""
    files = {
        "alpha": world.publish_wheel("alpha", "1.0", requires=["docopt==0.6.2"]),
        "docopt": world.publish_sdist("docopt", "0.6.2"),
    }
    hashes = {name: f" --hash=sha256:{sha256_of(path)}" if hashed else "" for name, path in files.items()}
    return world.write("requirements.txt", f"alpha==1.0{hashes['alpha']}\ndocopt==0.6.2{hashes['docopt']}\n")


def _report(
    world: World, venv: Venv, *args: str, env: Optional[Dict[str, str]] = None
) -> Tuple[Dict[str, Any], str]:
    """What ``pip install --report`` says it installed (or would), one entry per project by name; and pip's output."""
    path = world.tmp / "report.json"
    run = world.pip(venv, "install", "--report", str(path), *args, env=env)
    assert run.returncode == 0, run.output
    report = json.loads(path.read_text())
    report["install"] = sorted(report["install"], key=lambda item: item["metadata"]["name"])
    return report, run.output


def _inspect(world: World, venv: Venv) -> Dict[str, Any]:
    """``pip inspect``, with the venv's own folder written as VENV: two venvs compare as one."""
    run = world.pip(venv, "inspect")
    assert run.returncode == 0, run.output
    report: Dict[str, Any] = json.loads(run.stdout.replace(str(venv.path), "VENV"))
    return report


PLAIN = {"PIPCACHEFIRST": "0"}
SERVED = "pipcachefirst: 2 of 2 pinned requirements from cache"


@pytest.mark.parametrize("hashed", [False, True], ids=["pins", "hashed-pins"])
def test_a_dry_run_report_names_the_index_file_and_its_hash_as_plain_pip_does(world: World, hashed: bool) -> None:
    lock = _lock(world, hashed)
    world.install("-r", str(lock))  # the cache holds both files, and the wheel built from docopt's sdist

    plain, _ = _report(world, world.new_venv(), "--dry-run", "-r", str(lock), env=PLAIN)
    served, output = _report(world, world.new_venv(), "--dry-run", "-r", str(lock))

    assert SERVED in output
    assert [item["download_info"]["url"].startswith(world.server.url + "/") for item in plain["install"]] == [True] * 2
    assert served == plain


def test_an_install_of_served_files_reports_and_records_what_plain_pip_does(world: World, tmp_path: Path) -> None:
    lock = _lock(world, hashed=False)
    fill = world.pip(world.new_venv(), "download", "-d", str(tmp_path / "dl"), "-r", str(lock))
    assert fill.returncode == 0, fill.output  # the cache holds both files; no wheel is built yet

    served_venv, plain_venv = world.new_venv(), world.new_venv()
    served, output = _report(world, served_venv, "-r", str(lock))
    assert SERVED in output and "Building wheel for docopt" in output  # from the served sdist
    plain, _ = _report(world, plain_venv, "-r", str(lock), env=PLAIN)
    assert served == plain
    assert _inspect(world, served_venv) == _inspect(world, plain_venv)
    for project in ("alpha", "docopt"):  # an index install is no URL install: pip writes no direct_url.json
        assert not list(served_venv.site_packages.glob(f"{project}-*.dist-info/direct_url.json"))
        assert list(served_venv.site_packages.glob(f"{project}-*.dist-info/RECORD"))
    origins = [p.read_text() for p in world.pip_cache.rglob("origin.json")]
    assert origins and not [o for o in origins if "file:" in o], "pip's wheel cache names the sdist's index URL"

    # pip's own wheel cache now holds the wheel it built from the served sdist: pip takes it from there.
    again, output = _report(world, world.new_venv(), "--dry-run", "-r", str(lock))
    assert SERVED in output
    assert again == _report(world, world.new_venv(), "--dry-run", "-r", str(lock), env=PLAIN)[0]
