"""Shared neural parts: diffusion schedule and sampler, denoiser CNN, training loop."""
from simlink.nn.denoiser import ExpertCNN
from simlink.nn.diffusion import (Schedule, complex_normal, from_image, noisy,
                                  posterior_sample, to_image, tweedie)
from simlink.nn.train import train_ddpm

__all__ = ["ExpertCNN", "Schedule", "complex_normal", "from_image", "noisy",
           "posterior_sample", "to_image", "tweedie", "train_ddpm"]
