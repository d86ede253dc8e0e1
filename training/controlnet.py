"""Train a pose ControlNet on a frozen base model; see docs/mini-model.md.

    accelerate launch training/controlnet.py --base runs/mini/model --output runs/mini-openpose \
        --max-train-steps 50000
"""

from __future__ import annotations

import sys

from toolkit.diffusion.mini.cli import controlnet_main

if __name__ == "__main__":
    sys.exit(controlnet_main())
