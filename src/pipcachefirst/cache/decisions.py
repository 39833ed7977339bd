"""What pipcachefirst decided for one requirement, and the reasons it can give.

A leaf module: it imports nothing of pipcachefirst, so the code that chooses
(``serve``), the process-wide state that shows decisions (``session``) and
the command line all speak of the same reasons without importing each other.
pip's ``LinkType`` is the model: one enum, its values the words users read.
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class Reason(enum.Enum):
    """Why a requirement was not served from the cache, in the words of the ``-v`` line."""

    NOT_CACHED = "not cached"
    NO_COMPATIBLE_FILE = "no compatible file in the cache"
    BETTER_FILE_ON_INDEX = "a better file for this target is on the index, not cached"
    OTHER_INDEX = "cached only from another index"
    HASH_MISMATCH = "hash mismatch"
    DAMAGED = "cached file was damaged and moved aside"
    UNTRUSTED = "cached file can be changed by other users"
    NO_INDEX = "no index in use"
    NO_CACHED_VERSION = "no cached version satisfies it"

    def __str__(self) -> str:
        return self.value


class Decision(NamedTuple):
    """Whether one requirement came from the cache, and why (not).

    ``detail`` is the served file's name, a :class:`Reason`'s words, or why
    pipcachefirst stepped aside altogether.
    """

    project: str
    pin: str
    served: bool
    detail: str

    def line(self) -> str:
        if self.served:
            return f"pipcachefirst: {self.project}{self.pin} from cache ({self.detail})"
        return f"pipcachefirst: {self.project}{self.pin} not from cache: {self.detail}"
