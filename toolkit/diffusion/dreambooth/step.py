"""One optimisation micro-step: encode the photos to latents, noise them, predict the noise with the UNet
(plus the frozen ControlNet's residuals for posed photos) and weigh the error.

Every random draw of an example comes from a generator seeded by ``(seed, micro_step, slot)``, its place
in the micro-step's global batch (class examples after all instance examples), so the step's noise and
timesteps follow from its number alone, and N processes of batch B train exactly as one of batch N*B.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from ...train.sampling import BatchPlan, seeded
from ..losses import denoising_loss
from .config import DreamBoothConfig
from .data import ExampleSet
from .lora import trainable_parameters
from .models import Models

if TYPE_CHECKING:
    from accelerate import Accelerator


def encode_prompt(text_encoder: Any, tokenizer: Any, prompt: str, device: torch.device) -> torch.Tensor:
    """``(1, 77, D)`` embeddings of ``prompt``, padded to the tokenizer's maximum length, on ``device``
    (gradients flow when the encoder has a LoRA and grad mode is on)."""
    ids = tokenizer(
        prompt,
        padding="max_length",
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids
    return text_encoder(ids.to(device), return_dict=False)[0]


def example_generators(seed: int, micro_step: int, slots: Iterable[int]) -> list[torch.Generator]:
    """One CPU generator per example, for its posterior sample, noise and timestep."""
    return [
        torch.Generator("cpu").manual_seed(int(seeded(seed, micro_step, slot, 2).integers(2**62)))
        for slot in slots
    ]


class Trainer:
    """One run's examples, prompts and models: :meth:`step` is one optimisation step, :meth:`micro_step`
    one forward pass.

    Args:
        config: The run's settings.
        models: The prepared models (adapters added, ``accelerate``-wrapped where trained).
        accelerator: The run's ``Accelerator``: device and process index.
        instances: The instance examples.
        classes: The class examples with prior preservation, else ``None``.
        prompts: ``(instance prompt, class prompt)``; encoded once here unless the text encoder trains.
    """

    def __init__(
        self,
        config: DreamBoothConfig,
        models: Models,
        accelerator: Accelerator,
        instances: ExampleSet,
        classes: ExampleSet | None,
        prompts: tuple[str, str],
    ) -> None:
        self.config, self.models, self.accelerator = config, models, accelerator
        self.instances, self.classes, self.prompts = instances, classes, prompts
        self.device = accelerator.device
        # As accelerate wraps them: ``accumulate`` and ``train()``/``eval()`` need the wrapped modules.
        self.trained = [models.unet] + ([models.text_encoder] if config.train_text_encoder else [])
        self.params = trainable_parameters(*self.trained)
        self.text_embeds: tuple[torch.Tensor, torch.Tensor] | None = None
        if not config.train_text_encoder:
            with torch.no_grad():
                self.text_embeds = self.encode_prompts()

    def unwrapped(self) -> tuple[Any, Any | None]:
        """The UNet and the text encoder (``None`` unless it trains) without accelerate's wrappers."""
        unwrap = self.accelerator.unwrap_model
        text_encoder = unwrap(self.models.text_encoder) if self.config.train_text_encoder else None
        return unwrap(self.models.unet), text_encoder

    def step(self, plan: BatchPlan, step: int, seed: int, optimizer: Any, lr_scheduler: Any) -> float:
        """Optimisation step ``step`` (0-based): ``gradient_accumulation_steps`` micro-steps, each
        backpropagated; at the last, gradients are clipped to ``max_grad_norm`` and the
        ``accelerate``-prepared ``optimizer`` and ``lr_scheduler`` step (they skip the other micro-steps).
        Returns this process's mean loss over the micro-steps."""
        accelerator, accumulation = self.accelerator, self.config.gradient_accumulation_steps
        losses = []
        for micro in range(accumulation):
            with accelerator.accumulate(*self.trained):
                loss = self.micro_step(plan, step * accumulation + micro, seed)
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(self.params, self.config.max_grad_norm)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
            losses.append(float(loss.detach()))
        return float(np.mean(losses))

    def encode_prompts(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(1, 77, D)`` embeddings of the instance and of the class prompt."""
        m = self.models
        return tuple(encode_prompt(m.text_encoder, m.tokenizer, p, self.device) for p in self.prompts)  # type: ignore[return-value]

    def micro_step(self, plan: BatchPlan, micro_step: int, seed: int) -> torch.Tensor:
        """Scalar loss of micro-step ``micro_step`` of ``plan`` on this process: the ``B`` instance
        examples, then with prior preservation ``B`` class examples (the same indices modulo their count),
        whose MSE adds with weight ``prior_loss_weight``. Gradients flow to the adapters."""
        config, m = self.config, self.models
        process = self.accelerator.process_index
        slots = list(plan.slots(process))
        if self.classes is not None:
            slots += [plan.global_batch + slot for slot in plan.slots(process)]
        generators = example_generators(seed, micro_step, slots)
        indices, flips = plan.indices(micro_step, process)
        pixels, controls, posed = self.instances.batch(indices % len(self.instances), flips)
        count = len(indices)
        if self.classes is not None:
            class_pixels, _, _ = self.classes.batch(indices % len(self.classes), flips)
            pixels = torch.cat([pixels, class_pixels])
        pixels = pixels.to(self.device, m.weight_dtype)
        with torch.no_grad():
            latents = (
                m.vae.encode(pixels).latent_dist.sample(generator=generators) * m.vae.config.scaling_factor
            )
        from diffusers.utils.torch_utils import randn_tensor

        noise = randn_tensor(latents.shape, generator=generators, device=self.device, dtype=latents.dtype)
        steps = m.noise_scheduler.config.num_train_timesteps
        timesteps = torch.cat([torch.randint(0, steps, (1,), generator=g) for g in generators]).to(
            self.device
        )
        noisy = m.noise_scheduler.add_noise(latents, noise, timesteps)

        instance_embeds, class_embeds = self.text_embeds or self.encode_prompts()
        embeds = [instance_embeds.expand(count, -1, -1)]
        if self.classes is not None:
            embeds.append(class_embeds.expand(count, -1, -1))
        hidden = torch.cat(embeds).to(m.weight_dtype)

        residuals: dict[str, Any] = {}
        if config.pose_conditioning and bool(posed.any()):
            residuals = self.controlnet_residuals(
                noisy[:count], timesteps[:count], hidden[:count], controls, posed
            )
        pred = m.unet(noisy, timesteps, hidden, return_dict=False, **residuals)[0]
        if m.noise_scheduler.config.prediction_type == "v_prediction":
            target = m.noise_scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        loss = denoising_loss(
            pred[:count], target[:count], timesteps[:count], m.noise_scheduler, config.snr_gamma
        )
        if self.classes is not None:
            prior = F.mse_loss(pred[count:].float(), target[count:].float(), reduction="mean")
            loss = loss + config.prior_loss_weight * prior
        return loss

    def controlnet_residuals(
        self,
        noisy: torch.Tensor,
        timesteps: torch.Tensor,
        hidden: torch.Tensor,
        controls: torch.Tensor,
        posed: torch.Tensor,
    ) -> dict[str, Any]:
        """The frozen ControlNet's residuals for the ``B`` instance examples (noisy latents ``(B, C, h, w)``,
        timesteps ``(B,)``, text embeddings ``(B, 77, D)``, skeleton images ``(B, 3, R, R)``), zero for
        examples where ``posed`` ``(B,)`` is false and, with prior preservation, for the ``B`` class
        examples appended after them. Returns the UNet's ``down_block_additional_residuals`` and
        ``mid_block_additional_residual`` keyword arguments."""
        m = self.models
        with torch.no_grad():
            down, mid = m.controlnet(
                noisy,
                timesteps,
                encoder_hidden_states=hidden,
                controlnet_cond=controls.to(self.device, m.weight_dtype),
                conditioning_scale=self.config.controlnet_scale,
                return_dict=False,
            )
        mask = posed.to(self.device, m.weight_dtype).view(-1, 1, 1, 1)
        pad = 0 if self.classes is None else len(noisy)

        def masked(residual: torch.Tensor) -> torch.Tensor:
            residual = residual * mask
            return torch.cat([residual, residual.new_zeros((pad, *residual.shape[1:]))]) if pad else residual

        return {
            "down_block_additional_residuals": [masked(r) for r in down],
            "mid_block_additional_residual": masked(mid),
        }
