"""Shared neural parts: diffusion schedule, loss and sampler, the denoiser
protocol and CNN experts, and one training loop."""
from simlink.nn.denoiser import ExpertCNN
from simlink.nn.diffusion import (Denoiser, Schedule, complex_normal, ddpm_loss, from_image,
                                  gaussian_eps, noisy, posterior_sample, to_image, tweedie)
from simlink.nn.train import History, Trainer, fit, train_ddpm

__all__ = ["ExpertCNN", "Denoiser", "Schedule", "complex_normal", "ddpm_loss", "from_image",
           "gaussian_eps", "noisy", "posterior_sample", "to_image", "tweedie", "History",
           "Trainer", "fit", "train_ddpm"]
