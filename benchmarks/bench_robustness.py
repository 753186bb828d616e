"""Robustness sweep throughput on the face task: preparing (float flow, hardware-aware
training, compiling), one Monte Carlo run's wall time inline, and a short sweep in a
pool of one process per core, projected to the full default sweep (6 noise, 4
stuck-at, 4 drift levels plus nominal, 20 runs; the hardware-aware network at nominal
and the noise levels: 420 runs). The full sweep itself is `rmlora robustness`.

Nothing is reported without the Olivetti faces ($RMLORA_DATA).
"""

import os
import time

from rmlora.sw.data.olivetti import OLIVETTI_FILE, data_dir

FULL_RUNS = (1 + 6 + 4 + 4) * 20 + (1 + 6) * 20


def run() -> dict:
    if not (data_dir() / OLIVETTI_FILE).exists():
        return {}
    from rmlora.sw.robust import conditions, execute, prepare, specs_for
    from rmlora.sw.robust.run import RunSpec, run_one

    t0 = time.perf_counter()
    setup = prepare("face")
    prepare_s = time.perf_counter() - t0
    noise = conditions("4")[1]
    run_one(setup, RunSpec("plain", noise, 0))  # warm caches outside the timing
    t0 = time.perf_counter()
    for run in range(3):
        run_one(setup, RunSpec("plain", noise, run))
    inline_s = (time.perf_counter() - t0) / 3
    workers = os.cpu_count() or 1
    specs = specs_for(setup, conditions("4", "1", "1d"), runs=2)
    t0 = time.perf_counter()
    execute(setup, specs, workers=workers)
    pool_s = (time.perf_counter() - t0) / len(specs)
    return {
        "robustness_prepare_s": prepare_s,
        "robustness_run_s_inline": inline_s,
        "robustness_run_s_pool": pool_s,
        "robustness_pool_workers": workers,
        "robustness_full_sweep_projected_min": FULL_RUNS * pool_s / 60,
    }
