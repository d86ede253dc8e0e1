"""Shared network blocks: feature backbones, U-Net parts, discriminators, losses, differentiable warping."""
