"""Training: the training loop on simulated photos and its perceptual loss (validated with evaluation's metrics)."""
