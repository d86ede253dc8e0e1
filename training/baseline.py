"""Train a GAN baseline on one subject's frames; see toolkit/commands/train_baseline.py and docs/baselines.md.

    accelerate launch training/baseline.py --method pix2pix-pose2pics --data data/mannequins \\
        --subject 0 --output runs/p2p --set size=128 --steps 2000
"""

from __future__ import annotations

import sys

from toolkit.commands.train_baseline import main

if __name__ == "__main__":
    sys.exit(main())
