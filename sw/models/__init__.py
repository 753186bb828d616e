"""PyTorch models of the tasks, written so every weight product maps to one crossbar."""

from rmlora.sw.models.mixer import FaceMixer, MixerConfig, count_parameters, linear_layers, patchify
from rmlora.sw.models.speaker import speaker_mlp

__all__ = ["FaceMixer", "MixerConfig", "count_parameters", "linear_layers", "patchify",
           "speaker_mlp"]
