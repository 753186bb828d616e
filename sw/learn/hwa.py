"""Hardware-aware pretraining with aihwkit-lightning, and its own accuracy prediction.

The network's nn.Linear layers become aihwkit-lightning ``AnalogLinear`` layers with
a ``TorchInferenceRPUConfig``: additive Gaussian weight noise drawn at every
forward pass in training mode (std relative to the layer's largest |weight|, as our
per-tensor int8 weights map to the conductance window) and 8-bit inputs over a
dynamic input range (our DAC: int8 activations). The trained weights go back into
the original model class, which the compiler takes.

Output resolution (``out_res``) is not used: aihwkit-lightning bounds the output by
the weight maximum times a learned input range, while our ADC converts each input
bit plane with a per-layer gain shift calibrated by the compiler; a matching
``out_bound`` would be a guess. The chip model applies the real ADC.

aihwkit-lightning 2.1.0 has no separate inference-noise model: its weight-noise
modifier acts in training mode only. ``predicted_accuracy`` therefore runs the
converted network in training mode without gradients (dynamic input ranges keep no
state, so nothing is learned) - aihwkit-lightning's own simulation of a network
whose weights are off by that noise.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from rmlora.contract.macro import MacroConfig
from rmlora.sw.learn.config import StageConfig
from rmlora.sw.learn.loop import StageCost, deterministic, train_stage
from rmlora.sw.learn.stages import FlowData

__all__ = ["HwaConfig", "relative_noise", "rpu_config", "analog_copy", "hwa_pretrain",
           "predicted_accuracy"]


@dataclass(frozen=True)
class HwaConfig:
    noise_std_us: float  # programming error the training injects (uS)
    input_bits: int = 8  # the DAC: int8 activations

    def __post_init__(self):
        if not 0.0 <= self.noise_std_us <= 50.0:
            raise ValueError(f"noise_std_us={self.noise_std_us}: must be in [0, 50] uS")
        if isinstance(self.input_bits, bool) or not isinstance(self.input_bits, int) or not (
                2 <= self.input_bits <= 16):
            raise ValueError(f"input_bits={self.input_bits!r}: must be an integer in [2, 16]")


def relative_noise(std_us: float, macro_config: MacroConfig) -> float:
    """A programming error std in uS relative to the largest weight's conductance offset
    (w_max weight units of g_unit from the midpoint: 30 uS on the default window)."""
    return std_us / (macro_config.g_unit_us * macro_config.w_max)


def rpu_config(std_us: float, input_bits: int, macro_config: MacroConfig):
    """aihwkit-lightning's configuration: per-tensor additive weight noise, inputs
    quantised to ``input_bits`` over each vector's own range."""
    from aihwkit_lightning.simulator.configs import TorchInferenceRPUConfig
    from aihwkit_lightning.simulator.parameters import WeightNoiseInjectionType
    config = TorchInferenceRPUConfig()
    config.modifier.noise_type = WeightNoiseInjectionType.ADD_NORMAL
    config.modifier.std_dev = relative_noise(std_us, macro_config)
    config.forward.inp_res = 2 ** (input_bits - 1) - 1  # symmetric int8: 127 steps a side
    config.pre_post.input_range.enable = True
    config.pre_post.input_range.dynamic = True
    return config


def analog_copy(model: nn.Module, config) -> nn.Module:
    """An aihwkit-lightning copy of the model with its layers analogue under `config`
    (rpu_config); the model itself is left as it is."""
    from aihwkit_lightning.nn.conversion import convert_to_analog
    with warnings.catch_warnings():
        # aihwkit-lightning's v1 modifier enum is flagged deprecated on import of its
        # dataclass defaults; the v2 fields (noise_type) are the ones set here
        warnings.simplefilter("ignore", DeprecationWarning)
        return convert_to_analog(copy.deepcopy(model), config, ensure_analog_root=False)


def _weights_back(analog: nn.Module, model: nn.Module) -> nn.Module:
    """A copy of ``model`` carrying ``analog``'s trained Linear weights (same names)."""
    out = copy.deepcopy(model)
    trained = dict(analog.named_modules())
    for name, module in out.named_modules():
        if isinstance(module, nn.Linear):
            with torch.no_grad():
                module.weight.copy_(trained[name].weight.detach())
    return out.eval()


def hwa_pretrain(model: nn.Module, data: FlowData, config: StageConfig, hwa: HwaConfig,
                 seed: int, progress: bool = False,
                 macro_config: MacroConfig | None = None) -> tuple[nn.Module, StageCost]:
    """Train ``model`` like stages.pretrain, through noisy analogue layers: from
    scratch if it is fresh, or hardware-aware fine-tuning if it is already trained."""
    macro_config = MacroConfig() if macro_config is None else macro_config
    analog = analog_copy(model, rpu_config(hwa.noise_std_us, hwa.input_bits, macro_config))
    rows = data.train_rows(data.pretrain_classes)
    cost = train_stage("hwa_pretrain", analog, list(analog.parameters()), data.train_x[rows],
                       data.train_y[rows], None, config, seed, progress)
    return _weights_back(analog, model), cost


def predicted_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, classes: list[int],
                       std_us: float, macro_config: MacroConfig, runs: int, seed: int,
                       input_bits: int = 8) -> list[float]:
    """aihwkit-lightning's accuracy over rows of ``classes``, one per Monte Carlo run
    (weights drawn once per run: the whole batch in one forward), seeded."""
    analog = analog_copy(model, rpu_config(std_us, input_bits, macro_config))
    analog.train()  # the modifier acts in training mode only (module docstring)
    rows = torch.isin(y, torch.tensor(classes, dtype=y.dtype))
    out = []
    with deterministic(seed, 1), torch.no_grad():
        for run in range(runs):
            torch.manual_seed(seed * 1000 + run)
            pred = analog(x[rows]).argmax(1)
            out.append(float((pred == y[rows]).float().mean()))
    return out
