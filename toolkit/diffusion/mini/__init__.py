"""The ``mini`` model: Stable Diffusion 1.5's architecture, scaled down and trained on mannequins, with
its OpenPose ControlNet. Training code only: ``training/base_model.py`` and ``training/controlnet.py``
drive it; see docs/mini-model.md."""
