"""What every tab of the web app shares: one-line error messages, progress lines, the job runner."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

from ..errors import ToolkitError, describe_os_error
from ..progress import Cancelled, Update
from .jobs import Finished

T = TypeVar("T")

# What a handler reports as a message instead of a traceback: the errors the CLI prints in one line.
USER_ERRORS = (ToolkitError, ValueError, OSError)


def one_line(err: BaseException) -> str:
    """The line ``toolkit`` would print for ``err`` (without its ``toolkit: error:`` prefix)."""
    if isinstance(err, OSError) and not isinstance(err, ToolkitError):
        return describe_os_error(err)
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def error_text(err: BaseException) -> str:
    """Markdown for a status box: the error, in one line (a cancelled job is not an error)."""
    if isinstance(err, Cancelled):
        return f"**{one_line(err)}**"
    return f"**error:** {one_line(err)}"


def progress_text(update: Update) -> str:
    """``generate: 3 / 8 (38%) · loss 0.1234`` for a status box."""
    done = f"{update.done} / {update.total}" if update.total else str(update.done)
    share = f" ({update.fraction:.0%})" if update.fraction is not None else ""
    info = "".join(f" · {key} {value}" for key, value in update.info.items())
    return f"{update.desc or 'working'}: {done}{share}{info}"


def follow(
    events: Iterator[Update | Finished[T]], status: Any, extra: Callable[[], dict[Any, Any]] | None = None
) -> Generator[dict[Any, Any], None, T]:
    """Show a job's progress in ``status`` (plus what ``extra()`` adds: the frames so far, the latest
    grid) at each update, and return its result: ``result = yield from follow(jobs.run(job), status)``."""
    finished: list[T] = []
    for event in events:  # to the end, so that the runner lets the job go before the next one
        if isinstance(event, Finished):
            finished.append(event.result)
        else:
            yield {status: progress_text(event), **(extra() if extra else {})}
    if not finished:
        raise RuntimeError("the job ended without a result")
    return finished[0]


def guarded(status: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate an event handler that returns (or yields) ``{component: value}`` dicts so that a user
    error ends it with ``{status: "error: ..."}`` instead of Gradio's generic error; other components
    keep their values."""

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.isgeneratorfunction(handler):

            @functools.wraps(handler)
            def stream(*args: Any) -> Any:
                try:
                    yield from handler(*args)
                except USER_ERRORS as err:
                    yield {status: error_text(err)}

            return stream

        @functools.wraps(handler)
        def call(*args: Any) -> Any:
            try:
                return handler(*args)
            except USER_ERRORS as err:
                return {status: error_text(err)}

        return call

    return decorate
