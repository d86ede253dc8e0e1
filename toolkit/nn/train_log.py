"""Training logs, shared by the baseline loop (:func:`toolkit.nn.trainer.train`) and the DreamBooth
trainer: TensorBoard when installed, else a CSV file. Every logger has ``write(step, seconds, values)``,
``image(tag, image, step)`` and ``close()``."""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np


class CsvLog:
    """``<folder>/losses.csv``: step, seconds, then one column per value (fixed by the first row). On
    resume, rows after the resumed step (logged after the checkpoint by the killed run) are dropped. Images
    are not logged: the trainers save their grids as files anyway."""

    def __init__(self, folder: Path, start: int) -> None:
        self.path = folder / "losses.csv"
        self.columns: list[str] | None = None
        rows: list[list[str]] = []
        if start > 0 and self.path.exists():
            with self.path.open(newline="") as handle:
                reader = csv.reader(handle)
                self.columns = next(reader, None)
                rows = [row for row in reader if row and int(row[0]) <= start]
        folder.mkdir(parents=True, exist_ok=True)
        self.handle = self.path.open("w", newline="")
        self.writer = csv.writer(self.handle)
        if self.columns:
            self.writer.writerows([self.columns, *rows])

    def write(self, step: int, seconds: float, losses: Mapping[str, float]) -> None:
        if self.columns is None:
            self.columns = ["step", "seconds", *losses]
            self.writer.writerow(self.columns)
        self.writer.writerow(
            [step, f"{seconds:.3f}", *(f"{losses.get(k, float('nan')):.6g}" for k in self.columns[2:])]
        )
        self.handle.flush()

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        """Nothing: a CSV holds numbers only."""

    def close(self) -> None:
        self.handle.close()


class TensorBoardLog:
    """Scalars (``loss/<name>``) and ``(H, W, 3)`` uint8 images as TensorBoard events; on resume, events
    after the resumed step are purged."""

    def __init__(self, folder: Path, start: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(folder), purge_step=start + 1 if start else None)

    def write(self, step: int, seconds: float, losses: Mapping[str, float]) -> None:
        for key, value in losses.items():
            self.writer.add_scalar(f"loss/{key}", value, step)

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        self.writer.add_image(tag, image, step, dataformats="HWC")

    def close(self) -> None:
        self.writer.close()


LOGGERS: dict[str, Callable[[Path, int], Any]] = {"tensorboard": TensorBoardLog, "csv": CsvLog}


def open_logger(folder: Path, name: str, start: int) -> Any:
    """The logger ``name`` (a key of ``LOGGERS``, or ``"auto"``: TensorBoard when it is installed, else CSV)
    writing into ``folder``, continuing after step ``start``; asking for TensorBoard without the package
    raises ``ImportError`` with the install command."""
    installed = importlib.util.find_spec("tensorboard") is not None
    if name == "auto":
        name = "tensorboard" if installed else "csv"
    if name == "tensorboard" and not installed:
        raise ImportError("TensorBoard logging needs the tensorboard package: pip install tensorboard")
    return LOGGERS[name](folder, start)
