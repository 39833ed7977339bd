"""The ``packaging`` library pipcachefirst uses: pip's own vendored copy.

pipcachefirst runs inside pip, and pip carries ``packaging`` as
``pip._vendor.packaging`` (21.3 in pip 22.3, newer since), already imported
by the time the hooks run.  Using that copy, rather than a top-level
``packaging`` distribution, means pipcachefirst declares no dependency on
``packaging``: a user's lock may pin any version of it (``packaging==21.3``
and older are common) without a conflict line, a failed ``pip check``, or
pipcachefirst losing a function it needs.  Only what every copy since 21.3
offers is used here.
"""

from __future__ import annotations

from pip._vendor.packaging.specifiers import SpecifierSet as SpecifierSet
from pip._vendor.packaging.utils import (
    InvalidSdistFilename as InvalidSdistFilename,
    InvalidWheelFilename as InvalidWheelFilename,
    canonicalize_name as canonicalize_name,
    canonicalize_version as canonicalize_version,
    parse_sdist_filename as parse_sdist_filename,
    parse_wheel_filename as parse_wheel_filename,
)
from pip._vendor.packaging.version import InvalidVersion as InvalidVersion, Version as Version
