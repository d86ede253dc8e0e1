"""The web app's tabs, one module each: ``build(shared)`` lays a tab out inside the current ``gr.Tab``,
wires its events and returns the :class:`Refresh` that brings its lists up to date (run when the page
loads and when the tab is opened, so that what another tab or the command line made shows up)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..jobs import JobRunner
from ..workspace import Workspace


@dataclass(frozen=True)
class Shared:
    """What every tab works with: the output folder and the one job runner."""

    workspace: Workspace
    jobs: JobRunner

    def cancel(self) -> str:
        """Ask the running job to stop; the status line to show."""
        if self.jobs.cancel():
            return "cancelling: the job stops after the frame or step it is on; finished work is kept"
        return "no job is running"


@dataclass(frozen=True)
class Refresh:
    """A tab's refresh: ``fn()`` returns ``{component: value}`` for the components in ``outputs``."""

    fn: Callable[[], dict[Any, Any]]
    outputs: list[Any]
