"""Room on the cache's disk: how much storing leaves free, and how seldom it looks."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import List

import pytest

from pipcachefirst.base.free_space import FreeSpace, LowOnSpace, human, margin, tree_size

MiB, GiB = 1 << 20, 1 << 30


def test_the_margin_is_a_tenth_of_a_small_file_system_and_1_gib_of_a_big_one() -> None:
    assert human(margin(16 * MiB)) == "1.6 MiB"
    assert margin(5 * GiB) == GiB // 2
    assert margin(10 * GiB) == margin(4000 * GiB) == GiB


class Disk:
    """What ``os.statvfs`` says of a file system of ``size`` bytes with ``free`` free, and how often it was asked."""

    def __init__(self, size: int, free: int) -> None:
        self.size, self.free = size, free
        self.asked: List[str] = []

    def statvfs(self, path: str) -> os.statvfs_result:
        self.asked.append(path)
        # f_bsize f_frsize f_blocks f_bfree f_bavail f_files f_ffree f_favail f_flag f_namemax
        return os.statvfs_result((4096, 1, self.size, self.free, self.free, 0, 0, 0, 0, 255))


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> Disk:
    disk = Disk(100 * GiB, 50 * GiB)
    monkeypatch.setattr(os, "statvfs", disk.statvfs)
    return disk


def test_with_room_to_spare_it_looks_once(disk: Disk) -> None:
    room = FreeSpace("/cache")
    for _ in range(100):
        room.claim(10 * MiB, "a wheel")
    assert disk.asked == ["/cache"]


def test_near_the_margin_it_looks_again_after_a_quarter_of_the_room_is_written(disk: Disk) -> None:
    disk.free = GiB + 100 * MiB  # 100 MiB above the margin
    room = FreeSpace("/cache")
    for _ in range(5):
        room.claim(10 * MiB, "a wheel")
    assert len(disk.asked) == 3, "at 0, then once 25 MiB were written, then at 50 MiB"


def test_what_others_wrote_meanwhile_counts(disk: Disk) -> None:
    disk.free = GiB + 100 * MiB
    room = FreeSpace("/cache")
    room.claim(10 * MiB, "a wheel")
    disk.free = GiB + 20 * MiB  # pip wrote the environment
    room.claim(10 * MiB, "a wheel")
    with pytest.raises(LowOnSpace) as raised:
        room.claim(25 * MiB, "beta-1.0-py3-none-any.whl")
    assert raised.value.line == (
        "storing beta-1.0-py3-none-any.whl (25.0 MiB) would leave less than 1.0 GiB free on the disk of /cache; "
        "storing nothing more in this run"
    )


def test_below_the_margin_nothing_is_stored_and_the_line_says_how_much_is_free(disk: Disk) -> None:
    disk.free = 800 * MiB
    room = FreeSpace("/cache")
    with pytest.raises(LowOnSpace) as raised:
        room.claim(1, "a wheel")
    assert raised.value.line == (
        "only 800.0 MiB free on the disk of /cache (pipcachefirst leaves 1.0 GiB free);"
        " storing nothing more in this run"
    )
    assert isinstance(raised.value, OSError), "callers that stop storing on a failed write stop on this too"


def test_once_refused_it_refuses_for_the_rest_of_the_process_with_the_same_line(disk: Disk) -> None:
    disk.free = 800 * MiB
    room = FreeSpace("/cache")
    lines = []
    for _ in range(3):
        with pytest.raises(LowOnSpace) as raised:
            room.claim(1, "a wheel")
        lines.append(raised.value.line)
    assert len(set(lines)) == 1 and disk.asked == ["/cache"]


def test_a_file_system_that_does_not_count_its_blocks_is_not_refused(disk: Disk) -> None:
    disk.size = disk.free = 0
    FreeSpace("/cache").claim(GiB, "a wheel")


def test_a_real_disk(tmp_path: Path) -> None:
    FreeSpace(tmp_path).claim(0, "nothing")


def test_a_tree_takes_each_member_rounded_up_to_a_block_and_a_pyc_per_source() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        wheel.writestr("alpha/__init__.py", b"x = 1\n")
        wheel.writestr("alpha/data.bin", bytes(5000))
        wheel.writestr("alpha-1.0.dist-info/RECORD", b"")
    with zipfile.ZipFile(buffer) as wheel:
        assert tree_size(wheel) == 4096 * (1 + 2 + 2 + 1)  # its record, the source and its .pyc, 2 blocks, 1
