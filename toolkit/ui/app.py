"""``toolkit ui``: the web app (Gradio) over one output folder.

Four tabs, each a thin layer over :mod:`.workspace` (the library calls the CLI makes, on the files it
writes): Subjects, Poses, Generate, Compare. Long jobs run one at a time through one :class:`JobRunner`
and can be cancelled; the page binds to 127.0.0.1 and makes no public link unless asked.
"""

from __future__ import annotations

import os
from typing import Any

from .jobs import JobRunner
from .uploads import MAX_VIDEO_BYTES
from .workspace import Workspace

TITLE = "Pose-transfer toolkit"


def build_app(workspace: Workspace, jobs: JobRunner | None = None) -> Any:
    """The ``gr.Blocks`` page for ``workspace``; long jobs go through ``jobs`` (default a new runner)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    from .tabs import Shared, compare, generate, poses, subjects

    shared = Shared(workspace, jobs or JobRunner())
    tabs = {
        "Subjects": subjects.build,
        "Poses": poses.build,
        "Generate": generate.build,
        "Compare": compare.build,
    }
    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        gr.Markdown(
            f"# {TITLE}\nEverything lands in `{workspace.root}`, in the files the `toolkit` commands write. "
            f"Models: `{workspace.base}`."
        )
        refreshes = []
        with gr.Tabs():
            for label, build in tabs.items():
                with gr.Tab(label, id=label.lower(), elem_id=f"tab-{label.lower()}") as tab:
                    refresh = build(shared)
                if refresh.outputs:
                    tab.select(refresh.fn, None, refresh.outputs, concurrency_limit=None)
                    refreshes.append(refresh)

        def refresh_all() -> dict[Any, Any]:
            return {key: value for refresh in refreshes for key, value in refresh.fn().items()}

        app.load(refresh_all, None, [out for refresh in refreshes for out in refresh.outputs])
    app.queue(default_concurrency_limit=1)
    return app


def launch(
    workspace: Workspace,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    share: bool = False,
    block: bool = True,
) -> Any:
    """Serve the page on ``host:port`` (default 127.0.0.1 and Gradio's first free port from 7860);
    ``share`` asks Gradio for a public link. Returns the ``gr.Blocks``, once stopped (or at once when
    not ``block``)."""
    workspace.root.mkdir(parents=True, exist_ok=True)
    app = build_app(workspace)
    allowed = [str(workspace.root.resolve()), str(workspace.registry.root.resolve())]
    app.launch(
        server_name=host,
        server_port=port,
        share=share,
        inbrowser=False,
        prevent_thread_lock=not block,
        allowed_paths=allowed,
        max_file_size=MAX_VIDEO_BYTES,
        ssr_mode=False,
        footer_links=["gradio", "settings"],
    )
    return app
