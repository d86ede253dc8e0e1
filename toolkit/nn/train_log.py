"""Training logs, shared by the baseline loop (:func:`toolkit.nn.trainer.train`) and the DreamBooth
trainer: TensorBoard when installed, else a CSV file, or Weights & Biases on request. Every logger has
``write(step, seconds, values)``, ``image(tag, image, step)`` and ``close()``."""

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


class WandbLog:
    """A Weights & Biases run in project ``pose-transfer-toolkit``, named after the run's folder, with an
    id derived from the folder's path, so a resumed run continues the same W&B run."""

    def __init__(self, folder: Path, start: int) -> None:
        import hashlib

        import wandb

        folder.mkdir(parents=True, exist_ok=True)
        run_id = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
        self.wandb = wandb
        self.run = wandb.init(
            project="pose-transfer-toolkit",
            name=folder.parent.name,
            id=run_id,
            dir=str(folder),
            resume="allow",
        )

    def write(self, step: int, seconds: float, losses: Mapping[str, float]) -> None:
        self.run.log(
            {f"loss/{key}": value for key, value in losses.items()} | {"seconds": seconds}, step=step
        )

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        self.run.log({tag: self.wandb.Image(image)}, step=step)

    def close(self) -> None:
        self.run.finish()


LOGGERS: dict[str, Callable[[Path, int], Any]] = {
    "tensorboard": TensorBoardLog,
    "csv": CsvLog,
    "wandb": WandbLog,
}
PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb"}  # logger -> the package it needs


def open_logger(folder: Path, name: str, start: int) -> Any:
    """The logger ``name`` (a key of ``LOGGERS``, or ``"auto"``: TensorBoard when it is installed, else CSV)
    writing into ``folder``, continuing after step ``start``; asking for TensorBoard or W&B without its
    package raises ``ImportError`` with the install command."""
    if name == "auto":
        name = "tensorboard" if importlib.util.find_spec("tensorboard") is not None else "csv"
    package = PACKAGES.get(name)
    if package is not None and importlib.util.find_spec(package) is None:
        raise ImportError(f"--report-to {name} needs the {package} package: pip install {package}")
    return LOGGERS[name](folder, start)
