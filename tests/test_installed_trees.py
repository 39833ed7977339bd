"""A user installs wheels pipcachefirst has installed before: the files come from its installed trees.

The first install of a wheel keeps its *installed tree* (the members as pip
unpacks them, and the ``.pyc`` pip compiles for them) in the cache; every later
install places that tree instead of unzipping and compiling.  What the user
gets must be what plain pip writes: these stories install the same wheels
with trees off (``PIPCACHEFIRST_TREES=0``) and on, and compare what lands on
disk.

The wheels are "rich" (``tests.support.packages.rich_wheel_members``): pure
and platform-tagged, with ``.data/{scripts,data,headers,purelib,platlib}``,
console and gui entry points, executable members, non-ASCII file names,
subpackages and a ``.py`` that does not compile.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import pytest

from pipcachefirst.base.settings import AUTO, CLONE, LINK_COMPILED
from pipcachefirst.cache.store import TREES
from pipcachefirst.trees.tree import Tree, Trees, interpreter_key, link_mode_here
from tests.conftest import PIPBEHAVIOR, PipRun, World, sha256_of
from tests.support.envs import Venv, create_venv, isolated_environ
from tests.support.installed import Installed, differences, snapshot
from tests.support.packages import (
    make_compiled_wheel,
    make_namespace_wheel,
    make_pyc_shipping_wheel,
    make_rich_wheel,
    source_tree,
)

TREES_OFF = {"PIPCACHEFIRST_TREES": "0"}
PLACED = "placed from its installed tree"
LATER = "is built when pip is done"
BUILT = "built the installed tree of"


def records(installed: Installed) -> Dict[str, bytes]:
    return {p: data for p, data in installed.files.items() if p.endswith(".dist-info/RECORD")}


def tree_lines(run: PipRun, what: str) -> List[str]:
    """pipcachefirst's ``-v`` lines saying ``what`` (pip indents them while it installs)."""
    return [line.strip() for line in run.output.splitlines() if line.strip().startswith("pipcachefirst:")
            and what in line]


def rich_wheels(world: World) -> List[Path]:
    """A pure rich wheel and one tagged for this interpreter (Root-Is-Purelib: false), as local files."""
    folder = world.tmp / "wheels"
    return [make_rich_wheel(folder, "rich-pure", "1.0"), make_rich_wheel(folder, "rich-plat", "2.0", purelib=False)]


def trees_on_disk(world: World) -> List[Tree]:
    found = []
    for folder, tree in Trees(world.cache_root / TREES.name, "").walk():
        assert tree is not None, f"{folder} is not a complete tree"
        found.append(tree)
    return found


def pip_in(world: World, venv: Venv, *args: str, env: Optional[Dict[str, str]] = None,
           python_flags: Sequence[str] = ()) -> PipRun:
    """``python [python_flags] -m pip install ARGS``; must succeed."""
    world.server.take_requests()
    proc = venv.run([*python_flags, "-m", "pip", "install", *args], env=world.env(env))
    run = PipRun(proc.returncode, proc.stdout, proc.stderr, world.server.take_requests())
    world.wait_for_tree_builders(env)
    assert run.returncode == 0, run.output
    return run


# -- the same files as plain pip -------------------------------------------------


