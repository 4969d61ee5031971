"""The networks (TextCNN, the tailored TextCNN, the spiking TextCNN) and the model-kind registry."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def evaluation_mode(model):
    """Run a block with ``model`` in eval mode, restoring its training flag after, even when the block fails."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
