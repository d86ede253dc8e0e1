"""Train a subject with DreamBooth + LoRA, pose-aware; see docs/dreambooth.md.

    accelerate launch training/dreambooth.py --subject alice --instance-dir photos/ --token sks \
        --class-noun person --base stable-diffusion-v1-5/stable-diffusion-v1-5 \
        --controlnet lllyasviel/control_v11p_sd15_openpose --max-train-steps 800
"""

from __future__ import annotations

import sys

from toolkit.diffusion.dreambooth.cli import main

if __name__ == "__main__":
    sys.exit(main())