def test_a_venv_placed_from_trees_holds_byte_for_byte_what_plain_pip_writes(world: World) -> None:
    wheels = [str(w) for w in rich_wheels(world)]
    world.publish_wheel("plain", "1.0")  # this one comes from the index, then from the cache
    same = world.tmp / "same"  # one path, so shebangs and RECORD hashes can match byte for byte

    def install(env: Dict[str, str]) -> Tuple[PipRun, Installed]:
        shutil.rmtree(same, ignore_errors=True)
        run = world.install("-v", *wheels, "plain==1.0", venv=create_venv(same), env=env)
        return run, snapshot(same)

    _, by_plain_pip = install(TREES_OFF)
    assert not (world.cache_root / TREES.name).exists()
    building, built_and_placed = install({})
    placing, placed = install({})

    # the local wheels' trees are built and placed at once; plain's, whose wheel is in the cache, after pip's last line
    assert len(tree_lines(building, BUILT)) == 2 and len(tree_lines(building, PLACED)) == 2, building.output
    assert tree_lines(building, LATER) == ["pipcachefirst: the installed tree of plain is built when pip is done"]
    assert tree_lines(placing, BUILT) == [] and len(tree_lines(placing, PLACED)) == 3, placing.output
    assert len(trees_on_disk(world)) == 3
    assert len(records(by_plain_pip)) == 3 + 2  # and pip's, pipcachefirst's
    assert records(placed) == records(built_and_placed) == records(by_plain_pip)
    assert differences(by_plain_pip, built_and_placed) == []
    assert differences(by_plain_pip, placed) == []
    site = os.path.relpath(Venv(same).site_packages, same)
    pycs = [p for p in placed.files if p.endswith(".pyc") and "rich_" in p]
    assert len([p for p in pycs if p.startswith(site)]) == 2 * 9  # every module but legacy.py, which does not compile
    assert len([p for p in pycs if p.startswith("bin/__pycache__/")]) == 2  # and the .py scripts
    assert placed_from_trees(placed, trees_on_disk(world)) == len(pycs) + 1, "every pyc placed (and plain_mod's)"


def test_a_first_install_from_the_index_is_plain_pips_own_and_the_tree_is_built_after_its_last_line(
    world: World,
) -> None:
    make_rich_wheel(world.index_root / "main" / "rich-pure", "rich-pure", "1.0")
    make_rich_wheel(world.index_root / "main" / "rich-plat", "rich-plat", "2.0", purelib=False)
    same = world.tmp / "same"

    def install(env: Dict[str, str]) -> Tuple[PipRun, Installed]:
        shutil.rmtree(same, ignore_errors=True)
        venv = create_venv(same)
        run = pip_in(world, venv, "-v", "rich-pure==1.0", "rich-plat==2.0", env=env)  # waits for the helper
        return run, snapshot(same)

    _, by_plain_pip = install({"PIPCACHEFIRST": "0"})
    first, first_installed = install({})
    assert tree_lines(first, BUILT) == [] and tree_lines(first, PLACED) == [], first.output
    assert len(tree_lines(first, LATER)) == 2, first.output
    assert differences(by_plain_pip, first_installed) == []  # pip installed them alone
    built = trees_on_disk(world)  # by the helper, after pip's last line
    assert sorted(tree.wheel for tree in built) == sorted(p.name for p in (world.index_root / "main").glob("*/*.whl"))

    second, placed = install({})
    assert len(tree_lines(second, PLACED)) == 2, second.output
    assert tree_lines(second, BUILT) == [] and tree_lines(second, LATER) == [], second.output
    assert differences(by_plain_pip, placed) == []  # executable bits and byte code as pip gives them
    assert placed_from_trees(placed, built) > 0


def test_a_first_install_of_an_sdist_stores_it_and_the_wheel_pip_built_whose_tree_is_built_after_pips_last_line(
    world: World,
) -> None:
    """The sdist and the wheel pip builds from it are stored off pip's thread; the install step waits for them.

    pip installs the built wheel right after building it: its copy in the
    cache, which the helper builds the tree from, must be known by then.
    """
    world.publish_sdist("alpha", "1.0")
    first = pip_in(world, world.new_venv(), "-v", "alpha==1.0")
    assert tree_lines(first, LATER) == ["pipcachefirst: the installed tree of alpha is built when pip is done"], \
        first.output
    assert tree_lines(first, BUILT) == [], first.output
    kinds = sorted((r["kind"], r["filename"]) for r in world.records())
    assert kinds == [("built", "alpha-1.0-py3-none-any.whl"), ("download", "alpha-1.0.tar.gz")]
    assert [tree.wheel for tree in trees_on_disk(world)] == ["alpha-1.0-py3-none-any.whl"]

    venv = world.new_venv()
    second = pip_in(world, venv, "-v", "alpha==1.0")
    assert second.requests == [] and "Building wheel" not in second.output, second.output
    assert len(tree_lines(second, PLACED)) == 1, second.output
    assert "1.0" in venv.run(["-c", "import alpha_mod; print(alpha_mod.VERSION)"], check=True).stdout


