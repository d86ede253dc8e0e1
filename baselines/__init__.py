"""GAN baselines."""
