"""Train the mini text-to-image model in two stages, as Stable Diffusion was: the VAE, then the UNet; and,
optionally, a third that sharpens the VAE's decoder afterwards.

1. ``vae``: ``AutoencoderKL`` on reconstruction (L1) plus a small KL term (weight 1e-6, SD's), then the
   latent scaling factor (1 / std of the latents, SD's 0.18215 recipe) is measured on training images and
   stored in its config. Written to ``OUTPUT/vae``.
2. ``unet``: ``UNet2DConditionModel`` on the epsilon-prediction loss, in the frozen VAE's latents, with a
   frozen CLIP text encoder (random: captions are short and of a small vocabulary, and freezing it keeps
   the model's text interface fixed for ControlNets and LoRAs trained later). 10% of captions are dropped
   to "" so classifier-free guidance works. Written to ``OUTPUT/model`` as a diffusers
   ``StableDiffusionPipeline`` folder.

3. ``decoder`` (optional, any time after ``vae``): the VAE's decoder alone is trained further on the same
   loss with the encoder frozen, as SD's improved ``ft-MSE`` decoders were. The latent space the UNet and
   every ControlNet learnt in stays bit for bit the same, so this can run after them, for as long as there
   is time, and only reconstructions change. Written to ``OUTPUT/vae`` and, once exported, the pipeline's
   ``OUTPUT/model/vae``.

The stages are separate rather than joint so that the UNet learns in a latent space that no longer moves.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from ...checks import lookup
from ...errors import ToolkitError
from ...manifest import write_manifest
from ..losses import denoising_loss
from ..tiny import SD_SCHEDULE
from .config import (
    MiniConfig,
    build_noise_scheduler,
    build_text_encoder,
    build_tokenizer,
    build_unet,
    build_vae,
)
from .data import MiniDataset
from .latents import LATENTS_DIR, encode_frames
from .loop import LoopOptions, train_stage

if TYPE_CHECKING:
    from accelerate import Accelerator

VAE_DIR = "vae"
MODEL_DIR = "model"
CONFIG_FILE = "mini_config.json"
KL_WEIGHT = 1e-6
FIGURE_WEIGHT = 10.0
CAPTION_DROPOUT = 0.1
SCALING_BATCHES = 4


class MiniTrainingError(ToolkitError):
    """A stage cannot run with what it was given."""


@dataclass(frozen=True)
class BaseRun:
    """One stage of a base-model run.

    Args:
        stage: ``"vae"``, ``"unet"`` or ``"decoder"``.
        config: The architecture.
        loop: Steps, batch size, learning rate, seed, checkpoints, logging.
        vae: For ``"unet"`` and ``"decoder"``: the trained VAE folder. Default ``loop.output / "vae"``.
        caption_dropout: Fraction of captions replaced by "" in the ``"unet"`` stage. Default 0.1.
        snr_gamma: Min-SNR loss weighting of the ``"unet"`` stage (5 is the paper's); None is plain MSE.
        figure_weight: Weight of the subject's pixels in the ``"vae"`` stage's L1 (see :class:`VAELoss`).
            Default 10.
        train_text_encoder: Train the CLIP text encoder's layers (not its token table) with the UNet in the
            ``"unet"`` stage, so that a caption's colours reach the UNet bound to their garments; it is
            frozen afterwards. Default True.
        half: Store every model of the exported folder in float16 (SD 1.5 runs in float16 on GPUs, its
            VAE included); load it with ``torch_dtype=torch.float32`` to run on a CPU. Default True.
    """

    stage: str
    config: MiniConfig
    loop: LoopOptions
    vae: Path | None = None
    caption_dropout: float = CAPTION_DROPOUT
    snr_gamma: float | None = None
    figure_weight: float = FIGURE_WEIGHT
    train_text_encoder: bool = True
    half: bool = True


def _sample(mean: torch.Tensor, std: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A draw from the diagonal Gaussian posterior ``N(mean, std^2)``, noise from the CPU ``generator``."""
    noise = torch.randn(mean.shape, generator=generator).to(mean.device, mean.dtype)
    return mean + std * noise


def _posterior_sample(vae: Any, pixels: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, Any]:
    posterior = vae.encode(pixels).latent_dist
    return _sample(posterior.mean, posterior.std, generator), posterior


@dataclass(frozen=True)
class VAELoss:
    """L1 reconstruction of a posterior sample, weighted towards the subject, plus ``KL_WEIGHT`` times the
    KL to N(0, 1).

    About 85% of a mannequin frame is plain backdrop, which any autoencoder learns in a few steps; what
    must survive is the figure's colours and patterns. So each pixel's L1 counts ``figure_weight`` times
    on the subject (its known foreground grown by one pixel, to take in the anti-aliased outline) and once
    elsewhere, normalised by the mean weight so the loss stays an L1 in [-1, 1] units. Frames whose
    foreground is unknown are weighted uniformly.

    Args:
        figure_weight: Weight of a figure pixel against a backdrop pixel. Default 10; 1 is plain L1.
    """

    figure_weight: float = FIGURE_WEIGHT

    def __call__(
        self, vae: Any, batch: dict[str, Any], generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        pixels = batch["pixel_values"]  # (B, 3, H, W) in [-1, 1]
        latents, posterior = _posterior_sample(vae, pixels, generator)
        reconstruction = vae.decode(latents).sample
        error = (reconstruction.float() - pixels.float()).abs()  # (B, 3, H, W)
        figure = F.max_pool2d(batch["figure"].float(), 3, stride=1, padding=1)  # (B, 1, H, W)
        weight = 1 + (self.figure_weight - 1) * figure
        l1 = (error * weight).mean() / weight.mean()
        kl = posterior.kl().mean()  # summed over latent elements, as SD's weight of 1e-6 assumes
        # SD sums its reconstruction loss over pixels; with a per-pixel mean the KL weight is divided alike.
        losses = {"loss": l1 + KL_WEIGHT * kl / pixels[0].numel(), "l1": error.mean().detach()}
        return losses | {"figure_l1": _masked_mean(error, figure), "kl": kl.detach()}


def _masked_mean(error: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``error`` ``(B, C, H, W)`` where ``mask`` ``(B, 1, H, W)`` is 1 (0 when it is nowhere)."""
    covered = mask.expand_as(error)
    return ((error * covered).sum() / covered.sum().clamp(min=1)).detach()


@torch.no_grad()
def measure_scaling_factor(vae: Any, dataset: MiniDataset, batches: int, batch_size: int, seed: int) -> float:
    """1 / std of posterior samples of ``batches`` random batches: the factor that gives the UNet
    unit-variance latents (SD 1.5's 0.18215 was measured this way)."""
    generator = torch.Generator().manual_seed(seed)
    device = next(vae.parameters()).device
    samples = []
    for _ in range(batches):
        indices = torch.randint(len(dataset), (batch_size,), generator=generator).tolist()
        pixels = torch.stack([dataset[i]["pixel_values"] for i in indices]).to(device)
        samples.append(_posterior_sample(vae, pixels, generator)[0].float().cpu())
    return float(1.0 / torch.cat(samples).std())


class CaptionedUNet(torch.nn.Module):
    """The UNet and the text encoder whose embeddings it reads, as one module: the UNet stage trains it
    (the text encoder too, unless it is frozen), and its ``forward`` is the one call ``accelerate``'s
    wrappers see, so gradients of both are synchronised across processes."""

    def __init__(self, unet: Any, text_encoder: Any) -> None:
        super().__init__()
        self.unet, self.text_encoder = unet, text_encoder

    def forward(self, sample: torch.Tensor, timesteps: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        """Predicted noise ``(B, C, h, w)`` of noisy latents ``sample`` at ``timesteps`` ``(B,)`` under the
        captions tokenised as ``input_ids`` ``(B, 77)``."""
        text = self.text_encoder(input_ids)[0]  # (B, 77, text_width)
        return self.unet(sample, timesteps, encoder_hidden_states=text).sample

    def save_pretrained(self, folder: Path) -> None:
        """Both models in diffusers/transformers folders, ``unet/`` and ``text_encoder/``."""
        self.unet.save_pretrained(Path(folder) / "unet")
        self.text_encoder.save_pretrained(Path(folder) / "text_encoder")


class UNetLoss:
    """Epsilon-prediction loss in the frozen ``vae``'s latents, of a UNet conditioned on the (sometimes
    dropped) captions. A ControlNet stage subclasses it."""

    def __init__(
        self,
        vae: Any,
        tokenizer: Any,
        caption_dropout: float,
        snr_gamma: float | None = None,
        prediction_type: str = "epsilon",
    ) -> None:
        self.vae, self.tokenizer = vae, tokenizer
        self.noise_scheduler = build_noise_scheduler(prediction_type)
        self.caption_dropout = caption_dropout
        self.snr_gamma = snr_gamma

    @torch.no_grad()
    def inputs(self, batch: dict[str, Any], generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """``(noisy latents, timesteps, caption token ids, target)`` for a batch of ``"pixel_values"`` or
        of encoded frames (``"latent_mean"`` and ``"latent_std"``); the target is the noise, or the
        velocity ``sqrt(a) noise - sqrt(1 - a) latents`` for v-prediction."""
        if "latent_mean" in batch:  # encoded once (see latents.py)
            latents = _sample(batch["latent_mean"], batch["latent_std"], generator)
        else:
            latents = _posterior_sample(self.vae, batch["pixel_values"], generator)[0]
        latents = latents * self.vae.config.scaling_factor
        dropped = torch.rand(len(batch["caption"]), generator=generator) < self.caption_dropout
        captions = [
            "" if drop else caption for drop, caption in zip(dropped.tolist(), batch["caption"], strict=True)
        ]
        ids = self.tokenizer(
            captions, padding="max_length", max_length=self.tokenizer.model_max_length, truncation=True,
            return_tensors="pt",
        ).input_ids.to(latents.device)  # fmt: skip
        noise = torch.randn(latents.shape, generator=generator).to(latents.device, latents.dtype)
        steps = self.noise_scheduler.config.num_train_timesteps
        timesteps = torch.randint(steps, (len(latents),), generator=generator).to(latents.device)
        noisy = self.noise_scheduler.add_noise(latents, noise, timesteps)
        if self.noise_scheduler.config.prediction_type == "v_prediction":
            return noisy, timesteps, ids, self.noise_scheduler.get_velocity(latents, noise, timesteps)
        return noisy, timesteps, ids, noise

    def __call__(
        self, model: CaptionedUNet, batch: dict[str, Any], generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        noisy, timesteps, ids, target = self.inputs(batch, generator)
        return self.loss(model(noisy, timesteps, ids), target, timesteps)

    def loss(
        self, prediction: torch.Tensor, target: torch.Tensor, timesteps: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """``{"loss": ...}``: the (Min-SNR weighted, with ``snr_gamma``) error of the prediction."""
        return {"loss": denoising_loss(prediction, target, timesteps, self.noise_scheduler, self.snr_gamma)}


def _seeded_build(seed: int, build: Any, *args: Any) -> Any:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(*args)


def train_vae(run: BaseRun, dataset: MiniDataset, accelerator: Accelerator) -> Path:
    """Stage 1: train the VAE, store its latent scaling factor, save it to ``output/vae``; returns it."""
    vae = _seeded_build(run.loop.seed, build_vae, run.config)
    train_stage("vae", vae, dataset, VAELoss(run.figure_weight), run.loop, accelerator)
    vae = accelerator.unwrap_model(vae)
    folder = run.loop.output / VAE_DIR
    if accelerator.is_main_process:
        scale = measure_scaling_factor(vae, dataset, SCALING_BATCHES, run.loop.batch_size, run.loop.seed)
        vae.register_to_config(scaling_factor=scale)
        vae.save_pretrained(folder, safe_serialization=True)
    accelerator.wait_for_everyone()
    return folder


def load_trained_vae(folder: Path) -> Any:
    """The stage-1 VAE from ``folder``; a one-line :class:`MiniTrainingError` when it is not there."""
    from diffusers import AutoencoderKL

    if not (folder / "config.json").is_file():
        raise MiniTrainingError(
            f"no trained VAE at {folder}; run --stage vae first with the same --output, or pass --vae DIR"
        )
    return AutoencoderKL.from_pretrained(folder)


def train_unet(run: BaseRun, dataset: MiniDataset, accelerator: Accelerator) -> Path:
    """Stage 2: train the UNet (and, with ``run.train_text_encoder``, the text encoder) on the frozen VAE,
    export the pipeline to ``output/model``; returns that folder."""
    vae = load_trained_vae(run.vae or run.loop.output / VAE_DIR).to(accelerator.device).requires_grad_(False)
    tokenizer = build_tokenizer()
    # Seeded apart from the UNet, so that a frozen text encoder is the same random network for every run
    # of a given seed.
    text_encoder = _seeded_build(run.loop.seed + 1, build_text_encoder, run.config, tokenizer)
    text_encoder.requires_grad_(run.train_text_encoder)
    # Its token table stays random: the 49,408 rows are most of the encoder, a dense AdamW update of them
    # costs 40% of a step, and random rows already tell every word apart. What the layers above learn is
    # what the words mean together: which colour belongs to the shirt and which to the shorts.
    text_encoder.get_input_embeddings().requires_grad_(False)
    model = CaptionedUNet(_seeded_build(run.loop.seed, build_unet, run.config), text_encoder)
    loss = UNetLoss(vae, tokenizer, run.caption_dropout, run.snr_gamma, run.config.prediction_type)
    encoded = encode_frames(dataset, vae, run.loop.output / LATENTS_DIR, progress=run.loop.progress)
    train_stage("unet", model.to(accelerator.device), encoded, loss, run.loop, accelerator)
    folder = run.loop.output / MODEL_DIR
    if accelerator.is_main_process:
        trained = accelerator.unwrap_model(model)
        export_pipeline(folder, vae, trained.text_encoder, tokenizer, trained.unet, run)
    accelerator.wait_for_everyone()
    return folder


def export_copy(model: torch.nn.Module, half: bool) -> torch.nn.Module:
    """A CPU copy of ``model`` to save, in float16 with ``half`` (as SD 1.5 ships) or float32; ``model``
    itself keeps training on its device and dtype."""
    return copy.deepcopy(model).to("cpu", torch.float16 if half else torch.float32)


def train_decoder(run: BaseRun, dataset: MiniDataset, accelerator: Accelerator) -> Path:
    """Stage 3: fine-tune the trained VAE's decoder with its encoder frozen; save it to ``output/vae`` and,
    when the pipeline was exported, to ``output/model/vae`` (float16 with ``run.half``). Returns
    ``output/vae``."""
    vae = load_trained_vae(run.vae or run.loop.output / VAE_DIR)
    for frozen in (vae.encoder, vae.quant_conv):
        if frozen is not None:
            frozen.requires_grad_(False)
    train_stage("decoder", vae, dataset, VAELoss(run.figure_weight), run.loop, accelerator)
    vae = accelerator.unwrap_model(vae)
    folder = run.loop.output / VAE_DIR
    if accelerator.is_main_process:
        vae.save_pretrained(folder, safe_serialization=True)
        exported = run.loop.output / MODEL_DIR / VAE_DIR
        if exported.is_dir():
            export_copy(vae, run.half).save_pretrained(exported, safe_serialization=True)
    accelerator.wait_for_everyone()
    return folder


def export_pipeline(
    folder: Path, vae: Any, text_encoder: Any, tokenizer: Any, unet: Any, run: BaseRun
) -> None:
    """Save a ``StableDiffusionPipeline`` folder (safetensors, float16 with ``run.half``) and the mini
    config beside it, as ``mini_config.json``."""
    from diffusers import StableDiffusionPipeline, UniPCMultistepScheduler

    pipe = StableDiffusionPipeline(
        vae=export_copy(vae, run.half),
        text_encoder=export_copy(text_encoder, run.half),
        tokenizer=tokenizer,
        unet=export_copy(unet, run.half),
        scheduler=UniPCMultistepScheduler(  # SD 1.5 samples steps 1..999
            **{**SD_SCHEDULE, "prediction_type": run.config.prediction_type}, steps_offset=1
        ),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    (folder / CONFIG_FILE).write_text(json.dumps(run.config.to_dict(), indent=2) + "\n")


STAGES = {"vae": train_vae, "unet": train_unet, "decoder": train_decoder}


def train_base(run: BaseRun, dataset: MiniDataset, accelerator: Accelerator) -> Path:
    """Run ``run.stage`` (a key of :data:`STAGES`) and write ``output/manifest.json``; returns the folder
    the stage wrote (``output/vae`` or ``output/model``)."""
    stage = lookup(STAGES, run.stage, "stage", MiniTrainingError)
    began = time.perf_counter()
    folder = stage(run, dataset, accelerator)
    if accelerator.is_main_process:
        options = {"stage": run.stage, "config": run.config.to_dict(), "steps": run.loop.steps}
        options |= {"batch_size": run.loop.batch_size, "learning_rate": run.loop.learning_rate}
        write_manifest(
            run.loop.output,
            seed=run.loop.seed,
            options=options,
            timings={run.stage: time.perf_counter() - began},
            outputs={run.stage: str(folder)},
        )
    return folder


def with_resolution(config: MiniConfig, resolution: int | None) -> MiniConfig:
    """``config`` trained at ``resolution`` instead (None keeps it)."""
    return config if resolution is None else replace(config, resolution=resolution)
