"""Front end for the tiny diffusion transformer (rmlora.sw.models.dit).

Every matrix is token-wise: one crossbar block, reused for each of the 16 tokens (a
segment of 16 vectors), never a copy per token. Segments: the patch embedding, per
block the qkv projection, the attention's output projection and the MLP (fc1, GELU
on the LoRA unit's LUT, fc2), and the output layer. The host runs everything else
in integers (transformer_steps): the conditioning lookup, the position table, adaLN,
attention and the gated residuals. The conditioning (class and step embedding and
every modulation) depends on (class, step) only, so it is compiled into tables of
the config's 10 x steps pairs, not mapped to crossbars.
"""

import sys

import torch

from rmlora.sw import quant
from rmlora.sw.models.dit import LN_EPS, MODULATIONS, TinyDiT

from .calibrate import layer_taps, output_scales, record
from .front_end import register_front_end
from .mlp import activation_of
from .spec import Calibration, LayerSpec, SegmentSpec
from .steps import ChipStep
from .transformer_ops import (
    RESIDUAL_BITS,
    compile_adaln,
    compile_attention,
    compile_gated_add,
    compile_table_add,
)
from .transformer_steps import (
    AdaLnStep,
    AttentionStep,
    ConditionInput,
    GatedAddStep,
    TableAddStep,
    UnpatchifyStep,
)

__all__ = ["structure", "calibrate"]


def structure(model: TinyDiT) -> tuple[list[LayerSpec], list[SegmentSpec]]:
    tokens, modules = model.config.tokens, dict(model.named_modules())
    layers = [LayerSpec("embed", modules["embed"])]
    segments = [SegmentSpec("embed", ["embed"], tokens)]
    for i in range(model.config.depth):
        p = f"blocks.{i}."
        act = activation_of(p + "mlp.act", modules[p + "mlp.act"])
        layers += [LayerSpec(p + "attn.qkv", modules[p + "attn.qkv"]),
                   LayerSpec(p + "attn.proj", modules[p + "attn.proj"]),
                   LayerSpec(p + "mlp.fc1", modules[p + "mlp.fc1"], act),
                   LayerSpec(p + "mlp.fc2", modules[p + "mlp.fc2"])]
        segments += [SegmentSpec(p + "attn.qkv", [p + "attn.qkv"], tokens),
                     SegmentSpec(p + "attn.proj", [p + "attn.proj"], tokens),
                     SegmentSpec(p + "mlp", [p + "mlp.fc1", p + "mlp.fc2"], tokens)]
    layers.append(LayerSpec("out", modules["out"]))
    return layers, segments + [SegmentSpec("out", ["out"], tokens)]


def calibrate(model: TinyDiT, layers: list[LayerSpec], inputs: torch.Tensor,
              names: list[str]) -> Calibration:
    cfg = model.config
    if inputs.ndim != 2 or inputs.shape[1] != model.input_features:
        raise ValueError(f"calibration inputs of shape {tuple(inputs.shape)}: expected "
                         f"(batch, {model.input_features}) denoiser input rows")
    taps = layer_taps(layers)
    for i, block in enumerate(model.blocks):
        taps |= {f"blocks.{i}.in": (block, "in"), f"blocks.{i}.mid": (block.mid, "out"),
                 f"blocks.{i}.out": (block, "out")}
    seen = record(model, inputs, names, taps)
    features = model.conditioning_features().to(inputs.dtype)
    with torch.no_grad():
        table = model.conditioning(features).double().numpy()  # (rows, 6 * depth + 2, C)
    pixels = cfg.image_size**2
    s_img = quant.calibrate_scale(inputs[:, :pixels].double().numpy())
    cal = Calibration({}, {"embed": s_img}, {}, [
        ConditionInput(s_img, cfg.image_size, cfg.patch_size, features.double().numpy()),
        ChipStep(0)], s_img)
    for layer in layers:
        cal.x[layer.name] = seen[layer.name + ".in"].reshape(-1, layer.module.in_features)
        cal.out_scale[layer.name] = output_scales(seen[layer.name + ".out"], layer.act)

    def scale(key: str) -> float:
        return quant.calibrate_scale(seen[key])

    def residual_scale(key: str) -> float:
        # int16 on the host (transformer_ops.RESIDUAL_BITS): the calibration's largest
        # value at half the range, room for inputs beyond it instead of saturation
        return 2 * quant.calibrate_scale(seen[key], 100.0, RESIDUAL_BITS)

    s_res = residual_scale("blocks.0.in")
    cal.steps.append(TableAddStep(compile_table_add(model.positions.double().numpy(),
                                                    cal.out_scale["embed"][1], s_res)))
    segment = 1
    for i in range(cfg.depth):
        p = f"blocks.{i}."
        shift1, scale1, gate1, shift2, scale2, gate2 = (
            table[:, MODULATIONS * i + k] for k in range(MODULATIONS))
        s_norm, s_qkv = scale(p + "attn.qkv.in"), cal.out_scale[p + "attn.qkv"][1]
        s_mixed, s_proj = scale(p + "attn.proj.in"), cal.out_scale[p + "attn.proj"][1]
        s_mid = residual_scale(p + "mid")
        cal.steps += [
            AdaLnStep(compile_adaln(scale1, shift1, s_res, s_norm, LN_EPS)),
            ChipStep(segment, "n", "n"),
            AttentionStep(compile_attention(cfg.heads, cfg.width // cfg.heads, s_qkv, s_mixed)),
            ChipStep(segment + 1, "n", "n"),
            GatedAddStep(compile_gated_add(gate1, s_res, s_proj, s_mid))]
        cal.in_scale |= {p + "attn.qkv": s_norm, p + "attn.proj": s_mixed}
        s_norm, s_mlp = scale(p + "mlp.fc1.in"), cal.out_scale[p + "mlp.fc2"][1]
        s_res = residual_scale(p + "out")
        cal.steps += [AdaLnStep(compile_adaln(scale2, shift2, s_mid, s_norm, LN_EPS)),
                      ChipStep(segment + 2, "n", "n"),
                      GatedAddStep(compile_gated_add(gate2, s_mid, s_mlp, s_res))]
        cal.in_scale |= {p + "mlp.fc1": s_norm, p + "mlp.fc2": cal.out_scale[p + "mlp.fc1"][1]}
        segment += 3
    s_norm = scale("out.in")
    cal.steps += [AdaLnStep(compile_adaln(table[:, -1], table[:, -2], s_res, s_norm, LN_EPS)),
                  ChipStep(segment, "n", "x"), UnpatchifyStep(cfg.image_size, cfg.patch_size)]
    cal.in_scale["out"] = s_norm
    cal.output_scale = cal.out_scale["out"][1]
    return cal


register_front_end(TinyDiT, sys.modules[__name__])
