"""Tiny real wheels and sdists, made by the tests themselves.

Wheels are written as zip files with a proper ``.dist-info`` (METADATA, WHEEL,
RECORD).  Sdists carry a PEP 517 backend inside the archive
(``backend-path``) with no build requirements, so pip really builds them, in
an isolated build environment, without needing setuptools from an index.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import marshal
import re
import sys
import sysconfig
import tarfile
import textwrap
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple


def _dist_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _metadata(name: str, version: str, requires: Sequence[str], requires_python: Optional[str]) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    extras = sorted(set(re.findall(r"""extra\s*==\s*["']([^"']+)["']""", " ".join(requires))))
    lines += [f"Provides-Extra: {extra}" for extra in extras]
    lines += [f"Requires-Dist: {r}" for r in requires]
    return "\n".join(lines) + "\n"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def wheel_bytes(
    name: str,
    version: str,
    tag: str = "py3-none-any",
    requires: Sequence[str] = (),
    requires_python: Optional[str] = None,
    payload: bytes = b"",
) -> bytes:
    """The bytes of a wheel holding one module, ``<name>_mod.py``, that knows its version.

    ``payload``, if given, is added as ``<name>_payload.bin``, for big files.
    """
    dist = _dist_name(name)
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{dist}_mod.py": f"VERSION = {version!r}\n".encode(),
        f"{info}/METADATA": _metadata(name, version, requires, requires_python).encode(),
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: {tag}\n".encode(),
    }
    if payload:
        files[f"{dist}_payload.bin"] = payload
    record = [_record_line(path, data) for path, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def make_wheel(folder: Path, name: str, version: str, tag: str = "py3-none-any", **kw: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_dist_name(name)}-{version}-{tag}.whl"
    path.write_bytes(wheel_bytes(name, version, tag, **kw))  # type: ignore[arg-type]
    return path


_BACKEND = textwrap.dedent(
    '''
    """A minimal PEP 517 backend: builds a pure wheel of <dist>_mod.py."""
    import base64, hashlib, os, zipfile

    NAME, VERSION, REQUIRES = {name!r}, {version!r}, {requires!r}
    DIST = {dist!r}

    def _files():
        info = DIST + "-" + VERSION + ".dist-info"
        meta = "Metadata-Version: 2.1\\nName: " + NAME + "\\nVersion: " + VERSION + "\\n"
        meta += "".join("Requires-Dist: " + r + "\\n" for r in REQUIRES)
        with open(os.path.join(os.path.dirname(__file__), DIST + "_mod.py"), "rb") as f:
            module = f.read()
        wheel = "Wheel-Version: 1.0\\nGenerator: tinybackend\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
        return info, {{DIST + "_mod.py": module, info + "/METADATA": meta.encode(), info + "/WHEEL": wheel.encode()}}

    def get_requires_for_build_wheel(config_settings=None):
        return []

    def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
        info, files = _files()
        os.makedirs(os.path.join(metadata_directory, info))
        for path, data in files.items():
            if path.startswith(info):
                with open(os.path.join(metadata_directory, path), "wb") as f:
                    f.write(data)
        return info

    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        info, files = _files()
        record = []
        for path, data in files.items():
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(path + ",sha256=" + digest + "," + str(len(data)))
        record.append(info + "/RECORD,,")
        files[info + "/RECORD"] = ("\\n".join(record) + "\\n").encode()
        name = DIST + "-" + VERSION + "-py3-none-any.whl"
        with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
            for path, data in files.items():
                archive.writestr(path, data)
        return name
    '''
)


def make_sdist(folder: Path, name: str, version: str, requires: Iterable[str] = ()) -> Path:
    """An sdist whose in-tree backend builds a pure wheel, no build dependencies needed."""
    folder.mkdir(parents=True, exist_ok=True)
    root = f"{_dist_name(name)}-{version}"
    path = folder / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for relative, text in source_tree(name, version, requires).items():
            data = text.encode()
            info = tarfile.TarInfo(f"{root}/{relative}")
            info.size = len(data)
            info.mtime = 1577836800
            archive.addfile(info, io.BytesIO(data))
    return path


def source_tree(name: str, version: str, requires: Iterable[str] = ()) -> Dict[str, str]:
    """The files of a project whose in-tree backend builds a pure wheel (an sdist's, or a repository's)."""
    dist = _dist_name(name)
    return {
        "pyproject.toml": textwrap.dedent(
            """
            [build-system]
            requires = []
            build-backend = "tinybackend"
            backend-path = ["."]
            """
        ),
        "tinybackend.py": _BACKEND.format(name=name, version=version, requires=list(requires), dist=dist),
        f"{dist}_mod.py": f"VERSION = {version!r}\n",
        "PKG-INFO": _metadata(name, version, list(requires), None),
    }



# -- a wheel with everything pip's install step handles ------------------------


def interpreter_wheel_tag() -> str:
    """The most specific tag the running interpreter accepts, e.g. ``cp311-cp311-linux_x86_64``."""
    platform = re.sub(r"[-.]", "_", sysconfig.get_platform())
    if sys.implementation.name == "cpython":
        version = f"{sys.version_info[0]}{sys.version_info[1]}"
        return f"cp{version}-cp{version}{sys.abiflags}-{platform}"
    return f"py3-none-{platform}"


EXECUTABLE = 0o100755 << 16  # a zip member's external_attr for a regular file with rwxr-xr-x
REGULAR = 0o100644 << 16


def rich_wheel_members(name: str, version: str, purelib: bool = True) -> List[Tuple[str, bytes, int]]:
    """``(member, bytes, external_attr)`` of every member of a rich wheel, RECORD last.

    The package ``<dist>`` has subpackages (``sub``, ``sub.deep``), non-ASCII
    file names (``données.py``, ``日本.txt``), a ``.py`` that does not
    compile (``legacy.py``, Python 2), an empty module, an executable shell
    script and an executable ``.py``; ``leaf.boom()`` raises, for tracebacks.
    ``.data`` brings a ``#!python`` script and a plain ``.py`` script, data,
    a header, and a module each for purelib and platlib; ``entry_points.txt``
    a console and a gui script.
    """
    dist = _dist_name(name)
    info = f"{dist}-{version}.dist-info"
    data = f"{dist}-{version}.data"
    members: List[Tuple[str, bytes, int]] = [
        (f"{dist}/__init__.py", f"VERSION = {version!r}\nfrom . import sub\n".encode(), REGULAR),
        (f"{dist}/sub/__init__.py", b"from .deep import leaf\n", REGULAR),
        (f"{dist}/sub/deep/__init__.py", b"", REGULAR),
        (f"{dist}/sub/deep/leaf.py", textwrap.dedent(
            '''
            """A leaf module."""


            def boom():
                raise RuntimeError("boom from the leaf")


            class Thing:
                def method(self):
                    return [x * 2 for x in range(3)]
            '''
        ).encode(), REGULAR),
        (f"{dist}/données.py", 'VALEUR = "été"\n'.encode(), REGULAR),
        (f"{dist}/日本.txt", "日本語のテキスト\n".encode(), REGULAR),
        (f"{dist}/legacy.py", b'print "this is Python 2"\n', REGULAR),
        (f"{dist}/cli.py", b"import sys\n\n\ndef main():\n    print('hello from cli')\n    return 0\n\n\n"
                           b"def gui():\n    return 0\n", REGULAR),
        (f"{dist}/tool.sh", b"#!/bin/sh\necho tool\n", EXECUTABLE),
        (f"{dist}/run_me.py", b"#!/usr/bin/env python3\nprint('ran')\n", EXECUTABLE),
        (f"{data}/scripts/{dist}-hello", b"#!python\nimport sys\nprint('hello', sys.executable)\n", EXECUTABLE),
        (f"{data}/scripts/{dist}_plain.py", b"#!/usr/bin/env python3\nprint('plain script')\n", REGULAR),
        (f"{data}/data/share/{dist}/readme.txt", b"data files land under the prefix\n", REGULAR),
        (f"{data}/headers/{dist}.h", b"#define RICH 1\n", REGULAR),
        (f"{data}/purelib/{dist}_pure_extra.py", b"WHERE = 'purelib'\n", REGULAR),
        (f"{data}/platlib/{dist}_plat_extra.py", b"WHERE = 'platlib'\n", REGULAR),
        (f"{info}/METADATA", _metadata(name, version, (), None).encode(), REGULAR),
        (f"{info}/WHEEL", (f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: {str(purelib).lower()}\n"
                           f"Tag: {'py3-none-any' if purelib else interpreter_wheel_tag()}\n").encode(), REGULAR),
        (f"{info}/entry_points.txt", (f"[console_scripts]\n{dist}-cli = {dist}.cli:main\n\n"
                                      f"[gui_scripts]\n{dist}-gui = {dist}.cli:gui\n").encode(), REGULAR),
    ]
    record = [_record_line(path, content) for path, content, _ in members] + [f"{info}/RECORD,,"]
    members.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode(), REGULAR))
    return members


def rich_wheel_bytes(name: str, version: str, purelib: bool = True) -> bytes:
    return members_wheel_bytes(rich_wheel_members(name, version, purelib))


def make_rich_wheel(folder: Path, name: str, version: str, purelib: bool = True) -> Path:
    """A rich wheel (see ``rich_wheel_members``): pure, or tagged for this interpreter with Root-Is-Purelib false."""
    folder.mkdir(parents=True, exist_ok=True)
    tag = "py3-none-any" if purelib else interpreter_wheel_tag()
    path = folder / f"{_dist_name(name)}-{version}-{tag}.whl"
    path.write_bytes(rich_wheel_bytes(name, version, purelib))
    return path


SHIPPED_MODULE = b'"""A module whose wheel ships its byte code."""\n\n\ndef answer():\n    return 42\n'


def pyc_shipping_members(name: str, version: str) -> List[Tuple[str, bytes, int]]:
    """A wheel's members that include the ``.pyc`` of one of its sources, for this interpreter, as numpy's do.

    numpy's cp311 wheels (1.26 to 2.4.1) ship
    ``numpy/distutils/__pycache__/conv_template.cpython-311.pyc``; pip unzips
    it, then its compile step writes that path again.  The shipped one here
    was compiled under a short file name, so it is shorter than the one pip
    compiles where the source lands, as numpy's is (14,202 bytes against
    14,225).
    """
    dist = _dist_name(name)
    info = f"{dist}-{version}.dist-info"
    pyc = importlib.util.cache_from_source(f"{dist}/shipped.py").replace("\\", "/")
    code = compile(SHIPPED_MODULE, "s.py", "exec", dont_inherit=True)
    shipped = importlib.util.MAGIC_NUMBER + b"\0" * 12 + marshal.dumps(code)  # no source mtime: stale anywhere
    members: List[Tuple[str, bytes, int]] = [
        (f"{dist}/__init__.py", b"", REGULAR),
        (f"{dist}/shipped.py", SHIPPED_MODULE, REGULAR),
        (pyc, shipped, REGULAR),
        (f"{info}/METADATA", _metadata(name, version, (), None).encode(), REGULAR),
        (f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n".encode(),
         REGULAR),
    ]
    record = [_record_line(path, content) for path, content, _ in members] + [f"{info}/RECORD,,"]
    members.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode(), REGULAR))
    return members


def members_wheel_bytes(members: Sequence[Tuple[str, bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content, attr in members:
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = attr
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def make_pyc_shipping_wheel(folder: Path, name: str, version: str) -> Path:
    """A wheel that ships the ``.pyc`` of its module ``<dist>.shipped`` (see ``pyc_shipping_members``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_dist_name(name)}-{version}-py3-none-any.whl"
    path.write_bytes(members_wheel_bytes(pyc_shipping_members(name, version)))
    return path


