"""Shared self-attention: every frame's self-attention also attends to other images' keys and values.

Two sources of extra keys and values, alone or together, through one attention processor:

- **the anchor frame** (slot 0 of every pipeline call), in the spirit of Text2Video-Zero's cross-frame
  attention: appearance is copied from the anchor while each frame keeps its own structure and pose
  (selected by ``toolkit.diffusion.consistency.CONSISTENCY``);
- **reference images**, as in "reference-only" ControlNet (and, trained, Animate Anyone's ReferenceNet):
  the tokens a UNet pass over the noised reference latents recorded in a :class:`ReferenceBank` at the
  same timestep (see :mod:`toolkit.diffusion.reference`, which runs that pass).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from diffusers import UNet2DConditionModel
    from diffusers.models.attention_processor import Attention


def _with_anchor(tokens: torch.Tensor, call_size: int) -> torch.Tensor:
    """``(N, L, C)`` tokens of N = G * call_size frames (G = 2 with classifier-free guidance: the
    unconditional and conditional halves) -> ``(N, 2L, C)``: each frame's own tokens followed by those of
    the anchor (slot 0) of its group."""
    n, length, channels = tokens.shape
    grouped = tokens.view(n // call_size, call_size, length, channels)  # (G, B, L, C)
    anchor = grouped[:, :1].expand(-1, call_size, -1, -1)
    return torch.cat([grouped, anchor], dim=2).view(n, 2 * length, channels)


@dataclass
class ReferenceBank:
    """Self-attention inputs recorded from a UNet pass over reference images, per layer.

    While ``recording`` is set, each shared layer stores its input tokens ``(G * R, L, C)`` (R reference
    images for each of the G = ``groups`` guidance groups) as ``(G, R * L, C)`` and attends as usual;
    otherwise every frame of group g also attends to group g's stored tokens.

    Args:
        fidelity: How much the unconditional guidance group (the first of two) ignores the references, in
            [0, 1], as ``style_fidelity`` in diffusers' reference-only pipelines: 0 lets both groups see
            them; 1 keeps the unconditional group plain, so guidance pushes towards the references.
    """

    fidelity: float = 0.5
    recording: bool = False
    groups: int = 1
    tokens: dict[str, torch.Tensor] = field(default_factory=dict)

    def record(self, layer: str, hidden_states: torch.Tensor) -> None:
        """Store ``(G * R, L, C)`` tokens of ``layer`` as ``(G, R * L, C)``, G being ``groups``."""
        n, length, channels = hidden_states.shape
        self.tokens[layer] = hidden_states.reshape(self.groups, (n // self.groups) * length, channels)

    def recorded(self, layer: str) -> torch.Tensor:
        """The ``(G, R * L, C)`` tokens of ``layer``; raises if the reference pass did not run."""
        try:
            return self.tokens[layer]
        except KeyError:
            raise RuntimeError(
                f"no reference tokens recorded for {layer}; run the reference pass first"
            ) from None


def _attend(attn: Attention, query_tokens: torch.Tensor, key_tokens: torch.Tensor) -> torch.Tensor:
    """Multi-head attention of ``(N, L, C)`` queries over ``(N, M, C)`` key/value tokens, with
    ``attn``'s projections (LoRA layers included); returns ``(N, L, C)`` before the output projection."""
    n, length, _ = query_tokens.shape
    query, key, value = attn.to_q(query_tokens), attn.to_k(key_tokens), attn.to_v(key_tokens)
    head_dim = key.shape[-1] // attn.heads
    query = query.view(n, length, attn.heads, head_dim).transpose(1, 2)  # (N, heads, L, d)
    key = key.view(n, -1, attn.heads, head_dim).transpose(1, 2)  # (N, heads, M, d)
    value = value.view(n, -1, attn.heads, head_dim).transpose(1, 2)
    if attn.norm_q is not None:
        query = attn.norm_q(query)
    if attn.norm_k is not None:
        key = attn.norm_k(key)
    out = F.scaled_dot_product_attention(query, key, value, scale=attn.scale)
    return out.transpose(1, 2).reshape(n, length, attn.heads * head_dim).to(query.dtype)


class SharedAttnProcessor:
    """Self-attention processor whose queries attend to their own frame's keys and values and to those of
    the anchor frame and/or the reference images. The anchor itself sees its own tokens twice, which leaves
    its attention unchanged.

    Args:
        layer: The layer's name in ``unet.attn_processors`` (the key of its reference tokens).
        call_size: Frames per pipeline call, anchor included; the batch the UNet sees is this times 1 or
            2 (classifier-free guidance), each group with its anchor, if any, in its first slot.
        anchor: Attend to the anchor frame of each group.
        bank: Attend to (or, while it records, record) the reference tokens; ``None`` for none.
    """

    def __init__(self, layer: str, call_size: int, anchor: bool, bank: ReferenceBank | None = None) -> None:
        self.layer, self.call_size, self.anchor, self.bank = layer, call_size, anchor, bank

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        if encoder_hidden_states is not None or attention_mask is not None or hidden_states.ndim != 3:
            raise ValueError("shared attention applies to unmasked self-attention on (N, L, C) tokens")
        residual = hidden_states
        bank = self.bank
        if bank is not None and bank.recording:
            bank.record(self.layer, hidden_states)
            out = _attend(attn, hidden_states, hidden_states)
        else:
            out = self._shared(attn, hidden_states)
        out = attn.to_out[1](attn.to_out[0](out))  # projection, dropout
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor

    def _shared(self, attn: Attention, hidden_states: torch.Tensor) -> torch.Tensor:
        """Attention of the frames over their own tokens plus the anchor's and the references'."""
        n = hidden_states.shape[0]
        if n % self.call_size:
            raise ValueError(f"shared attention expects a batch of multiples of {self.call_size}, got {n}")
        keys = _with_anchor(hidden_states, self.call_size) if self.anchor else hidden_states
        if self.bank is None:
            return _attend(attn, hidden_states, keys)
        references = self.bank.recorded(self.layer)  # (G, R*L, C)
        groups = n // self.call_size
        if references.shape[0] != groups:
            raise ValueError(f"reference tokens for {references.shape[0]} groups, frames in {groups}")
        per_frame = references.repeat_interleave(self.call_size, dim=0)  # (N, R*L, C)
        out = _attend(attn, hidden_states, torch.cat([keys, per_frame], dim=1))
        if groups == 2 and self.bank.fidelity > 0:  # the unconditional half partly ignores them
            half = self.call_size
            plain = _attend(attn, hidden_states[:half], keys[:half])
            out = torch.cat([torch.lerp(out[:half], plain, self.bank.fidelity), out[half:]])
        return out


@contextmanager
def shared_attention(
    unet: UNet2DConditionModel, call_size: int, *, anchor: bool, bank: ReferenceBank | None = None
) -> Iterator[None]:
    """Install :class:`SharedAttnProcessor` on every self-attention layer (``attn1``) of ``unet`` for the
    duration of the context; cross-attention to the text keeps its processor. Does nothing when there is
    neither an anchor nor a reference bank, so the UNet is exactly as it was."""
    if not anchor and bank is None:
        yield
        return
    saved = dict(unet.attn_processors)
    unet.set_attn_processor(
        {
            name: SharedAttnProcessor(name, call_size, anchor, bank) if ".attn1." in name else processor
            for name, processor in saved.items()
        }
    )
    try:
        yield
    finally:
        unet.set_attn_processor(saved)
