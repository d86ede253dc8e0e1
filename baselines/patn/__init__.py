"""PATN (Zhu et al., "Progressive Pose Attention Transfer for Person Image Generation", CVPR 2019): a source
image and a pair of poses in, the source person in the target pose out.

The generator has two streams, each a ResNet encoder (7x7 convolution, two stride-2 convolutions, ``ngf`` =
64 -> 256 channels): the image stream on the source image (3 channels), the pose stream on the source and
target heatmaps (2 x 18 channels). ``blocks`` (9) Pose-Attentional Transfer Blocks follow; block t computes

- ``a_t = conv_branch(pose_t)`` (two 3x3 convolutions, the last one without norm) and the attention
  ``sigmoid(a_t)``;
- ``image_{t+1} = image_t + conv_branch(image_t) * sigmoid(a_t)``;
- ``pose_{t+1} = concat(a_t, image_{t+1})``, so from the second block on the pose stream has 2 x 256
  channels.

A ResNet decoder (two transposed convolutions, a 7x7 convolution, tanh) renders the image stream. Two
ResNet discriminators (an encoder plus ``disc_blocks`` = 3 residual blocks, no 1-channel head: every one
of their 256 output maps is a logit map) judge appearance consistency (D_PP: generated or real target
image with the source image) and shape consistency (D_PB: the image with the target heatmaps).

The losses are the original's: ``l1_weight`` x L1, ``perceptual_weight`` x L1 between VGG19 relu1_2
features, and ``gan_weight`` (5) x the mean of the two generator GAN losses; each discriminator's loss is
``gan_weight`` x half the sum of its real and fake terms. The generator is updated first, then D_PP, then
D_PB, each with Adam (2e-4, beta1 0.5); the learning rate is held for 500 of the original's 700 epochs,
then decays linearly (``decay_from`` = 5/7). ``PatnConfig.preset(dataset)`` (or ``dataset`` in a settings
mapping, ``--set dataset=deepfashion``) picks the original's per-dataset settings (:data:`DATASET_PRESETS`);
the defaults are Market-1501's at 128x64 with batch norm, vanilla GAN and weights 10/10;
DeepFashion at 256x176 with instance norm, LSGAN and weights 1/1. The VGG19 term needs ImageNet weights
from a file; without them set ``perceptual_weight=0``, which the saved config records.

Training pairs are two frames of the subject: the target frame of the sample and a source frame drawn per
sample (:class:`SourceTargetPairs`). Heatmaps are Gaussians of ``sigma`` = 6 pixels in [0, 1], as PATN's.
At test time the generator runs in eval mode (running statistics, no dropout) and renders every target
pose from the first source image.

The package: ``model.py`` (settings and networks), ``data.py`` (training pairs) and ``method.py`` (the
method).
"""

from __future__ import annotations

from .data import SourceTargetPairs, pose_heatmaps
from .method import Patn
from .model import (
    DATASET_PRESETS,
    PERCEPTUAL_LAYERS,
    PATBlock,
    PatnConfig,
    PatnGenerator,
    ResnetDiscriminator,
    build_discriminators,
    build_generator,
)

__all__ = [
    "DATASET_PRESETS",
    "PERCEPTUAL_LAYERS",
    "PATBlock",
    "Patn",
    "PatnConfig",
    "PatnGenerator",
    "ResnetDiscriminator",
    "SourceTargetPairs",
    "build_discriminators",
    "build_generator",
    "pose_heatmaps",
]