def make_namespace_wheel(folder: Path, name: str, version: str, namespace: str, portion: str) -> Path:
    """A wheel whose package ``<namespace>.<portion>`` lives in a PEP 420 namespace folder other wheels share."""
    dist = _dist_name(name)
    info = f"{dist}-{version}.dist-info"
    members: List[Tuple[str, bytes, int]] = [
        (f"{namespace}/{portion}/__init__.py", f"PORTION = {portion!r}\n".encode(), REGULAR),
        (f"{namespace}/{portion}/core.py", b"def answer():\n    return 42\n", REGULAR),
        (f"{info}/METADATA", _metadata(name, version, (), None).encode(), REGULAR),
        (f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n".encode(),
         REGULAR),
    ]
    record = [_record_line(path, content) for path, content, _ in members] + [f"{info}/RECORD,,"]
    members.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode(), REGULAR))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    path.write_bytes(members_wheel_bytes(members))
    return path


def wheel_of_installed(folder: Path, name: str) -> Path:
    """The test runner's installed ``name`` packed back into a wheel in ``folder``, for the test index.

    For a story that needs the real thing where a stand-in would not do, such as a
    venv that upgrades its pip: the files its RECORD lists in site-packages, without
    byte code and scripts (pip makes those at install) or INSTALLER, REQUESTED and
    direct_url.json (pip writes those), with a new RECORD.
    """
    dist = metadata.distribution(name)
    info = next(f.parent for f in dist.files or [] if f.name == "METADATA" and f.parent.name.endswith(".dist-info"))
    left_out = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
    files = {
        str(relative): Path(str(dist.locate_file(relative))).read_bytes()
        for relative in dist.files or []
        # (virtualenv's seeder, which put pip into tox's environments, lists __pycache__ folders too)
        if relative.parts[0] != ".." and relative.suffix != ".pyc" and "__pycache__" not in relative.parts
        and not (relative.parent == info and relative.name in left_out)
    }
    tag = re.search(r"^Tag: (\S+)$", files[f"{info}/WHEEL"].decode(), re.MULTILINE)
    assert tag is not None, f"{info}/WHEEL names no tag"
    record = [_record_line(path, data) for path, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_dist_name(name)}-{dist.version}-{tag.group(1)}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in files.items():
            archive.writestr(zipfile.ZipInfo(member, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return path


def compiled_wheel_members(name: str, version: str) -> List[Tuple[str, bytes, int]]:
    """A wheel shaped like numpy's or scipy's, with stand-ins for the compiled parts (never imported).

    ``<dist>/core.py`` (and its stub ``core.pyi``), an extension module
    ``<dist>/_speedups<EXT_SUFFIX>``, and a shared library in ``<dist>.libs/``
    named as auditwheel names them (``libfast-1a2b3c4d.so.1.2.3``).
    """
    dist = _dist_name(name)
    info = f"{dist}-{version}.dist-info"
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    members: List[Tuple[str, bytes, int]] = [
        (f"{dist}/__init__.py", b"from .core import answer\n", REGULAR),
        (f"{dist}/core.py", b'"""The pure part."""\n\n\ndef answer():\n    return 42\n', REGULAR),
        (f"{dist}/core.pyi", b"def answer() -> int: ...\n", REGULAR),
        (f"{dist}/_speedups{suffix}", b"\x7fELF not really an extension module\n" * 64, EXECUTABLE),
        (f"{dist}.libs/libfast-1a2b3c4d.so.1.2.3", b"\x7fELF not really a shared library\n" * 64, EXECUTABLE),
        (f"{info}/METADATA", _metadata(name, version, (), None).encode(), REGULAR),
        (f"{info}/WHEEL", (f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: false\n"
                           f"Tag: {interpreter_wheel_tag()}\n").encode(), REGULAR),
    ]
    record = [_record_line(path, content) for path, content, _ in members] + [f"{info}/RECORD,,"]
    members.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode(), REGULAR))
    return members


def make_compiled_wheel(folder: Path, name: str, version: str) -> Path:
    """A wheel with an extension module and a shared library (see ``compiled_wheel_members``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_dist_name(name)}-{version}-{interpreter_wheel_tag()}.whl"
    path.write_bytes(members_wheel_bytes(compiled_wheel_members(name, version)))
    return path
