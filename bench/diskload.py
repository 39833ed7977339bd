"""Another process writing to the same disk all along, as neighbours on a CI host or a laptop's other work do.

The trees report's contention rows (``bench.py --disk-load``) measure the same
installs while this runs in the work folder: 64 MiB written and fsynced at a
time, into one file of at most 1 GiB, which is then rewritten from the start
(truncated, not deleted: a deleted inode would slow every file made for
minutes after, see ``trash.py``, and that is not what is measured here).  It
never fills the disk: below ``MIN_FREE_BYTES`` free it waits instead.  On
SIGTERM it finishes the chunk it is writing, deletes its file and prints what
it wrote as JSON (``{"bytes": ..., "seconds": ...}``).

    python3 bench/diskload.py FOLDER        # until SIGTERM or Ctrl-C
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Dict, Iterator, Optional

CHUNK_BYTES = 64 << 20
FILE_CHUNKS = 16  # 1 GiB, then the file is written again from its start
MIN_FREE_BYTES = 10 << 30  # above trash.MIN_FREE_BYTES, so the benchmark's own room comes first
FILE_NAME = "disk-load.bin"


class Writer:
    """The loop, stopped by a signal between two chunks."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.stopping = False
        self.written = 0

    def stop(self, signum: int, frame: Optional[FrameType]) -> None:
        self.stopping = True

    def run(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / FILE_NAME
        data = os.urandom(CHUNK_BYTES)  # not zeros: a virtual disk may skip writing those
        try:
            while not self.stopping:
                with open(path, "wb") as file:  # truncated: its blocks freed and written anew
                    for _ in range(FILE_CHUNKS):
                        if self.stopping:
                            break
                        if shutil.disk_usage(self.folder).free < MIN_FREE_BYTES + CHUNK_BYTES:
                            time.sleep(1)
                            break
                        file.write(data)
                        file.flush()
                        os.fsync(file.fileno())
                        self.written += CHUNK_BYTES
        finally:
            path.unlink(missing_ok=True)


class Load:
    """The writer running in a process of its own (``running``); what it wrote, once stopped."""

    def __init__(self, folder: Path) -> None:
        self.process = subprocess.Popen([sys.executable, __file__, str(folder)], stdout=subprocess.PIPE, text=True)
        self.stats: Dict[str, float] = {}

    def check(self) -> None:
        """Stop the benchmark when the writer has stopped: rows "under load" would be quiet ones."""
        if self.process.poll() is not None:
            raise SystemExit(f"the disk load writer stopped (exit status {self.process.returncode})")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=300)
        lines = out.strip().splitlines()
        if lines:
            self.stats = json.loads(lines[-1])

    def mib_per_second(self) -> Optional[float]:
        seconds = self.stats.get("seconds")
        return self.stats["bytes"] / (1 << 20) / seconds if seconds else None


@contextlib.contextmanager
def running(folder: Path) -> Iterator[Load]:
    """The writer writing into ``folder`` while the block runs, stopped (its file deleted) when it ends."""
    load = Load(folder)
    try:
        time.sleep(2)  # its first chunks written: under way before anything is timed
        load.check()
        yield load
    finally:
        load.stop()


def main(folder: str) -> None:
    writer = Writer(Path(folder))
    signal.signal(signal.SIGTERM, writer.stop)
    signal.signal(signal.SIGINT, writer.stop)
    started = time.monotonic()
    writer.run()
    print(json.dumps({"bytes": writer.written, "seconds": round(time.monotonic() - started, 2)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
