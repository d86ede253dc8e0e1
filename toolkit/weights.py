"""Reading a weights file a user gave: ``torch.load(weights_only=True)``, never a full unpickle, so a
malicious pickle cannot run code, and a one-line error naming the file for anything unreadable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ToolkitError


class WeightsFileError(ToolkitError):
    """A weights file is missing, unreadable or not plain tensors."""


def load_tensors(
    path: str | Path, *, what: str = "weights", error: type[ToolkitError] = WeightsFileError
) -> Any:
    """The contents of the PyTorch file ``path`` (tensors, and dicts, lists and numbers of them) on the CPU.

    Args:
        path: A ``torch.save`` file.
        what: What the file should be, for the message ("VGG-19 weights", "optimizer state").
        error: The :class:`~toolkit.errors.ToolkitError` subclass to raise.

    Raises:
        ``error``: the file is missing, or not readable by ``torch.load(weights_only=True)`` (a damaged
        file, another format, or a pickle of anything but tensors), in one line.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such file ({what})")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises pickle, zip and runtime errors alike for a bad file
        # torch's messages run to advice about weights_only=False, which is what must not be done here.
        detail = (
            f"{type(err).__name__}: {str(err).splitlines()[0].split('. ')[0]}"
            if str(err)
            else type(err).__name__
        )
        raise error(f"{path}: not readable as {what} with torch.load(weights_only=True) ({detail})") from None
