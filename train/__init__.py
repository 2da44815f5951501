"""Training: data, losses, loop and evaluation (the loop and data pipeline arrive with the training issue)."""