def test_with_build_trees_now_the_first_install_builds_and_places_on_pips_clock(world: World) -> None:
    world.publish_wheel("plain", "1.0")
    now = {"PIPCACHEFIRST_BUILD_TREES": "now"}
    first = pip_in(world, world.new_venv(), "-v", "plain==1.0", env=now)
    assert len(tree_lines(first, BUILT)) == 1 and len(tree_lines(first, PLACED)) == 1, first.output
    assert tree_lines(first, LATER) == []


def test_where_the_helper_is_stopped_with_the_command_the_next_install_builds_the_trees_itself(world: World) -> None:
    """A Docker ``RUN`` step ends with its command: the helper building trees afterwards is stopped midway."""
    world.publish_wheel("plain", "1.0")
    world.publish_wheel("other", "1.0")
    pip_in(world, world.new_venv(), "plain==1.0", "other==1.0", env=TREES_OFF)  # both wheels cached, no trees
    key = interpreter_key()
    assert key is not None
    left = world.cache_root / TREES.name / key / ".tmp-later-stopped.json"  # what a stopped helper leaves
    left.parent.mkdir(parents=True)
    left.write_text("{}")

    second = pip_in(world, world.new_venv(), "-v", "plain==1.0")
    assert len(tree_lines(second, BUILT)) == 1 and len(tree_lines(second, PLACED)) == 1, second.output
    assert not left.exists()
    third = pip_in(world, world.new_venv(), "-v", "plain==1.0", "other==1.0")  # no helper was stopped since
    assert len(tree_lines(third, PLACED)) == 1 and len(tree_lines(third, LATER)) == 1, third.output


def placed_from_trees(installed: Installed, trees: List[Tree]) -> int:
    """How many of the installed pycs are a tree's pyc byte for byte (one compiled again names the venv's source)."""
    from_trees = {Path(tree.pyc(member)).read_bytes() for tree in trees for member in tree.compiled}
    return len([p for p, data in installed.files.items() if p.endswith(".pyc") and data in from_trees])


def test_imports_use_the_placed_bytecode_tracebacks_name_the_venv_and_uninstall_removes_everything(
    world: World,
) -> None:
    wheels = [str(w) for w in rich_wheels(world)]
    venv = world.new_venv()
    before = snapshot(venv.path)
    run = world.install("-v", *wheels, venv=venv)
    assert len(tree_lines(run, PLACED)) == 2, run.output

    modules = [f"{dist}{module}" for dist in ("rich_pure", "rich_plat") for module in (
        "", ".sub", ".sub.deep", ".sub.deep.leaf", ".données", ".cli", "_pure_extra", "_plat_extra")]
    imported = venv.run(["-v", "-c", f"import {', '.join(modules)}"], check=True)
    # the placed modules' (pipcachefirst's own may come from a checkout being edited, in a dev venv)
    assert "bytecode is stale for 'rich_" not in imported.stderr
    sources = [p for p in venv.site_packages.glob("rich_p*/**/*.py") if p.name not in ("legacy.py", "run_me.py")]
    sources += list(venv.site_packages.glob("rich_p*.py"))
    assert len(sources) == 2 * 8
    for py in sources:
        pyc = importlib.util.cache_from_source(str(py))
        assert f"# {pyc} matches {py}\n" in imported.stderr, f"{py} compiled again"
        assert f"# code object from {py}\n" not in imported.stderr

    raised = venv.run(["-c", "import rich_pure.sub.deep.leaf as leaf; leaf.boom()"])
    leaf = venv.site_packages / "rich_pure" / "sub" / "deep" / "leaf.py"
    assert f'File "{leaf}", line 6, in boom\n' in raised.stderr, raised.stderr
    assert 'raise RuntimeError("boom from the leaf")' in raised.stderr  # the source line, read where it was placed
    assert TREES.name not in raised.stderr

    bin_folder = venv.path / "bin"
    assert run_script(bin_folder / "rich_plat-cli") == "hello from cli\n"  # a console script pip wrote
    assert run_script(bin_folder / "rich_pure-hello") == f"hello {venv.python}\n"  # #!python got this venv's python
    assert venv.run([str(bin_folder / "rich_pure_plain.py")], check=True).stdout == "plain script\n"

    assert world.pip(venv, "check").returncode == 0
    assert world.pip(venv, "uninstall", "-y", "rich-pure", "rich-plat").returncode == 0
    after = snapshot(venv.path)
    assert sorted(set(after.files) ^ set(before.files)) == []
    assert [p.name for p in venv.site_packages.iterdir() if p.name.startswith("rich")] == []


