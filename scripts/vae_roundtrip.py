"""How much of a mannequin survives a VAE's round trip: encode, decode, compare with the render.

    python scripts/vae_roundtrip.py v1=old/vae v2=runs/mini2/vae [--subjects 40] [--image strip.png]

Each VAE (a diffusers ``AutoencoderKL`` folder, or ``mini`` for the packaged model's) encodes and decodes
``--subjects`` held-out mannequins (``MannequinSpec.sample(first_seed + i)``, each in one frame of one of the
seven motions). Reported per VAE, as a markdown table:

- the mean absolute error in grey levels on the figure (the renderer's exact mask) and over the whole frame;
- ``part_color_error``: CIEDE2000 between the reconstructed and the true colour of each material region
  (skin, hair, shirt, trousers, shoes), from the evaluation harness;
- the same error region by region.

The default seeds (300 onwards) are in no benchmark, demo or training set of the toolkit. ``--image``
writes the first 8 frames, truth on top and each VAE's reconstruction below.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL

from toolkit.data.mannequin import MannequinSpec, render_mannequin
from toolkit.data.media import write_image
from toolkit.diffusion.loading import MINI, mini_folder
from toolkit.eval.metrics import MetricInputs, build_metric
from toolkit.pose.motions import list_motions, make_motion


def held_out_frames(subjects: int, first_seed: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, S, S, 3)`` uint8 renders, ``(N, S, S)`` bool masks and ``(N, S, S)`` uint8 material labels."""
    motions = list_motions()
    frames = []
    for i in range(subjects):
        spec = MannequinSpec.sample(first_seed + i)
        poses = make_motion(
            motions[i % len(motions)], 48, 24.0, size, size, proportions=spec.proportions, seed=i
        )
        t = (7 * i) % len(poses)
        depth = None if poses.depth is None else poses.depth[t]
        frames.append(render_mannequin(spec, poses.keypoints[t], depth, size, size))
    return (
        np.stack([f.image for f in frames]),
        np.stack([f.mask for f in frames]),
        np.stack([f.materials for f in frames]),
    )


def load_vae(spec: str) -> AutoencoderKL:
    """An ``AutoencoderKL`` in float32 from a folder, or the packaged ``mini`` model's."""
    folder = mini_folder("base") / "vae" if spec == MINI else Path(spec)
    return AutoencoderKL.from_pretrained(folder, torch_dtype=torch.float32).eval()


@torch.no_grad()
def round_trip(vae: AutoencoderKL, images: np.ndarray, batch: int = 16) -> np.ndarray:
    """``images`` ``(N, H, W, 3)`` uint8 through ``vae`` (posterior mean) and back, as uint8."""
    out = []
    for start in range(0, len(images), batch):
        x = torch.from_numpy(images[start : start + batch]).permute(0, 3, 1, 2).float() / 127.5 - 1
        y = vae.decode(vae.encode(x).latent_dist.mean).sample
        out.append(((y.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy())
    return np.concatenate(out)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("vaes", nargs="+", help="LABEL=FOLDER (or LABEL=mini) of each VAE to measure")
    parser.add_argument("--subjects", type=int, default=40, help="held-out mannequins (default 40)")
    parser.add_argument("--first-seed", type=int, default=300, help="seed of the first (default 300)")
    parser.add_argument("--size", type=int, default=128, help="frame side in pixels (default 128)")
    parser.add_argument("--image", type=Path, help="write truth and reconstructions of 8 frames here")
    args = parser.parse_args()

    images, masks, materials = held_out_frames(args.subjects, args.first_seed, args.size)
    metric = build_metric("part_color_error")
    rows, strips = [], [np.concatenate(images[:8], axis=1)]
    for item in args.vaes:
        label, _, folder = item.partition("=")
        decoded = round_trip(load_vae(folder or label), images)
        error = np.abs(decoded.astype(np.int16) - images).mean(-1)  # (N, H, W) grey levels
        color = metric.compute(MetricInputs(decoded, images, materials=materials))
        regions = " | ".join(f"{v:.2f}" if v is not None else "-" for v in color.details["regions"].values())
        rows.append(
            f"| {label} | {error[masks].mean():.2f} | {error.mean():.2f} | {color.value:.2f} | {regions} |"
        )
        strips.append(np.concatenate(decoded[:8], axis=1))
    names = " | ".join(metric.regions)
    last = args.first_seed + args.subjects - 1
    print(f"{args.subjects} held-out mannequins (seeds {args.first_seed}-{last}), {args.size} px\n")
    print(f"| VAE | figure MAE | frame MAE | part colour error | {names} |")
    print("|---|---|---|---|" + "---|" * len(metric.regions))
    print("\n".join(rows))
    if args.image:
        write_image(args.image, np.concatenate(strips, axis=0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
