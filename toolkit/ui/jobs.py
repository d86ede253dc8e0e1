"""Long jobs of the web app, one at a time: run in a worker thread, watched, cancellable.

A job is any library call (train a subject, extract poses, generate, compare). :meth:`JobRunner.run`
starts it under a :class:`~toolkit.progress.Watcher` and yields its progress updates as they come, then
its result; :meth:`JobRunner.cancel` makes the call stop at its next progress update, which the library
only reaches once a unit of work is safely written (see :mod:`toolkit.progress`).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..progress import Update, Watcher, watching

T = TypeVar("T")


@dataclass(frozen=True)
class Finished(Generic[T]):
    """The job's last event: what the call returned."""

    result: T


@dataclass(frozen=True)
class _Failed:
    error: BaseException


class JobRunner:
    """Runs one job at a time; a second waits for the first (the page queues them too).

    Args:
        poll: Seconds between checks for updates; with no update in that time an ``Update`` is not
            invented, the loop just waits again.
    """

    def __init__(self, poll: float = 0.25) -> None:
        self.poll = poll
        self._lock = threading.Lock()
        self._watcher: Watcher | None = None

    @property
    def busy(self) -> bool:
        """Whether a job is running."""
        return self._watcher is not None

    def cancel(self) -> bool:
        """Ask the running job to stop at its next progress update; False when none is running."""
        watcher = self._watcher
        if watcher is None:
            return False
        watcher.cancel()
        return True

    def run(self, job: Callable[[], T]) -> Iterator[Update | Finished[T]]:
        """Run ``job()`` in a worker thread; yield its progress updates, then :class:`Finished`.

        Raises:
            Whatever the job raised (``Cancelled`` when it was cancelled), once it has stopped.
        """
        events: queue.Queue[Update | Finished[T] | _Failed] = queue.Queue()
        with self._lock:
            watcher = Watcher(on_update=events.put)
            self._watcher = watcher

            def work() -> None:
                try:
                    with watching(watcher):
                        events.put(Finished(job()))
                except BaseException as err:  # handed to the waiting generator, raised there
                    events.put(_Failed(err))

            worker = threading.Thread(target=work, name="toolkit-job", daemon=True)
            worker.start()
            try:
                while True:
                    try:
                        event = events.get(timeout=self.poll)
                    except queue.Empty:
                        continue
                    if isinstance(event, _Failed):
                        raise event.error
                    yield event
                    if isinstance(event, Finished):
                        return
            finally:
                # A page closed mid-job stops reading: stop the job too, and wait for it to let go.
                watcher.cancel()
                worker.join()
                self._watcher = None


def last_result(events: Iterator[Any]) -> Any:
    """Drain a job's events and return its result (for callers that do not show progress)."""
    result = None
    for event in events:
        if isinstance(event, Finished):
            result = event.result
    return result
