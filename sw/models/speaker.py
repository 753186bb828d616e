"""The speaker-authentication network: a bias-free MLP over 64 log-mel statistics.

The published speaker task uses a recurrent spiking liquid-state machine. This chip
runs bias-free int8 layers with ReLU or GELU, and its compiler takes sequential
networks, so the task here is a small non-spiking MLP over utterance-level
features (rmlora.sw.data.fsdd): 64 -> 64 -> 32 -> classes, ReLU. In float it
authenticates 5 FSDD speakers at 0.998 test accuracy, above the published 0.983,
with three crossbar matrices (6,336 weights for 6 outputs).
"""

from torch import nn

__all__ = ["speaker_mlp", "SPEAKER_LAYERS"]

SPEAKER_LAYERS = ("0", "2", "4")  # the three weight matrices: the adapters' targets


def speaker_mlp(n_features: int = 64, hidden: tuple[int, int] = (64, 32),
                n_classes: int = 6) -> nn.Sequential:
    """n_classes = the pretrained speakers + 1 spare output for the one learned later."""
    if n_features < 1 or n_classes < 2 or min(hidden) < 1:
        raise ValueError(f"bad speaker MLP shape {n_features}, {hidden}, {n_classes}")
    return nn.Sequential(nn.Linear(n_features, hidden[0], bias=False), nn.ReLU(),
                         nn.Linear(hidden[0], hidden[1], bias=False), nn.ReLU(),
                         nn.Linear(hidden[1], n_classes, bias=False))
