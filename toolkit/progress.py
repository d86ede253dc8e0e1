"""Progress bars that a caller can watch and stop.

Every long loop of the library counts its work through :func:`progress_bar`: a tqdm bar on stderr (as the
command line shows it), which also reports each update to the :class:`Watcher` of the current context and,
once that watcher has been asked to stop, raises :class:`Cancelled` from ``update``. Loops update their
bar only after a unit of work is safely written (a frame, a checkpointed step), so a cancelled job keeps
everything it finished and a rerun resumes from there.

    watcher = Watcher(on_update=print)
    with watching(watcher):          # in the thread doing the work
        run_generate(request)        # watcher.cancel() from another thread stops it between frames
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import ToolkitError

T = TypeVar("T")


class Cancelled(ToolkitError):
    """The job was asked to stop; what it had finished is kept."""

    def __init__(self) -> None:
        super().__init__("cancelled; finished outputs were kept, and running it again resumes")


@dataclass(frozen=True)
class Update:
    """One bar's state: its label, units done, the total (None when unknown) and its shown values
    (``set_postfix``: losses, for a training bar)."""

    desc: str
    done: int
    total: int | None
    info: dict[str, str] = field(default_factory=dict)

    @property
    def fraction(self) -> float | None:
        """``done / total`` in [0, 1], or None without a total."""
        return None if not self.total else min(self.done / self.total, 1.0)


@dataclass
class Watcher:
    """Receives the updates of every bar in its context and can stop the work (thread-safe)."""

    on_update: Callable[[Update], None] = lambda update: None
    stop: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        """Ask the work to stop at its next bar update."""
        self.stop.set()

    @property
    def cancelled(self) -> bool:
        return self.stop.is_set()


_WATCHER: ContextVar[Watcher | None] = ContextVar("toolkit_progress_watcher", default=None)


@contextmanager
def watching(watcher: Watcher) -> Iterator[Watcher]:
    """Make ``watcher`` see every bar opened in this context (this thread, unless copied)."""
    token = _WATCHER.set(watcher)
    try:
        yield watcher
    finally:
        _WATCHER.reset(token)


def cancel_requested() -> bool:
    """Whether the current context's watcher has been asked to stop (False without a watcher)."""
    watcher = _WATCHER.get()
    return watcher is not None and watcher.cancelled


class ProgressBar:
    """A tqdm bar (hidden when ``disable``) whose updates also reach the context's watcher.

    Args:
        iterable: Iterate through the bar (one update per item), or None and call :meth:`update`.
        total: Units of work, or None when unknown.
        desc, unit, initial, leave, disable: As tqdm's.
    """

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        *,
        total: int | None = None,
        desc: str = "",
        unit: str = "it",
        initial: int = 0,
        leave: bool = True,
        disable: bool = False,
    ) -> None:
        from tqdm import tqdm

        if total is None and isinstance(iterable, Sized):
            total = len(iterable)
        self._iterable = iterable
        self._bar = tqdm(total=total, desc=desc, unit=unit, initial=initial, leave=leave, disable=disable)
        self._watcher = _WATCHER.get()
        self.desc, self.total, self.done = desc, total, initial
        self.info: dict[str, str] = {}

    def update(self, n: int = 1, *, stoppable: bool = True) -> None:
        """Count ``n`` more units done; raises :class:`Cancelled` once the watcher asked to stop, unless
        not ``stoppable`` (for a caller that decided when to stop itself, see ``train.loop``)."""
        self._bar.update(n)
        self.done += n
        if self._watcher is not None:
            self._watcher.on_update(Update(self.desc, self.done, self.total, dict(self.info)))
            if stoppable and self._watcher.cancelled:
                raise Cancelled()

    def add_total(self, n: int) -> None:
        """Grow the total by ``n`` units, for work whose size is learnt as it goes."""
        self.total = (self.total or 0) + n
        self._bar.total = self.total
        self._bar.refresh()

    def set_postfix(self, values: dict[str, str]) -> None:
        """Values shown beside the bar (and sent with the next update)."""
        self.info = dict(values)
        self._bar.set_postfix(values)

    def __iter__(self) -> Iterator[Any]:
        assert self._iterable is not None, "this bar was made without an iterable"
        for item in self._iterable:
            yield item
            self.update(1)

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_bar(iterable: Iterable[T] | None = None, **options: Any) -> ProgressBar:
    """A :class:`ProgressBar` (same options); ``for x in progress_bar(items, desc=...)`` counts items."""
    return ProgressBar(iterable, **options)
