"""Tiny real wheels and sdists, made by the tests themselves.

Wheels are written as zip files with a proper ``.dist-info`` (METADATA, WHEEL,
RECORD).  Sdists carry a PEP 517 backend inside the archive
(``backend-path``) with no build requirements, so pip really builds them, in
an isolated build environment, without needing setuptools from an index.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tarfile
import textwrap
import zipfile
from pathlib import Path
from typing import Iterable, Optional, Sequence


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
    dist = _dist_name(name)
    root = f"{dist}-{version}"
    files = {
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
    path = folder / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for relative, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{root}/{relative}")
            info.size = len(data)
            info.mtime = 1577836800
            archive.addfile(info, io.BytesIO(data))
    return path

