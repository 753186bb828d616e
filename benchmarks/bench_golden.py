"""Golden chip speed beside two float simulators of the same network, in one process
on one thread (BLAS and torch), batch 1024, best of 3 each:

- the golden chip (backend "golden", the macro model's read noise on, both adapters
  enabled): the bit-exact integer model of the chip, eight bit planes per MVM;
- plain PyTorch: the float forward of the same face network (adapters in float);
- aihwkit-lightning: its noisy analogue inference of that network (every Linear an
  AnalogLinear with additive weight noise of NOISE_US, the robustness sweep's middle
  level, inputs quantised to 8 bits; weights redrawn per forward: rmlora.sw.learn.hwa).

The ratios are the figures to compare across machines (the three share the run).
"""

import time

import torch
from threadpoolctl import threadpool_limits

from rmlora.contract.macro import MacroConfig
from rmlora.sw.compiler import compile_model
from rmlora.sw.learn.hwa import analog_copy, rpu_config
from rmlora.sw.models.demo import demo_inputs, demo_model
from rmlora.sw.runtime import Chip
from rmlora.sw.runtime.infer import infer

BATCH, REPEATS = 1024, 3
NOISE_US = 4.0


def _best(fn) -> float:
    fn()  # warm: numba's cache load, torch's first-call set-up
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run() -> dict:
    model = demo_model("face")
    compiled = compile_model(model, demo_inputs("face", 256, 100))
    x = demo_inputs("face", BATCH, 0)
    chip = Chip(backend="golden", seed=1)
    chip.deploy(compiled.plan)
    chip.load(compiled.image, names=compiled.adapter_slots)
    chip.enable(list(compiled.adapter_slots))
    analog = analog_copy(model, rpu_config(NOISE_US, 8, MacroConfig()))
    analog.train()  # aihwkit-lightning draws its weight noise in training mode only
    xt = torch.from_numpy(x)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1), torch.no_grad():
            golden = _best(lambda: infer(chip, compiled, x))
            plain = _best(lambda: model(xt))
            noisy = _best(lambda: analog(xt))
    finally:
        torch.set_num_threads(threads)
    return {"golden_face_inferences_per_s": BATCH / golden,
            "torch_face_inferences_per_s": BATCH / plain,
            "aihwkit_face_inferences_per_s": BATCH / noisy,
            "golden_vs_aihwkit_speed_ratio": noisy / golden,
            "golden_vs_torch_speed_ratio": plain / golden}
