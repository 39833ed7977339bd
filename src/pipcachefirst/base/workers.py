"""A few long-lived threads for work that mostly waits on the kernel or the network.

Placing an installed tree's files and talking to a team cache both spend
their time in system calls that release the GIL, so a handful of threads
overlap them.  Not ``concurrent.futures``: importing it costs milliseconds in
every pip process that uses it, and these threads need none of its features.
Standard library only; the threads are daemons and are started once per
process (their connections, in the team cache's client, live with them).
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterable, List, Optional, Tuple


class Job:
    """A call run by a worker thread; ``result()`` waits for it and returns or raises what the call did."""

    def __init__(self, call: Callable[..., Any], args: Tuple[Any, ...]) -> None:
        self.call = call
        self.args = args
        self.value: Any = None
        self.error: Optional[BaseException] = None
        self.done = threading.Lock()
        self.done.acquire()

    def run(self) -> None:
        try:
            self.value = self.call(*self.args)
        except BaseException as exc:  # noqa: BLE001 - kept, and raised again by result() in the caller's thread
            self.error = exc
        finally:
            self.done.release()

    def wait(self) -> None:
        with self.done:
            pass

    def finished(self) -> bool:
        """Whether the call has run, without waiting; asked by the one thread that waits for it."""
        return not self.done.locked()

    def result(self) -> Any:
        self.wait()
        if self.error is not None:
            raise self.error
        return self.value


class Workers:
    """``threads`` threads running jobs in the order given, for the rest of the process."""

    def __init__(self, threads: int, name: str = "pipcachefirst") -> None:
        self._jobs: "queue.SimpleQueue[Job]" = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True) for n in range(threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, call: Callable[..., Any], *args: Any) -> Job:
        job = Job(call, args)
        self._jobs.put(job)
        return job

    def map(self, call: Callable[[Any], Any], items: Iterable[Any]) -> List[Any]:
        """``call`` on every item, results in order; the first error is raised once all have run."""
        jobs = [self.submit(call, item) for item in items]
        return [job.result() for job in jobs]

    def runs_on_this_thread(self) -> bool:
        """Whether the caller is one of these threads."""
        return threading.current_thread() in self._threads

    def _work(self) -> None:
        while True:
            self._jobs.get().run()
