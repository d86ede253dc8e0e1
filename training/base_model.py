"""Train the mini Stable Diffusion model on procedural mannequins; see docs/mini-model.md.

accelerate launch training/base_model.py --stage vae --output runs/mini --max-train-steps 20000
accelerate launch training/base_model.py --stage unet --output runs/mini --max-train-steps 100000
"""

from __future__ import annotations

import sys

from toolkit.diffusion.mini.cli import base_main

if __name__ == "__main__":
    sys.exit(base_main())