def run_script(path: Path) -> str:
    proc = subprocess.run([str(path)], env=isolated_environ(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# -- where pip puts files, and how it compiles them --------------------------------

# --prefix: the next test installs there.  --user is not here: a venv refuses it unless it sees the base
# interpreter's site-packages, whose .pth files would then run in every pip of the test.
RELOCATIONS: Dict[str, Callable[[Path], List[str]]] = {
    "--target": lambda folder: ["--target", str(folder)],
    "--root": lambda folder: ["--root", str(folder)],
}


def test_target_and_root_get_the_files_plain_pip_gives_them(world: World) -> None:
    wheels = [str(w) for w in rich_wheels(world)]
    venv = world.new_venv()
    for option, where in RELOCATIONS.items():
        by_plain_pip, from_trees = world.tmp / f"plain{option}", world.tmp / f"trees{option}"
        pip_in(world, venv, "--no-index", *where(by_plain_pip), *wheels, env=TREES_OFF)
        run = pip_in(world, venv, "--no-index", "-v", *where(from_trees), *wheels)
        assert len(tree_lines(run, PLACED)) == 2, (option, run.output)
        plain, placed = snapshot(by_plain_pip), snapshot(from_trees)
        assert len(records(plain)) == 2, option
        assert records(placed) == records(plain), option
        assert differences(plain, placed) == [], option
    assert not [p for p in venv.site_packages.iterdir() if p.name.startswith("rich")]


def test_no_compile_steps_aside_and_an_optimizing_python_gets_opt_1_pycs_from_trees_of_its_own(world: World) -> None:
    """Both with ``--prefix``: each run installs into a folder of its own, out of one venv."""
    wheels = [str(w) for w in rich_wheels(world)]
    venv = world.new_venv()

    plain, placed = world.tmp / "plain-no-compile", world.tmp / "trees-no-compile"
    pip_in(world, venv, "--no-index", "--no-compile", "--prefix", str(plain), *wheels, env=TREES_OFF)
    run = pip_in(world, venv, "--no-index", "--no-compile", "-v", "--prefix", str(placed), *wheels)
    assert tree_lines(run, "tree") == []  # nothing to save: pip unzips, as always
    assert not (world.cache_root / TREES.name).exists()
    assert differences(snapshot(plain), snapshot(placed)) == []

    plain, placed = world.tmp / "plain-O", world.tmp / "trees-O"
    # The venv has the pycs of pip, not its .opt-1.pycs: the first -O run writes them for the second.
    optimized_pip = {"PYTHONDONTWRITEBYTECODE": ""}
    pip_in(world, venv, "--no-index", "--prefix", str(plain), *wheels, env={**TREES_OFF, **optimized_pip},
           python_flags=["-O"])
    run = pip_in(world, venv, "--no-index", "-v", "--prefix", str(placed), *wheels, env=optimized_pip,
                 python_flags=["-O"])
    assert len(tree_lines(run, PLACED)) == 2, run.output
    by_plain_pip, from_trees = snapshot(plain), snapshot(placed)
    assert differences(by_plain_pip, from_trees) == []
    pycs = [p for p in from_trees.files if p.endswith(".pyc")]
    assert len(pycs) == 2 * 9 + 2 and all(p.endswith(".opt-1.pyc") for p in pycs), pycs
    [key] = [p.name for p in (world.cache_root / TREES.name).iterdir()]
    assert key.split("-o")[-1] == "1-time" and key != interpreter_key(), "a tree of its own"


# -- a tree is never changed by what happens in a venv -------------------------------


def original(wheel: Path, member: str) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(member)


LEAF = "rich_pure/sub/deep/leaf.py"


def test_a_file_changed_through_a_hard_link_is_caught_and_never_reaches_the_next_venv(world: World) -> None:
    wheel = rich_wheels(world)[0]
    hardlink = {"PIPCACHEFIRST_LINK_MODE": "hardlink"}
    first = world.new_venv()
    world.install("-v", str(wheel), venv=first, env=hardlink)
    placed = first.site_packages / LEAF
    assert placed.stat().st_nlink == 2, "placed as a hard link to the tree's file"
    assert (first.path / "bin" / "rich_pure-hello").stat().st_nlink == 1, "pip rewrites #!python scripts: copied"
    [tree] = trees_on_disk(world)
    assert Trees.first_change(tree) is None

    with open(placed, "a") as out:  # the user edits an installed file in place
        out.write("print('edited')\n")
    assert Trees.first_change(tree) == LEAF

    second = world.new_venv()
    run = world.install("-v", str(wheel), venv=second, env=hardlink)
    changed = [line for line in run.output.splitlines() if "changed since it was built" in line]
    assert len(changed) == 1 and LEAF in changed[0], run.output
    assert len(tree_lines(run, BUILT)) == 1 and len(tree_lines(run, PLACED)) == 1
    assert (second.site_packages / LEAF).read_bytes() == original(wheel, LEAF)
    [tree] = trees_on_disk(world)
    assert Trees.first_change(tree) is None and Path(tree.source(LEAF)).read_bytes() == original(wheel, LEAF)


COMPILED = "compiled_pkg"
SHARED = ("compiled_pkg/__pycache__/core.{tag}.pyc", "compiled_pkg/_speedups{ext}",
          "compiled_pkg.libs/libfast-1a2b3c4d.so.1.2.3")
COPIED = ("compiled_pkg/core.py", "compiled_pkg/core.pyi", "compiled_pkg/__init__.py",
          "compiled_pkg-1.0.dist-info/RECORD")


def shared_and_copied() -> Tuple[List[str], List[str]]:
    """Where the default link mode hard-links (byte code, extension modules, libraries) and copies, installed."""
    names = {"tag": sys.implementation.cache_tag, "ext": sysconfig.get_config_var("EXT_SUFFIX")}
    return [name.format(**names) for name in SHARED], list(COPIED)


def package(venv: Venv) -> Installed:
    """The installed files of ``compiled-pkg`` in ``venv`` (its package, libraries and dist-info)."""
    every = snapshot(venv.site_packages)
    ours = {path for path in every.files if path.startswith(COMPILED)}
    return Installed(every.root, {p: every.files[p] for p in ours}, {p: every.modes[p] for p in ours},
                     [p for p in every.stale if p in ours])


def default_mode_here(world: World, venv: Venv) -> str:
    """What the default link mode becomes between this test's cache and ``venv``: clone, or links and copies."""
    (world.cache_root / TREES.name).mkdir(parents=True, exist_ok=True)
    return link_mode_here(world.cache_root / TREES.name, AUTO, str(venv.site_packages))[0]


def test_by_default_byte_code_and_extension_modules_are_shared_and_sources_are_copied(world: World) -> None:
    wheel = str(make_compiled_wheel(world.tmp / "wheels", "compiled-pkg", "1.0"))
    plain = world.new_venv()
    world.install(wheel, venv=plain, env=TREES_OFF)
    world.install(wheel)  # builds the tree
    venvs = [world.new_venv() for _ in range(2)]
    for venv in venvs:
        assert len(tree_lines(world.install("-v", wheel, venv=venv), PLACED)) == 1
        assert differences(package(plain), package(venv)) == []
    shared, copied = shared_and_copied()
    mode = default_mode_here(world, venvs[0])
    assert mode in (CLONE, LINK_COMPILED)
    for name in shared:
        same = os.path.samefile(venvs[0].site_packages / name, venvs[1].site_packages / name)
        assert same == (mode == LINK_COMPILED), name  # where it cannot clone, one file in the cache for both
    for name in copied:
        assert not os.path.samefile(venvs[0].site_packages / name, venvs[1].site_packages / name), name
        assert (venvs[0].site_packages / name).stat().st_nlink == 1, name


def test_by_default_editing_an_installed_source_never_reaches_another_venv_the_cache_or_a_later_install(
    world: World,
) -> None:
    """uv's hard links carry such edits everywhere (astral-sh/uv#15700, #10579): the default mode must not."""
    wheel = str(make_compiled_wheel(world.tmp / "wheels", "compiled-pkg", "1.0"))
    plain = world.new_venv()
    world.install(wheel, venv=plain, env=TREES_OFF)
    world.install(wheel)  # builds the tree
    mine, theirs = world.new_venv(), world.new_venv()
    for venv in (mine, theirs):
        assert len(tree_lines(world.install("-v", wheel, venv=venv), PLACED)) == 1

    core = mine.site_packages / COMPILED / "core.py"
    with open(core, "r+b") as out:  # #15700: a user patches an installed file in place (same size)
        out.write(b"# patched in place! \n")
    with open(core, "ab") as out:
        out.write(b"def answer():\n    return 'edited'\n")
    with open(mine.site_packages / COMPILED / "core.pyi", "ab") as out:
        out.write(b"def extra() -> None: ...\n")
    mine.run(["-c", "import compiled_pkg; assert compiled_pkg.answer() == 'edited'"], check=True)  # a new .pyc

    assert differences(package(plain), package(theirs)) == [], "the other venv is untouched"
    theirs.run(["-c", "import compiled_pkg; assert compiled_pkg.answer() == 42"], check=True)
    [tree] = trees_on_disk(world)
    assert Trees.first_damage(tree) is None, "the tree is untouched, byte for byte"

    uninstalled = world.pip(mine, "uninstall", "-y", "compiled-pkg")  # #10579: and installed again
    assert uninstalled.returncode == 0, uninstalled.output
    again = world.install("-v", wheel, venv=mine)
    assert len(tree_lines(again, PLACED)) == 1 and "changed since it was built" not in again.output
    later = world.install("-v", wheel)
    assert len(tree_lines(later, PLACED)) == 1 and "changed since it was built" not in later.output
    assert differences(package(plain), package(mine)) == [], "the edit does not come back"
    mine.run(["-c", "import compiled_pkg; assert compiled_pkg.answer() == 42"], check=True)


# -- a tree holds what pip writes last, and every byte placed is checked ----------------


def test_a_wheel_shipping_byte_code_of_its_own_source_gets_the_pyc_pip_writes_every_time(world: World) -> None:
    """numpy's wheels ship ``__pycache__/*.pyc`` members that pip's compile step then writes again."""
    wheel = str(make_pyc_shipping_wheel(world.tmp / "wheels", "shipping", "1.0"))
    same = world.tmp / "same"

    def install(env: Dict[str, str]) -> Tuple[PipRun, Installed]:
        shutil.rmtree(same, ignore_errors=True)
        run = world.install("-v", wheel, venv=create_venv(same), env=env)
        return run, snapshot(same)

    _, by_plain_pip = install(TREES_OFF)
    runs = [install({}) for _ in range(4)]
    assert len(tree_lines(runs[0][0], BUILT)) == 1
    for run, placed in runs:
        assert "changed since it was built" not in run.output, run.output
        assert len(tree_lines(run, PLACED)) == 1, run.output
        assert differences(by_plain_pip, placed) == []
        assert records(placed) == records(by_plain_pip)
    imported = Venv(same).run(["-v", "-c", "import shipping.shipped as m; assert m.answer() == 42"], check=True)
    source = Venv(same).site_packages / "shipping" / "shipped.py"
    assert f"# {importlib.util.cache_from_source(str(source))} matches {source}\n" in imported.stderr
    [tree] = trees_on_disk(world)
    assert Trees.first_damage(tree) is None


def flip_a_bit_keeping_size_and_mtime(path: Path) -> None:
    info = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def installed_under_hashes(world: World) -> Tuple[Path, Path, Tree]:
    """A user installs ``rich-pure`` from a hashed lock: the wheel, the lock, and the tree kept."""
    wheel = make_rich_wheel(world.index_root / "main" / "rich-pure", "rich-pure", "1.0")
    hashed = world.write("hashed.txt", f"rich-pure==1.0 --hash=sha256:{sha256_of(wheel)}\n")
    world.install("-v", "-r", str(hashed))
    [tree] = trees_on_disk(world)
    return wheel, hashed, tree


def changed_lines(run: PipRun) -> List[str]:
    return [line for line in run.output.splitlines() if "changed since it was built" in line]


def test_a_tree_file_flipped_in_place_is_never_installed_under_hashes_and_verify_removes_its_tree(
    world: World,
) -> None:
    wheel, hashed, tree = installed_under_hashes(world)
    flip_a_bit_keeping_size_and_mtime(Path(tree.source(LEAF)))
    assert Trees.first_change(tree) is None and Trees.first_damage(tree) == tree.source(LEAF)

    venv = world.new_venv()
    run = world.install("-v", "-r", str(hashed), venv=venv)
    assert (venv.site_packages / LEAF).read_bytes() == original(wheel, LEAF)
    changed = changed_lines(run)
    assert len(changed) == 1 and LEAF in changed[0], run.output
    assert trees_on_disk(world) == [], "the changed tree is gone"

    world.install("-v", "rich-pure==1.0")  # built again
    [tree] = trees_on_disk(world)
    flip_a_bit_keeping_size_and_mtime(Path(tree.pyc("rich_pure/cli.py")))
    verified = venv.run(["-m", "pipcachefirst", "verify"], env=world.env())
    assert verified.returncode == 0, verified.stderr
    assert "checked 1 installed trees; removed 1 that changed since they were built" in verified.stdout
    assert tree.pyc("rich_pure/cli.py") in verified.stdout
    assert trees_on_disk(world) == []


def test_a_tree_pyc_flipped_in_place_is_compiled_by_pip_under_hashes_and_its_tree_removed_at_once(
    world: World,
) -> None:
    _, hashed, tree = installed_under_hashes(world)
    flipped = Path(tree.pyc("rich_pure/cli.py"))
    flip_a_bit_keeping_size_and_mtime(flipped)
    flipped_bytes = flipped.read_bytes()

    venv = world.new_venv()
    run = world.install("-v", "-r", str(hashed), venv=venv)
    changed = changed_lines(run)
    assert len(changed) == 1 and str(flipped) in changed[0], run.output
    assert trees_on_disk(world) == [], "the changed tree is gone, not kept for the next install"
    installed_pyc = Path(importlib.util.cache_from_source(str(venv.site_packages / "rich_pure" / "cli.py")))
    assert installed_pyc.read_bytes() != flipped_bytes, "pip compiled the source itself"
    venv.run(["-c", "import rich_pure.cli"], check=True)


# -- trees only for wheels whose bytes come again --------------------------------------


def git_repository(folder: Path, name: str, version: str) -> str:
    """A git repository of a project with an in-tree backend, tagged ``v<version>``; its HEAD commit."""
    for relative, text in source_tree(name, version).items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    env = isolated_environ({"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                            "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_GLOBAL": os.devnull})
    for command in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "one"], ["tag", f"v{version}"]):
        subprocess.run(["git", *command], cwd=folder, env=env, check=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, env=env, check=True, stdout=subprocess.PIPE,
                          text=True).stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_wheel_built_anew_from_a_git_tag_gets_no_tree_and_one_pip_keeps_from_a_commit_does(
    world: World,
) -> None:
    repository = world.tmp / "repo"
    commit = git_repository(repository, "fromgit", "1.0")
    for _ in range(2):  # a tag may move: pip builds the wheel again each time and keeps none
        run = world.install("-v", f"git+file://{repository}@v1.0")
        assert tree_lines(run, "tree") == [], run.output
    assert trees_on_disk(world) == []
    pinned = world.install("-v", f"git+file://{repository}@{commit}")  # a commit: pip keeps this wheel
    assert len(tree_lines(pinned, BUILT)) == 1, pinned.output
    assert len(trees_on_disk(world)) == 1


# -- nothing imported while pip installs ------------------------------------------

LATE_IMPORT_WORDS = ("Unexpected import", "Blocked import", "Unsafe import", "DEPRECATION", "Warning:")


@pytest.mark.skipif(not PIPBEHAVIOR.polices_late_imports, reason="pip polices imports during installation from 26.1")
def test_building_and_placing_trees_imports_nothing_while_pip_installs(world: World) -> None:
    wheels = [str(w) for w in rich_wheels(world)]
    run = pip_in(world, world.new_venv(), "--no-index", "-v", *wheels, python_flags=["-W", "default"])
    assert len(tree_lines(run, BUILT)) == 2 and len(tree_lines(run, PLACED)) == 2, run.output
    assert [word for word in LATE_IMPORT_WORDS if word in run.output] == [], run.output


# -- copied ahead while pip resolves ---------------------------------------------

COPIED_AHEAD = "files copied ahead"
MOVED_WHOLE = "1 folder moved whole"


def test_trees_of_wheels_served_from_the_cache_are_copied_ahead_and_pip_only_renames_them_into_place(
    world: World,
) -> None:
    index = world.index_root / "main"
    make_rich_wheel(index / "rich-pure", "rich-pure", "1.0")
    make_rich_wheel(index / "rich-plat", "rich-plat", "2.0", purelib=False)
    same = world.tmp / "same"

    def install(env: Dict[str, str]) -> Tuple[PipRun, Installed]:
        shutil.rmtree(same, ignore_errors=True)
        run = pip_in(world, create_venv(same), "-v", "rich-pure==1.0", "rich-plat==2.0", env=env,
                     python_flags=["-W", "default"])
        return run, snapshot(same)

    _, by_plain_pip = install(TREES_OFF)
    building, _ = install({})
    placing, placed = install({})

    assert tree_lines(building, COPIED_AHEAD) == [], "nothing to copy before the trees exist"
    assert len(tree_lines(placing, COPIED_AHEAD)) == 2 and placing.requests == [], placing.output
    assert all(MOVED_WHOLE in line for line in tree_lines(placing, COPIED_AHEAD)), "each package is one rename"
    assert differences(by_plain_pip, placed) == [] and records(placed) == records(by_plain_pip)
    if PIPBEHAVIOR.polices_late_imports:
        assert [word for word in LATE_IMPORT_WORDS if word in placing.output] == [], placing.output
    bucket = world.cache_root / TREES.name
    assert [p for p in bucket.rglob("*") if p.name.startswith(".tmp-")] == [], "the helper's folder is gone"


def test_wheels_sharing_a_namespace_folder_are_copied_ahead_the_first_moved_whole_the_next_file_by_file(
    world: World,
) -> None:
    index = world.index_root / "main"
    for portion in ("alpha", "beta"):
        make_namespace_wheel(index / f"ns-{portion}", f"ns-{portion}", "1.0", "nsroot", portion)
    same = world.tmp / "same"

    def install(env: Dict[str, str]) -> Tuple[PipRun, Installed]:
        shutil.rmtree(same, ignore_errors=True)
        run = pip_in(world, create_venv(same), "-v", "ns-alpha==1.0", "ns-beta==1.0", env=env)
        return run, snapshot(same)

    _, by_plain_pip = install(TREES_OFF)
    install({})
    placing, placed = install({})

    copied = tree_lines(placing, COPIED_AHEAD)
    assert len(copied) == 2 and sum(MOVED_WHOLE in line for line in copied) == 1, placing.output  # nsroot/ was there
    assert differences(by_plain_pip, placed) == [] and records(placed) == records(by_plain_pip)
    venv = Venv(same)
    imported = venv.run(["-c", "import nsroot.alpha.core, nsroot.beta.core; print(nsroot.beta.core.answer())"])
    assert imported.stdout.strip() == "42", imported.stderr


def test_copying_ahead_steps_aside_for_dry_runs_target_and_no_compile(world: World) -> None:
    world.publish_wheel("plain", "1.0")
    world.install("plain==1.0")  # its tree is built
    for args in (["--dry-run"], ["--target", str(world.tmp / "target")], ["--no-compile"]):
        run = pip_in(world, world.new_venv(), "-v", "plain==1.0", *args)
        assert tree_lines(run, COPIED_AHEAD) == [], (args, run.output)
    assert [p for p in (world.cache_root / TREES.name).rglob("*") if p.name.startswith(".tmp-")] == []
