"""The analogue macro's parameter sheet: geometry, conductance window, converters, physics.

It is part of the contract because three sides read it: the compiler maps weights to
conductance targets with it, the macro model (rmlora.sim.reram) behaves by it, and the
cost model prices its operations. The geometry and the converter resolutions of a chip
come from its ChipParams (`MacroConfig.for_chip`), so they are defined once.

Every physical number carries its source. Where a figure is not taken from a
measurement it says "assumed" and why, so that a reader can change it knowingly.

References used in this package:

* [Wong12]  H.-S. P. Wong et al., "Metal-Oxide RRAM", Proc. IEEE 100(6), 2012.
* [Chen17]  P.-Y. Chen, X. Peng, S. Yu, "NeuroSim+: An integrated device-to-algorithm
            framework for benchmarking synaptic devices and array architectures",
            IEDM 2017 (saturating, nonlinear conductance-vs-pulse response).
* [Yao20]   P. Yao et al., "Fully hardware-implemented memristor convolutional neural
            network", Nature 577, 641-646, 2020 (write-verify of a CIM array).
* [Wan22]   W. Wan et al., "A compute-in-memory chip based on resistive random-access
            memory", Nature 608, 504-512, 2022 (incremental-pulse write-verify, number
            of pulses per cell, conductance relaxation after programming).
* [Amb18]   S. Ambrogio et al., "Equivalent-accuracy accelerated neural-network
            training using analogue memory", Nature 558, 60-67, 2018 (drift of
            analogue conductances over log time).
* [Paper]   arXiv 2601.10037, the rmlora reference design (128x128 1T1R macro,
            midpoint weight code, programming-error sweeps of std 1-10).
"""

from dataclasses import dataclass, replace

import numpy as np

from .checks import as_int_array
from .params import ChipParams

__all__ = ["MacroConfig", "GRID_PER_WEIGHT_UNIT", "weight_to_target_us", "weight_to_target_code"]

_CHIP = ChipParams()

# The MVM sums conductances on an integer grid of g_unit / 1024 (about 0.23 nS at the
# default window). A power-of-two fraction of the weight unit makes an ideally
# programmed cell sit exactly w * 1024 grid steps from the reference, so the ideal
# MVM is exact integer arithmetic; 0.23 nS is far below any physical effect modelled.
GRID_PER_WEIGHT_UNIT = 1024


def _check(name: str, value, lo, hi, integer: bool = False):
    """Raise ValueError naming the field unless lo <= value <= hi (and int if asked)."""
    if integer and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{name}={value!r}: must be an integer in [{lo}, {hi}]")
    if not (lo <= value <= hi):
        raise ValueError(f"{name}={value!r}: must be in [{lo}, {hi}]")


