"""Helpers shared by the training recipes: checkpoints, logs, learning-rate schedule."""
