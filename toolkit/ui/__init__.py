"""``toolkit ui``: the local web app (Gradio, the ``ui`` extra).

- ``workspace``: what the page does, as plain library calls over one output folder (no Gradio).
- ``jobs``: long jobs one at a time, in a worker thread, watched and cancellable (no Gradio).
- ``uploads``: checks on uploaded files, with the CLI's one-line messages (no Gradio).
- ``tabs``: one module per tab (Subjects, Poses, Generate, Compare); ``app``: the page and its server.
"""