@dataclass(frozen=True)
class MacroConfig:
    """One 1T1R macro. Conductances in uS, voltages in V, times in s unless named."""

    # Geometry and converter resolutions: a chip's macro port (ChipParams, the paper's
    # 128x128 macro; `for_chip`). The verify read is an 8-bit code over [g_min, g_max]
    # (LSB 0.235 uS by default); the MVM's ADC gives signed codes with
    # LSB = g_unit * v_read * 2**gain_shift.
    rows: int = _CHIP.macro_rows
    cols: int = _CHIP.macro_cols
    verify_bits: int = _CHIP.verify_bits
    adc_bits: int = _CHIP.adc_bits

    # Weight window: a signed weight w targets G_mid + w * g_unit with G_mid the middle
    # of [g_min, g_max] [Paper]. 20-80 uS lies inside the analogue range of HfOx 1T1R
    # cells (roughly 1-100+ uS, [Wong12], [Wan22]).
    g_min_us: float = 20.0
    g_max_us: float = 80.0
    weight_bits: int = 8

    # Bounds the pulse response saturates towards (dG ~ (bound - G), [Chen17]). They lie
    # outside the weight window so that the window's edges are reachable in finite
    # pulses; 5 uS HRS and 100 uS LRS are assumed, typical of [Wong12] HfOx devices.
    g_floor_us: float = 5.0
    g_ceiling_us: float = 100.0
    # Fresh cells: RESET to the bottom of the window after forming, with a spread
    # (assumed: the forming/RESET state is itself stochastic, [Wong12]).
    g_initial_us: float = 20.0
    g_initial_std_us: float = 1.0

    # Read voltage: small enough not to disturb the cell; 0.1-0.2 V is usual [Wan22].
    v_read: float = 0.2

    # Write-verify acceptance band, +-1 uS: "a few uS" [Paper]; [Wan22] accept a band
    # of about +-1 uS. Expressed in verify codes by `verify_tolerance_codes`.
    verify_tolerance_us: float = 1.0
    # Verify-read noise, relative to G (assumed equal to the MVM read noise).
    verify_noise_rel: float = 0.01

    # Pulse response dG = eta * (bound - G) * (1 + c2c * eps) [Chen17], where
    # eta = 1 - exp(-t / tau(V)) and tau(V) = tau_ref * exp((v_max - V) / v_accel):
    # switching time falls exponentially with voltage ("voltage-time dilemma", [Wong12]).
    # Amplitude code 0..15 spans pulse_v_min..pulse_v_max, width code 0..15 spans
    # pulse_width_min_ns..pulse_width_max_ns (both linear). The numbers are assumed, tuned
    # so that an incremental-pulse write-verify needs 5-20 pulses as in [Wan22], [Yao20].
    pulse_v_min: float = 1.0
    pulse_v_max: float = 2.0
    pulse_width_min_ns: float = 10.0
    pulse_width_max_ns: float = 160.0
    tau_ref_ns: float = 400.0
    v_accel: float = 0.15
    # RESET is more gradual than SET in filamentary oxide RRAM [Wong12]; ratio assumed.
    reset_rate_ratio: float = 0.5
    # Device-to-device spread of eta (per cell, per polarity) and cycle-to-cycle noise of
    # each pulse, relative. Both assumed 30 %: [Wong12] and [Wan22] show large spreads.
    d2d_std: float = 0.3
    c2c_std: float = 0.3

    # (a) Programming error left after verify: relaxation right after programming,
    # Gaussian std in uS. 0 = off; the paper sweeps 1-10 [Paper], [Wan22] ED Fig. 3.
    program_error_std_us: float = 0.0
    # (b) Read noise of the MVM, relative std of each cell's conductance (1 %, [Paper]).
    read_noise_rel: float = 0.01
    # (c) Drift: per-cell Gaussian direction z, shift z * drift_us_per_decade *
    # log10(1 + t / drift_t0_s) since programming. Log-time growth as in [Amb18] (PCM)
    # and [Wan22] (RRAM relaxation); 0.5 uS per decade is assumed.
    drift_us_per_decade: float = 0.5
    drift_t0_s: float = 1.0
    # (d) Stuck-at faults, drawn once per seed: SA0 stuck at g_min, SA1 at g_max.
    # Typical rates are 0.1-2 % (architecture brief); off by default.
    sa0_rate: float = 0.0
    sa1_rate: float = 0.0
    # (e) IR drop: cell (i, j) contributes with factor 1 - alpha * ((i + .5) / rows +
    # (j + .5) / cols) / 2 (first-order wire attenuation, far corner worst). Off.
    ir_drop_alpha: float = 0.0
    # (f) ADC: the largest gain shift the converter's reference ladder offers.
    max_gain_shift: int = 16

    @classmethod
    def for_chip(cls, params: ChipParams, **physics) -> "MacroConfig":
        """The macro of a chip: geometry and converters from its params, physics given."""
        return cls(**physics, **_chip_fields(params))

    def check_fits(self, params: ChipParams):
        """Refuse a macro model whose geometry or converters differ from the chip's port."""
        mine = {k: getattr(self, k) for k in _chip_fields(params)}
        if mine != _chip_fields(params):
            raise ValueError(f"macro model has {mine}, the chip's macro port "
                             f"{_chip_fields(params)}")

    def with_chip(self, params: ChipParams) -> "MacroConfig":
        """This macro's physics on another chip's geometry and converters."""
        return replace(self, **_chip_fields(params))

    def __post_init__(self):
        _check("rows", self.rows, 1, 4096, integer=True)
        _check("cols", self.cols, 1, 4096, integer=True)
        _check("g_min_us", self.g_min_us, 0.1, 1000.0)
        _check("g_max_us", self.g_max_us, self.g_min_us + 1.0, 1000.0)
        _check("weight_bits", self.weight_bits, 2, 12, integer=True)
        _check("g_floor_us", self.g_floor_us, 0.0, self.g_min_us)
        _check("g_ceiling_us", self.g_ceiling_us, self.g_max_us, 1000.0)
        _check("g_initial_us", self.g_initial_us, self.g_floor_us, self.g_ceiling_us)
        _check("g_initial_std_us", self.g_initial_std_us, 0.0, 100.0)
        _check("v_read", self.v_read, 0.01, 1.0)
        _check("verify_bits", self.verify_bits, 2, 16, integer=True)
        _check("verify_tolerance_us", self.verify_tolerance_us, self.verify_lsb_us,
               (self.g_max_us - self.g_min_us) / 4)
        _check("verify_noise_rel", self.verify_noise_rel, 0.0, 0.5)
        _check("pulse_v_min", self.pulse_v_min, 0.1, 10.0)
        _check("pulse_v_max", self.pulse_v_max, self.pulse_v_min, 10.0)
        _check("pulse_width_min_ns", self.pulse_width_min_ns, 0.1, 1e6)
        _check("pulse_width_max_ns", self.pulse_width_max_ns, self.pulse_width_min_ns, 1e6)
        _check("tau_ref_ns", self.tau_ref_ns, 0.1, 1e9)
        _check("v_accel", self.v_accel, 0.01, 10.0)
        _check("reset_rate_ratio", self.reset_rate_ratio, 0.01, 100.0)
        _check("d2d_std", self.d2d_std, 0.0, 1.0)
        _check("c2c_std", self.c2c_std, 0.0, 1.0)
        _check("program_error_std_us", self.program_error_std_us, 0.0, 50.0)
        _check("read_noise_rel", self.read_noise_rel, 0.0, 0.5)
        _check("drift_us_per_decade", self.drift_us_per_decade, 0.0, 50.0)
        _check("drift_t0_s", self.drift_t0_s, 1e-9, 1e9)
        _check("sa0_rate", self.sa0_rate, 0.0, 1.0)
        _check("sa1_rate", self.sa1_rate, 0.0, 1.0 - self.sa0_rate)
        _check("ir_drop_alpha", self.ir_drop_alpha, 0.0, 0.5)
        _check("adc_bits", self.adc_bits, 2, 24, integer=True)
        _check("max_gain_shift", self.max_gain_shift, 0, 30, integer=True)
        # Exact MVM: sum over rows of (G on the grid)**2 must stay below 2**53.
        top = self.g_ceiling_us / self.grid_us
        if self.rows * top * top >= 2.0**53:
            raise ValueError(f"rows={self.rows}: too many rows for an exact float64 MVM "
                             f"with g_ceiling_us={self.g_ceiling_us}")

    # Derived quantities -------------------------------------------------------------
    @property
    def w_max(self) -> int:
        """Largest weight magnitude: 2**(weight_bits-1) - 1 (symmetric code)."""
        return (1 << (self.weight_bits - 1)) - 1

    @property
    def g_mid_us(self) -> float:
        """Conductance of weight 0 and of the reference column."""
        return (self.g_min_us + self.g_max_us) / 2

    @property
    def g_unit_us(self) -> float:
        """Conductance step of one weight LSB."""
        return (self.g_max_us - self.g_min_us) / 2 / self.w_max

    @property
    def grid_us(self) -> float:
        """Step of the integer grid the MVM sums on."""
        return self.g_unit_us / GRID_PER_WEIGHT_UNIT

    @property
    def verify_lsb_us(self) -> float:
        return (self.g_max_us - self.g_min_us) / ((1 << self.verify_bits) - 1)

    @property
    def verify_max_code(self) -> int:
        return (1 << self.verify_bits) - 1

    @property
    def verify_tolerance_codes(self) -> int:
        """Acceptance band of write-verify in verify codes: |code - target| <= this."""
        return int(self.verify_tolerance_us / self.verify_lsb_us)

    @property
    def adc_min(self) -> int:
        return -(1 << (self.adc_bits - 1))

    @property
    def adc_max(self) -> int:
        return (1 << (self.adc_bits - 1)) - 1


def _chip_fields(params: ChipParams) -> dict:
    return {"rows": params.macro_rows, "cols": params.macro_cols,
            "adc_bits": params.adc_bits, "verify_bits": params.verify_bits}


def weight_to_target_us(cfg: MacroConfig, w):
    """Target conductance (uS) of signed weight(s) w: G_mid + w * g_unit [Paper]."""
    w = as_int_array("weight", w, -cfg.w_max, cfg.w_max)
    return cfg.g_mid_us + w * cfg.g_unit_us


def weight_to_target_code(cfg: MacroConfig, w):
    """Verify-read code of the target conductance of weight(s) w (int or int array)."""
    code = np.rint((weight_to_target_us(cfg, w) - cfg.g_min_us) / cfg.verify_lsb_us)
    code = np.clip(code, 0, cfg.verify_max_code).astype(np.int64)
    return int(code) if code.ndim == 0 else code
