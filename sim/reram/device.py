"""Programming physics of one 1T1R ReRAM cell: the response to a SET or RESET pulse.

Why write-verify needs iterations. A pulse moves the conductance by
``dG = eta * (bound - G) * (1 + c2c * eps)`` (SET: bound = g_ceiling; RESET: G moves
towards g_floor) - the discrete form of the saturating, nonlinear conductance-vs-pulse
curves measured on oxide RRAM and used by NeuroSim [Chen17]. Three things make the
outcome of any one pulse unpredictable to the controller:

* the step depends on where the cell already is (nonlinear, saturating);
* ``eta`` differs from cell to cell by a device-to-device factor the controller does
  not know (fixed per seed) [Wong12];
* every pulse has cycle-to-cycle noise ``eps`` of ~30 % [Wong12], [Wan22].

So a controller cannot compute "the" pulse that lands on a target: it applies a small
pulse, reads back (verify), and repeats with a stronger pulse in the same direction
or a weak one in the other, until the read lands within tolerance - an incremental
pulse write-verify, which takes 5-20 pulses per cell on HfOx arrays [Wan22] (ED Fig.
3f), [Yao20]. See `write_verify_cell` for a reference loop.

All per-element arithmetic is + - * and min/max (correctly rounded), so a vectorised
call gives bit-identical results to a cell-by-cell call.
"""

import math

import numpy as np

from rmlora.contract.macro import MacroConfig
from rmlora.contract.xbar import Polarity  # the macro port's polarity bit: one definition

from .counter_rng import Kind, gaussian, hash_words, key_prefix, uniform

__all__ = ["Polarity", "AMPLITUDE_CODES", "WIDTH_CODES", "eta_table", "pulse_step",
           "CellStatics", "pulse_voltage", "pulse_width_s"]

AMPLITUDE_CODES = 16
WIDTH_CODES = 16


def pulse_voltage(cfg: MacroConfig, amplitude: int) -> float:
    """Pulse amplitude in V of amplitude code 0..15 (linear from pulse_v_min)."""
    step = (cfg.pulse_v_max - cfg.pulse_v_min) / (AMPLITUDE_CODES - 1)
    return cfg.pulse_v_min + amplitude * step


def pulse_width_s(cfg: MacroConfig, width: int) -> float:
    """Pulse width in s of width code 0..15 (linear from pulse_width_min_ns)."""
    step = (cfg.pulse_width_max_ns - cfg.pulse_width_min_ns) / (WIDTH_CODES - 1)
    return (cfg.pulse_width_min_ns + width * step) * 1e-9


def eta_table(cfg: MacroConfig) -> np.ndarray:
    """Nominal fraction of the way to the bound one pulse moves: [polarity, amp, width].

    eta = 1 - exp(-t / tau(V)), tau(V) = tau_ref * exp((v_max - V) / v_accel): an
    exponential voltage-time relation [Wong12]. Computed once, with scalar math, so it
    is the same in every process.
    """
    table = np.empty((2, AMPLITUDE_CODES, WIDTH_CODES))
    for pol in Polarity:
        rate = 1.0 if pol is Polarity.SET else cfg.reset_rate_ratio
        for a in range(AMPLITUDE_CODES):
            tau_s = cfg.tau_ref_ns * 1e-9 * math.exp(
                (cfg.pulse_v_max - pulse_voltage(cfg, a)) / cfg.v_accel)
            for w in range(WIDTH_CODES):
                table[pol, a, w] = -math.expm1(-rate * pulse_width_s(cfg, w) / tau_s)
    table.setflags(write=False)
    return table


def pulse_step(cfg: MacroConfig, g_us, polarity, eta, eps):
    """Conductance after one pulse (elementwise).

    g_us: conductance before; polarity: 0/1 array; eta: nominal eta times the cell's
    device-to-device factor; eps: standard-normal cycle-to-cycle draw.
    """
    frac = np.minimum(np.maximum(eta * (1.0 + cfg.c2c_std * eps), 0.0), 1.0)
    up = g_us + frac * (cfg.g_ceiling_us - g_us)
    down = g_us - frac * (g_us - cfg.g_floor_us)
    return np.where(polarity == Polarity.SET, up, down)


class CellStatics:
    """Per-cell properties drawn once per (seed, macro_id): faults, d2d, drift, start.

    stuck: int8 array, 0 = healthy, 1 = SA0 (stuck at g_min), 2 = SA1 (stuck at g_max).
    """

    HEALTHY, SA0, SA1 = 0, 1, 2

    def __init__(self, cfg: MacroConfig, seed: int, macro_id: int):
        r = np.arange(cfg.rows, dtype=np.uint64)[:, None]
        c = np.arange(cfg.cols, dtype=np.uint64)[None, :]

        def draw(kind):
            return hash_words(key_prefix(seed, macro_id, kind), r, c)

        u = uniform(draw(Kind.FAULT))
        self.stuck = np.where(u < cfg.sa0_rate, self.SA0,
                              np.where(u < cfg.sa0_rate + cfg.sa1_rate, self.SA1,
                                       self.HEALTHY)).astype(np.int8)
        # d2d factor on eta, clipped to stay positive (a Gaussian cannot go below 0.1x).
        kinds = {Polarity.SET: Kind.D2D_SET, Polarity.RESET: Kind.D2D_RESET}
        self.d2d = np.stack([
            np.maximum(1.0 + cfg.d2d_std * gaussian(draw(kinds[pol])), 0.1)
            for pol in sorted(Polarity)])  # indexed by Polarity
        self.drift_z = gaussian(draw(Kind.DRIFT))
        g0 = cfg.g_initial_us + cfg.g_initial_std_us * gaussian(draw(Kind.INITIAL))
        self.g_initial = np.clip(g0, cfg.g_floor_us, cfg.g_ceiling_us)
        self.stuck_value = np.where(self.stuck == self.SA1, cfg.g_max_us, cfg.g_min_us)
