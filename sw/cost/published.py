"""The published networks as layer-shape specs, and the three folds projected for them.

    result = project("dit-b2")          # or "lsm-512", "mixer-face"

Shapes and LoRA settings are those of the authors' public code (github.com/MrLinNing/
RMAdaptiveMachine, "[code]" below); training budgets are read from its scripts and
logs where they say, else stated as assumptions (``Budget.source``). No network is
built weight by weight: a spec of layer passes is all the analytic model needs.

What a projection includes, per network:
- training of one update on the digital fp32 engine the cost model already prices
  (model.training_cost): forward and backward MACs per sample (training_macs) times
  the budget's sample passes, Adam's operations per trainable parameter and step; for
  LoRA, a full fine-tune and retraining from scratch, and the optimizer state (Adam's
  two fp32 moments per trainable parameter);
- deployment: LoRA writes its adapters into the SRAM (model.sram_write_cost); a full
  fine-tune reprograms every weight cell by write-verify, at the macro model's measured
  pulses per cell (programming.measure_write_verify); the first programming beside;
- inference: one input on the hybrid chip, the all-digital chip of the same node
  (analytic.inference_costs) and a GPU (``GPU``; roofline time at its board power).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cache

from rmlora.contract import ChipParams
from rmlora.sw.compiler.placement import macros_used

from .analytic import adapter_bytes, inference_costs
from .flow import PUBLISHED
from .model import fold, sram_write_cost, training_cost, update_folds
from .programming import WriteVerifyStats, measure_write_verify
from .spec import AdapterSpec, LayerPass, NetworkSpec
from .table import OpTable, table_for

__all__ = ["MODELS", "GPU", "Budget", "Published", "published", "project", "training_macs",
           "PUBLISHED_CHIP", "default_write_verify"]

# The chip the published networks are projected onto: this build's macro, SRAM and
# LoRA unit, with the most macros the contract addresses (16); a network with more
# tiles spans several such chips (what moving activations between them costs is not
# modelled).
PUBLISHED_CHIP = ChipParams(n_macros=16)

# NVIDIA A100 SXM4 40 GB, from its datasheet (nvidia-a100-datasheet-us-nvidia-1758950-r4):
# 624 TOPS INT8 and 312 TFLOPS FP16 on the tensor cores (dense), 1,555 GB/s HBM2, 400 W.
# Energy of a run = 400 W x its roofline time (compute or memory bound, at batch 1 the
# weights read once from HBM). Neither bound: the power is high (a part-loaded GPU draws
# less than its board power), the time low (no kernel-launch latency, microseconds a
# kernel, which dominates a network as small as the face Mixer).
GPU = {"name": "NVIDIA A100 SXM4 40 GB (datasheet)", "int8_macs_per_s": 624e12 / 2,
       "fp16_macs_per_s": 312e12 / 2, "bytes_per_s": 1555e9, "power_w": 400.0}


@dataclass(frozen=True)
class Budget:
    """Sample passes and optimizer steps of one training run, and where they come from."""

    samples: int
    steps: int
    source: str


@dataclass(frozen=True)
class Published:
    """A published network: its spec, its LoRA update, its training budgets."""

    net: NetworkSpec
    adapters: tuple[AdapterSpec, ...]
    lora: Budget
    full_finetune: Budget
    retrain: Budget
    source: str


def training_macs(net: NetworkSpec, adapters: list[AdapterSpec] | None) -> dict:
    """Forward and backward MACs of one training sample, and the trainable parameters:
    LoRA (``adapters``: only they train) or every weight (None). The rule of
    learn.loop.linear_calls and backward_macs, per layer pass in execution order: a
    weight gradient (its MACs again) if it trains, an input gradient if anything
    trainable ran before it; a LoRA branch is A then B after its frozen layer. The
    host's activation products (attention) need both operands' gradients (2x) once
    anything trainable ran before them."""
    ranks = net.ranks(adapters) if adapters is not None else {}
    forward = backward = 0
    upstream = False

    def call(macs: int, trainable: bool):
        nonlocal forward, backward, upstream
        forward += macs
        backward += macs * (int(trainable) + int(upstream))
        upstream = upstream or trainable

    for lp in net.passes():
        call(lp.weights * lp.vectors, adapters is None)
        for r in ranks.get(lp.layer, []):
            call(r * lp.n_in * lp.vectors, True)
            call(lp.n_out * r * lp.vectors, True)
        forward += lp.host_macs
        backward += 2 * lp.host_macs * upstream
    shapes = net.shapes()
    trainable = (sum(r * sum(shapes[name]) for name, rks in ranks.items() for r in rks)
                 if adapters is not None else net.weights)
    return {"forward": forward, "backward": backward, "trainable_params": trainable}


def _training(net: NetworkSpec, adapters, budget: Budget, table: OpTable) -> dict:
    macs = training_macs(net, adapters)
    stage = {"analog_macs_per_sample": macs["forward"], "digital_macs_per_sample": 0,
             "backward_macs_per_sample": macs["backward"], "sample_passes": budget.samples,
             "optimizer_steps": budget.steps, "trainable_params": macs["trainable_params"]}
    gpu_s = (macs["forward"] + macs["backward"]) * budget.samples / GPU["fp16_macs_per_s"]
    return training_cost(stage, table) | {
        "forward_macs_per_sample": macs["forward"],
        "backward_macs_per_sample": macs["backward"],
        "optimizer_state_bytes": 2 * 4 * macs["trainable_params"],  # Adam's m and v, fp32
        "budget": vars(budget),
        "gpu_energy_j": gpu_s * GPU["power_w"]}


def _gpu_inference(costs: dict, update_bytes: int) -> dict:
    c = costs["counts"]
    macs = c["analogue_macs"] + c["lora_macs"] + c["host_macs"]
    moved = costs["weights"] + update_bytes  # int8 weights and adapters, once per input
    seconds = max(macs / GPU["int8_macs_per_s"], moved / GPU["bytes_per_s"])
    return {"energy_j": seconds * GPU["power_w"], "latency_s": seconds, "macs": macs,
            "bytes": moved, "bound": "memory" if moved / GPU["bytes_per_s"] > macs /
            GPU["int8_macs_per_s"] else "compute"}


def project(name: str, table: OpTable | None = None, params: ChipParams = PUBLISHED_CHIP,
            reprogram: WriteVerifyStats | None = None, first: WriteVerifyStats | None = None,
            model: Published | None = None, digital_buffer_words: int | None = None) -> dict:
    """The three folds of a published network (``name``: one of MODELS, or ``model``
    given) with every baseline and count behind them. digital_buffer_words: the
    all-digital chip's weight buffer (default the LoRA unit's cache, as in flow_costs)."""
    pub = model or published(name)
    table = table or table_for()
    measured_first, measured_again = default_write_verify()
    first, reprogram = first or measured_first, reprogram or measured_again
    net, adapters = pub.net, list(pub.adapters)
    training = {"lora": _training(net, adapters, pub.lora, table),
                "full_finetune": _training(net, None, pub.full_finetune, table),
                "retrain": _training(net, None, pub.retrain, table)}
    update = adapter_bytes(net, adapters, params)
    deployment = {"lora": sram_write_cost(update, params, table),
                  "full_finetune": reprogram.cost(net.weights, table),
                  "first_programming": first.cost(net.weights, table)}
    costs = inference_costs(net, adapters, params, table,
                            digital_buffer_words=digital_buffer_words)
    bare = inference_costs(net, [], params, table, digital_buffer_words=digital_buffer_words)
    inference = {"hybrid": costs["hybrid"], "digital": costs["digital"],
                 "gpu": _gpu_inference(costs, update), "counts": costs["counts"],
                 "analog_only_hybrid_j": bare["hybrid"]["energy_j"]}
    shapes = [(layer, n, m) for layer, (n, m) in net.shapes().items()]
    try:  # the compiler's placement: small layers share macros
        n_macros = macros_used(shapes, params)
    except ValueError:  # more than one chip: whole macros a layer (no packing across chips)
        n_macros = costs["tiles"]
    return {
        "model": name, "source": pub.source, "note": net.note,
        "chip": {"macro": f"{params.macro_rows}x{params.macro_cols}",
                 "macros_per_chip": params.n_macros, "macros": n_macros,
                 "chips": math.ceil(n_macros / params.n_macros),
                 "weight_cells": net.weights,
                 "sram_bytes_per_chip": params.sram_bytes, "adapter_bytes": update,
                 "node_nm": table.node_nm, "clock_hz": table.clock_hz},
        "adapters": [vars(a) for a in adapters],
        "write_verify": {"first": vars(first), "reprogram": vars(reprogram)},
        "training": training, "deployment": deployment, "inference": inference,
        **update_folds(training, deployment),
        "inference_energy_fold": fold(costs["digital"]["energy_j"], costs["hybrid"]["energy_j"]),
        "inference_energy_fold_vs_gpu": fold(inference["gpu"]["energy_j"],
                                             costs["hybrid"]["energy_j"]),
        "published": PUBLISHED,
    }


@cache
def default_write_verify() -> tuple[WriteVerifyStats, WriteVerifyStats]:
    """(first programming, reprogramming) per cell as the projections take them:
    measure_write_verify's defaults, measured once a process."""
    return measure_write_verify()


