"""Front end for the face MLP-Mixer (rmlora.sw.models.mixer).

Segments: the embedding (one record per token vector), per mixer layer the token
MLP (fc1 then fc2 over the channel vectors) and the channel MLP (over the token
vectors), and the head (one pooled vector). The host runs patching and input
quantisation, RMSNorms, transposes, residual adds and the mean over tokens.
"""

import sys

import numpy as np
import torch
from torch import nn

from rmlora.sw import quant
from rmlora.sw.models.mixer import FaceMixer, patchify

from . import host_ops
from .calibrate import layer_taps, output_scales, record
from .front_end import register_front_end
from .mlp import activation_of
from .spec import Calibration, LayerSpec, SegmentSpec
from .steps import AddStep, ChipStep, MeanStep, QuantizeInput, RmsNormStep, TransposeStep

__all__ = ["structure", "calibrate"]

BLOCKS = ("token_mlp", "channel_mlp")


def structure(model: FaceMixer) -> tuple[list[LayerSpec], list[SegmentSpec]]:
    cfg, modules = model.config, dict(model.named_modules())
    layers = [LayerSpec("embed", modules["embed"])]
    segments = [SegmentSpec("embed", ["embed"], cfg.tokens)]
    for i in range(cfg.depth):
        for block, vectors in zip(BLOCKS, (cfg.dim, cfg.tokens), strict=True):
            prefix = f"layers.{i}.{block}"
            act = activation_of(prefix + ".act", modules[prefix + ".act"])
            layers += [LayerSpec(prefix + ".fc1", modules[prefix + ".fc1"], act),
                       LayerSpec(prefix + ".fc2", modules[prefix + ".fc2"])]
            segments.append(SegmentSpec(prefix, [prefix + ".fc1", prefix + ".fc2"], vectors))
    layers.append(LayerSpec("head", modules["head"]))
    return layers, segments + [SegmentSpec("head", ["head"], 1)]


def _rmsnorm(norm: nn.RMSNorm, in_scale: float, out_scale: float) -> host_ops.RmsNormQ:
    gamma = (np.ones(norm.normalized_shape) if norm.weight is None
             else norm.weight.detach().double().numpy())
    eps = norm.eps if norm.eps is not None else torch.finfo(torch.float32).eps
    return host_ops.compile_rmsnorm(gamma, in_scale, out_scale, eps)


def calibrate(model: FaceMixer, layers: list[LayerSpec], inputs: torch.Tensor,
              names: list[str]) -> Calibration:
    cfg, modules = model.config, dict(model.named_modules())
    if inputs.shape[1:] != (cfg.image_size, cfg.image_size):
        raise ValueError(f"calibration images of shape {tuple(inputs.shape)}: expected "
                         f"(batch, {cfg.image_size}, {cfg.image_size})")
    taps = layer_taps(layers)
    for i in range(cfg.depth):
        p = f"layers.{i}."
        taps |= {p + "token_norm": (modules[p + "token_norm"], "out"),
                 p + "mid": (modules[p + "channel_norm"], "in"),
                 p + "channel_norm": (modules[p + "channel_norm"], "out"),
                 p + "out": (modules[p[:-1]], "out")}
    taps |= {"norm": (modules["norm"], "out"), "pooled": (modules["head"], "in")}
    seen = record(model, inputs, names, taps)
    s_img = quant.calibrate_scale(patchify(inputs, cfg.patch_size).double().numpy())
    cal = Calibration({}, {"embed": s_img}, {}, [QuantizeInput(s_img, cfg.patch_size),
                                                 ChipStep(0)], s_img)
    for layer in layers:
        cal.x[layer.name] = seen[layer.name + ".in"].reshape(-1, layer.module.in_features)
        cal.out_scale[layer.name] = output_scales(seen[layer.name + ".out"], layer.act)
    s_res, segment = cal.out_scale["embed"][1], 1
    for i in range(cfg.depth):
        p = f"layers.{i}."
        s_norm = quant.calibrate_scale(seen[p + "token_norm"])
        s_mix = cal.out_scale[p + "token_mlp.fc2"][1]
        s_mid = quant.calibrate_scale(seen[p + "mid"])
        cal.steps += [RmsNormStep(_rmsnorm(modules[p + "token_norm"], s_res, s_norm), "x", "n"),
                      TransposeStep("n", "n"), ChipStep(segment, "n", "n"),
                      TransposeStep("n", "n"),
                      AddStep(host_ops.compile_add(s_res, s_mix, s_mid), "x", "n", "x")]
        cal.in_scale[p + "token_mlp.fc1"] = s_norm
        s_norm = quant.calibrate_scale(seen[p + "channel_norm"])
        s_mix = cal.out_scale[p + "channel_mlp.fc2"][1]
        s_res = quant.calibrate_scale(seen[p + "out"])
        cal.steps += [RmsNormStep(_rmsnorm(modules[p + "channel_norm"], s_mid, s_norm), "x",
                                  "n"),
                      ChipStep(segment + 1, "n", "n"),
                      AddStep(host_ops.compile_add(s_mid, s_mix, s_res), "x", "n", "x")]
        cal.in_scale[p + "channel_mlp.fc1"] = s_norm
        for block in BLOCKS:
            cal.in_scale[p + block + ".fc2"] = cal.out_scale[p + block + ".fc1"][1]
        segment += 2
    s_norm, s_pool = quant.calibrate_scale(seen["norm"]), quant.calibrate_scale(seen["pooled"])
    cal.steps += [RmsNormStep(_rmsnorm(modules["norm"], s_res, s_norm)),
                  MeanStep(host_ops.compile_mean(cfg.tokens, s_norm, s_pool)),
                  ChipStep(segment)]
    cal.in_scale["head"] = s_pool
    cal.output_scale = cal.out_scale["head"][1]
    return cal


register_front_end(FaceMixer, sys.modules[__name__])
