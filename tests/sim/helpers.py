"""Shared set-ups for the ReRAM macro tests."""

import numpy as np

from rmlora.sim.reram import MacroConfig, ReramMacro


def programmed_macro(seed: int = 7, **overrides) -> tuple[ReramMacro, np.ndarray]:
    """A 64x48 macro with random weights programmed statistically, all effects on."""
    cfg = MacroConfig(rows=64, cols=48, program_error_std_us=2.0, sa0_rate=0.01,
                      sa1_rate=0.01, ir_drop_alpha=0.05, **overrides)
    macro = ReramMacro(cfg, seed=seed, macro_id=3)
    rng = np.random.default_rng(seed)
    weights = rng.integers(-cfg.w_max, cfg.w_max + 1, size=(cfg.rows, cfg.cols))
    macro.program_statistical(weights)
    macro.set_time(3600.0)
    return macro, weights
