"""Cross-frame attention: every frame's self-attention also attends to an anchor frame's keys and values.

In the spirit of Text2Video-Zero's cross-frame attention and of "reference-only" ControlNet: appearance is
copied from the anchor (slot 0 of every pipeline call) while each frame keeps its own structure and pose.
Selected by ``toolkit.diffusion.consistency.CONSISTENCY``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


class CrossFrameAttnProcessor:
    """Self-attention processor where each frame's queries attend to its own keys and values and to the
    anchor frame's. The anchor itself sees its own tokens twice, which leaves its attention unchanged.

    Args:
        call_size: Frames per pipeline call, anchor included; the batch the UNet sees is this times 1 or
            2 (classifier-free guidance), each group with its anchor in its first slot.
    """

    def __init__(self, call_size: int) -> None:
        self.call_size = call_size

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
            raise ValueError("cross-frame attention applies to unmasked self-attention on (N, L, C) tokens")
        n, length, _ = hidden_states.shape
        if n % self.call_size:
            raise ValueError(
                f"cross-frame attention expects a batch of multiples of {self.call_size}, got {n}"
            )
        residual = hidden_states
        # Projections are per token, so the anchor's keys and values are read from the projected batch.
        query = attn.to_q(hidden_states)
        key = _with_anchor(attn.to_k(hidden_states), self.call_size)  # (N, 2L, C)
        value = _with_anchor(attn.to_v(hidden_states), self.call_size)

        head_dim = key.shape[-1] // attn.heads
        query = query.view(n, length, attn.heads, head_dim).transpose(1, 2)  # (N, heads, L, d)
        key = key.view(n, 2 * length, attn.heads, head_dim).transpose(1, 2)  # (N, heads, 2L, d)
        value = value.view(n, 2 * length, attn.heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)
        out = F.scaled_dot_product_attention(query, key, value, scale=attn.scale)
        out = out.transpose(1, 2).reshape(n, length, attn.heads * head_dim).to(query.dtype)
        out = attn.to_out[1](attn.to_out[0](out))  # projection, dropout
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor


@contextmanager
def cross_frame_attention(unet: UNet2DConditionModel, call_size: int) -> Iterator[None]:
    """Install :class:`CrossFrameAttnProcessor` on every self-attention layer (``attn1``) of ``unet``
    for the duration of the context; cross-attention to the text keeps its processor."""
    saved = dict(unet.attn_processors)
    processor = CrossFrameAttnProcessor(call_size)
    unet.set_attn_processor({name: processor if ".attn1." in name else p for name, p in saved.items()})
    try:
        yield
    finally:
        unet.set_attn_processor(saved)