# ---- the networks --------------------------------------------------------------------

def _passes(*passes: LayerPass) -> tuple[tuple[LayerPass, ...], ...]:
    """Each pass its own segment: host steps (norms, residuals, neuron updates) lie
    between every two layers of these networks."""
    return tuple((lp,) for lp in passes)


def dit_b2(image: int = 128, hidden: int = 768, depth: int = 12, heads: int = 12,
           mlp_ratio: int = 4, patch: int = 2, latent_channels: int = 4,
           frequency_embedding: int = 256, rank: int = 4) -> Published:
    """DiT-B/2 [code: unlearn-dit/models.py, train_task1.sh]: 128x128 images through the
    VAE's 8x downsampling -> a 16x16x4 latent, 2x2 patches -> 64 tokens of 768; 12
    blocks (adaLN modulation 768 -> 6x768 on the conditioning vector, qkv, proj, MLP
    768 -> 3072 -> 768 on every token), the final layer (learn_sigma: 2x4 channels);
    30 classes (a label embedding, a table lookup, not an MVM). LoRA rank 4 on every
    block's MLP fc1 and fc2 (``--lora --lora-r 4``). One inference = one denoiser pass
    (a sample takes as many as the sampler's steps, on every chip alike); the VAE
    (decoding, and encoding during training) is left out on every side."""
    tokens = (image // 8 // patch) ** 2
    head = hidden // heads
    passes = [LayerPass("x_embedder.proj", latent_channels * patch * patch, hidden, tokens),
              LayerPass("t_embedder.mlp.0", frequency_embedding, hidden),
              LayerPass("t_embedder.mlp.2", hidden, hidden)]
    for i in range(depth):
        b = f"blocks.{i}"
        passes += [LayerPass(f"{b}.adaLN_modulation.1", hidden, 6 * hidden),
                   # attention: scores q k^T and their mix with v, per head, on the host
                   LayerPass(f"{b}.attn.qkv", hidden, 3 * hidden, tokens,
                             host_macs=2 * heads * tokens * tokens * head),
                   LayerPass(f"{b}.attn.proj", hidden, hidden, tokens),
                   LayerPass(f"{b}.mlp.fc1", hidden, mlp_ratio * hidden, tokens, lut=True),
                   LayerPass(f"{b}.mlp.fc2", mlp_ratio * hidden, hidden, tokens)]
    passes += [LayerPass("final_layer.adaLN_modulation.1", hidden, 2 * hidden),
               LayerPass("final_layer.linear", hidden, patch * patch * 2 * latent_channels,
                         tokens)]
    net = NetworkSpec("dit-b2", _passes(*passes), note=(
        f"one denoiser pass of {tokens} tokens; attention products on the host of both chips;"
        " norms, modulation, softmax and the VAE left out on every side"))
    steps = Budget(100_000 * 16, 100_000, "[code] train_task3.sh loads the base and LoRA "
                   "checkpoints 0100000.pt (DiT names checkpoints by step) at global batch 16")
    return Published(net, (AdapterSpec("lora", rank, rank, ("fc1", "fc2")),),
                     lora=steps,
                     full_finetune=replace(steps, source="assumed: the LoRA update's budget "
                                           "(the code publishes no full fine-tune of DiT)"),
                     retrain=replace(steps, source="[code] the base model: checkpoint "
                                     "0100000.pt, batch 16"),
                     source="github.com/MrLinNing/RMAdaptiveMachine unlearn-dit")


# Spike rates of the LSM: not published; assumed (sensitivity: 0.02-0.5).
LSM_INPUT_RATE = 0.1
LSM_SPIKE_RATE = 0.1
LSM_SAMPLES_PER_EPOCH = 1_000  # assumed; no fold depends on it (every run scales alike)


def lsm_512(inputs: int = 140, neurons: int = 512, windows: int = 10, classes: int = 5,
            rank: int = 8, input_rate: float = LSM_INPUT_RATE,
            spike_rate: float = LSM_SPIKE_RATE, batch: int = 128) -> Published:
    """The speaker LSM [code: SpikeSSC_UL_CL, config "mlp: 140,512,5", "Tw: 10"]: per time
    window the input spikes (140) through W_in (140x512) and the reservoir's last spikes
    (512) through W_rec (512x512), the neurons' update on the host (2 products per
    neuron: decay, input); the readout (512 -> 5) of the mean spike count once. LoRA
    rank 8, alpha 16 on W_in and W_rec (``lora_rank: 8``, ``lora_alpha: 16``). Spikes are
    binary: one plane drives the rows that spiked (``spike_rate``, assumed)."""
    per_window = [LayerPass("input", inputs, neurons, spike_rate=input_rate),
                  LayerPass("recurrent", neurons, neurons, spike_rate=spike_rate,
                            host_macs=2 * neurons)]
    passes = [LayerPass(f"{lp.layer}", lp.n_in, lp.n_out, spike_rate=lp.spike_rate,
                        host_macs=lp.host_macs) for _ in range(windows) for lp in per_window]
    net = NetworkSpec("lsm-512", _passes(*passes, LayerPass("readout", neurons, classes)),
                      note=f"{windows} time windows; input spike rate {input_rate:g}, "
                           f"reservoir spike rate {spike_rate:g} (assumed)")

    def epochs(n: int, source: str) -> Budget:
        samples = n * LSM_SAMPLES_PER_EPOCH
        return Budget(samples, math.ceil(samples / batch), source)

    return Published(net, (AdapterSpec("lora", rank, 16, ("input", "recurrent")),),
                     lora=epochs(60, "[code] checkpoints_randlabel_unlearn config: 60 "
                                     "epochs, batch 128"),
                     full_finetune=epochs(60, "[code] checkpoints_randlabel_unlearn_full "
                                              "config: 60 epochs, batch 128"),
                     retrain=epochs(300, "[code] checkpoints/snn_lsm_512_5cls_10tw_log.txt: "
                                         "300 epochs of pretraining"),
                     source="github.com/MrLinNing/RMAdaptiveMachine SpikeSSC_UL_CL")


FACE_TRAIN, FACE_RETAIN = 1_200, 960  # 5 people x 10 images x 30 views, 80 % train


def mixer_face(rank: int = 6) -> Published:
    """The face MLP-Mixer we run (sw.models.mixer.FaceMixer: 16x16 images, 4x4 patches
    -> 16 tokens of 20 channels, 2 layers, hidden 32, 6 outputs) [code: FaceRecognition,
    the same shape], layer passes as this chip's compiler schedules them; LoRA rank 6,
    alpha 4 on every weight matrix (as sw.models.demo's "face" demo). Budgets: LoRA
    unlearning 16 epochs (run_unlearn.sh), the full-weight baseline 200 epochs of Adam on
    the retained data from the pretrained weights (run_baseline_unlearn.sh, which loads
    best_learn_model.pth): our "full fine-tune"; retraining from scratch: assumed the
    same 200 epochs. Batches: one step per epoch assumed (the scripts do not say)."""
    net = _face_net()
    names = tuple(net.shapes())
    return Published(net, (AdapterSpec("lora", rank, 4, names),),
                     lora=Budget(16 * FACE_TRAIN, 16, "[code] run_unlearn.sh: 16 epochs of "
                                 f"{FACE_TRAIN} views (one step an epoch assumed)"),
                     full_finetune=Budget(200 * FACE_RETAIN, 200, "[code] "
                                          "run_baseline_unlearn.sh: 200 epochs of the "
                                          f"{FACE_RETAIN} retained views"),
                     retrain=Budget(200 * FACE_RETAIN, 200, "assumed: the baseline's 200 "
                                    "epochs from scratch"),
                     source="github.com/MrLinNing/RMAdaptiveMachine FaceRecognition")


@cache
def _face_net() -> NetworkSpec:
    """The face Mixer's layer passes from this chip's compiler (a random network of the
    published shape: the schedule does not depend on the weights)."""
    from rmlora.sw.compiler import compile_model
    from rmlora.sw.models.demo import demo_inputs, demo_model

    from .calibration import spec_from_compiled

    compiled = compile_model(demo_model("face"), demo_inputs("face", 64, 100))
    spec, _ = spec_from_compiled(compiled, [])
    return replace(spec, name="mixer-face", note="the face Mixer as this chip's compiler "
                   "schedules it (token-mixing layers as passes over the channels)")


MODELS = {"dit-b2": dit_b2, "lsm-512": lsm_512, "mixer-face": mixer_face}


def published(name: str) -> Published:
    """A built-in published network by name."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return MODELS[name]()
