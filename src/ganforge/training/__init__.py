"""Training: the trainer, callbacks, checkpoints, run directories."""
