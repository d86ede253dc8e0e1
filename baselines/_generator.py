"""What the methods whose weights are one generator network share: the trained-or-not check and
save/load.

A class using :class:`OneGenerator` keeps its network in ``self.generator`` (None until ``fit`` or
``load``), its settings dataclass in ``self.config``, is built from those settings (``cls(config)``) and
builds a fresh network with ``build_generator()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from torch import nn

from toolkit.errors import ToolkitError
from toolkit.nn.io import module_state, module_states, read_method, write_method

G = TypeVar("G", bound=nn.Module)
M = TypeVar("M", bound="OneGenerator")


class OneGenerator(Generic[G]):
    """Mixin: ``_generator()``, ``save`` (``model.safetensors`` with keys ``generator.*``, and
    ``config.json``) and ``load`` for a method with one generator network."""

    name: ClassVar[str]
    config: Any
    generator: G | None

    def build_generator(self) -> G:
        """A freshly initialised generator for ``self.config``."""
        raise NotImplementedError

    def saved_extra(self) -> dict[str, Any]:
        """More JSON-safe entries for ``config.json``; none by default."""
        return {}

    def _generator(self) -> G:
        if self.generator is None:
            raise ToolkitError(f"{self.name} has no trained generator: call fit(), or load() a saved one")
        return self.generator

    def save(self, directory: Path) -> None:
        """Write the generator (``model.safetensors``, keys ``generator.*``) and ``config.json``."""
        state = module_states({"generator": self._generator()})
        write_method(directory, self.name, self.config, state, extra=self.saved_extra())

    @classmethod
    def load(cls: type[M], directory: Path) -> M:
        """The method as :meth:`save` wrote it, its generator in eval mode."""
        record, tensors = read_method(directory, cls.name)
        method = cls(record["config"])  # type: ignore[call-arg]
        generator = method.build_generator()
        generator.load_state_dict(module_state(tensors, "generator"))
        method.generator = generator.eval()
        return method
