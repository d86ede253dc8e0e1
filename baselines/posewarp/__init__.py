"""posewarp (Balakrishnan et al., "Synthesizing Images of Humans in Unseen Poses", CVPR 2018).

One source image and its pose, and a target pose, go through four modules:

- A. **Source segmentation.** A U-Net on the source image (with the source pose maps joined at half
  resolution) predicts ``Delta M``; the layers are ``softmax(Delta M + log M_hat)`` over L + 1 channels, with
  ``M_hat`` the Gaussian limb-mask prior (``toolkit.pose.encode.posewarp_limb_masks``) and channel 0 the
  background (``1 - max`` of the limb priors).
- B. **Spatial transformation.** Each of the L foreground layers (its mask times the source image) is moved
  by its limb's similarity transform, fitted from the source joints to the target joints
  (``toolkit.nn.warp``).
- C. **Foreground synthesis.** A U-Net on the warped layers and the target pose maps gives the foreground
  ``y_fg`` (tanh) and the target mask ``M_t`` (sigmoid).
- D. **Background synthesis.** A U-Net on the background layer, its foreground pixels filled with Gaussian
  noise, the background mask and the source pose maps gives the background ``y_bg`` (tanh).

The output is ``y = M_t * y_fg + (1 - M_t) * y_bg``. Training pairs two frames of the subject; the loss is a
reconstruction term plus ``gan_weight`` (0.1, the paper's) times the adversarial loss of posewarp's
discriminator, which sees the image with both pose maps. The reconstruction is a VGG19 perceptual loss when
ImageNet weights are given (``vgg19_weights``), else L1, unless ``PosewarpConfig.reconstruction`` names
one; ``PosewarpConfig.reconstruction_loss`` is the one used.

Two layouts: ``posewarp`` works on posewarp's 14 MPII joints and 10 limbs (nine bones and the torso quad),
``posewarp-upper`` on 7 upper-body joints and 5 limbs (head to mid-shoulders, two bones per arm). Poses
arrive in BODY_18 and are converted with ``toolkit.pose``.

The package: ``model.py`` (settings and networks), ``data.py`` (inputs and training pairs), ``losses.py``
(reconstruction losses) and ``method.py`` (the methods).
"""

from __future__ import annotations

from .data import (
    Jitter,
    PairsDataset,
    PosewarpInputs,
    layout_keypoints,
    log_mask_prior,
    pose_maps,
    prepare_inputs,
)
from .losses import RECONSTRUCTION_LOSSES, VGG_LAYERS, PosewarpVGGLoss
from .method import Posewarp, PosewarpUpper
from .model import (
    JOINTS,
    WARP_LIMBS,
    PosewarpConfig,
    PosewarpDiscriminator,
    PosewarpGenerator,
    PosewarpOutput,
    PosewarpUNet,
)

__all__ = [
    "JOINTS",
    "RECONSTRUCTION_LOSSES",
    "VGG_LAYERS",
    "WARP_LIMBS",
    "Jitter",
    "PairsDataset",
    "Posewarp",
    "PosewarpConfig",
    "PosewarpDiscriminator",
    "PosewarpGenerator",
    "PosewarpInputs",
    "PosewarpOutput",
    "PosewarpUNet",
    "PosewarpUpper",
    "PosewarpVGGLoss",
    "layout_keypoints",
    "log_mask_prior",
    "pose_maps",
    "prepare_inputs",
]
