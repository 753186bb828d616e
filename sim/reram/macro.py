"""Behavioural model of one 1T1R ReRAM macro: programming port and MVM port.

The model answers the macro-port transactions of the crossbar controller: `pulse`,
`verify_read` and `mvm`. The cocotb bench calls it once per transaction, the golden
model calls it batched; both must see bit-identical results, hence the rules below.

Determinism rules (a contract with the RTL bench and the golden model):

* Every random number is a counter-based hash of (seed, macro_id, kind, index...)
  (`counter_rng`): MVM read noise by (column, op index), verify noise by (row, col,
  n-th verify of that cell), pulse noise and relaxation by (row, col, n-th pulse of
  that cell). Order of cells, batching and column subsets change nothing.
* The MVM sums conductances on an integer grid (g_unit / 1024) held in float64, so
  `planes @ G` is exact whatever the BLAS summation order.
* Only correctly rounded IEEE operations (+ - * / sqrt rint, min/max) and table
  look-ups are applied per element; logarithms and exponentials are evaluated once per
  distinct scalar (time, amplitude code) with Python's math module.

Bipolar row drive: a plane drives each row at +V_read (b_i = 1), 0 V (b_i = 0) or
-V_read (b_i = -1), so a signed input is applied as its sign and its magnitude bits
(sign-magnitude bit-serial input; the controller's choice, see contract.xbar).

Analogue reference: each column's current is compared with a reference column of
G_mid cells driven by the same rows, so the ADC sees I_j - I_ref = v_read *
sum_i b_i (G_ij - G_mid): weight 0 contributes nothing. The reference cells are
modelled as exact and noiseless (e.g. fixed resistors); only the weight cells carry
read noise, std_j = read_noise_rel * sqrt(sum_i |b_i| G_ij**2). v_read multiplies both
signal and ADC LSB (g_unit * v_read * 2**gain_shift), so the code is computed in
conductance units. IR drop (if on) attenuates a cell and the reference cell on the
same row equally, so to first order it scales each weight's contribution.

Relaxation (programming error) is a per-cell offset drawn at each pulse. Verify
reads see the cell right after the pulse (no relaxation yet: verify follows within
microseconds, relaxation takes ms-s [Wan22]); the MVM and `conductance()` see it.
A later pulse acts on the unrelaxed state and draws a new offset (simplification).
"""

import math

import numpy as np

from rmlora.contract.macro import GRID_PER_WEIGHT_UNIT, MacroConfig, weight_to_target_code

from ._checks import as_int, as_int_array, check_planes, check_unique_cells, check_weights
from .counter_rng import MASK64, Kind, gaussian, hash_words, key_prefix, uniform
from .device import (
    AMPLITUDE_CODES,
    WIDTH_CODES,
    CellStatics,
    eta_table,
    pulse_step,
    pulse_voltage,
    pulse_width_s,
)
from .energy import ENERGY_180NM, EnergyTable, MacroCounters
from .mvm_kernel import GAUSS, convert_bitserial, convert_planes

__all__ = ["ReramMacro"]


class ReramMacro:
    """One macro: state, the three port operations, statistical programming, counters."""

    def __init__(self, config: MacroConfig | None = None, seed: int = 0, macro_id: int = 0,
                 energy: EnergyTable = ENERGY_180NM):
        self.config = cfg = config if config is not None else MacroConfig()
        self.seed = as_int("seed", seed, 0, MASK64)
        self.macro_id = as_int("macro_id", macro_id, 0, MASK64)
        self.energy = energy
        self.statics = CellStatics(cfg, self.seed, self.macro_id)
        self._prefix = {k: key_prefix(self.seed, self.macro_id, k) for k in (
            Kind.MVM_NOISE, Kind.VERIFY_NOISE, Kind.PULSE_NOISE, Kind.RELAX,
            Kind.STAT_RESIDUAL, Kind.STAT_RELAX)}
        self._eta = eta_table(cfg)
        self._volts = np.array([pulse_voltage(cfg, a) for a in range(AMPLITUDE_CODES)])
        self._widths = np.array([pulse_width_s(cfg, w) for w in range(WIDTH_CODES)])
        shape = (cfg.rows, cfg.cols)
        self._g_prog = self.statics.g_initial.copy()
        self._relax = np.zeros(shape)
        self._t_prog = np.zeros(shape)
        self._n_pulse = np.zeros(shape, dtype=np.uint64)
        self._n_verify = np.zeros(shape, dtype=np.uint64)
        self._n_stat = np.zeros(shape, dtype=np.uint64)
        self._time = 0.0
        self._t_prog_max = 0.0
        i = (np.arange(cfg.rows)[:, None] + 0.5) / cfg.rows
        j = (np.arange(cfg.cols)[None, :] + 0.5) / cfg.cols
        self._ir = 1.0 - cfg.ir_drop_alpha * ((i + j) / 2.0)  # 1.0 exactly when off
        self._gref_q = np.rint(cfg.g_mid_us * self._ir / cfg.grid_us)
        self._cache = None
        # MVM noise key: the (seed, macro_id, kind, column) part is fixed, so it is
        # hashed once here; a conversion then costs one more mix with its op index.
        self._col_keys = hash_words(self._prefix[Kind.MVM_NOISE], np.arange(cfg.cols))
        # ADC LSB per gain shift, as its reciprocal: a power of two, so multiplying by
        # it is exactly dividing by the LSB (mvm_kernel relies on it)
        assert GRID_PER_WEIGHT_UNIT & (GRID_PER_WEIGHT_UNIT - 1) == 0
        self._inv_lsb = [1.0 / (GRID_PER_WEIGHT_UNIT << s) for s in range(cfg.max_gain_shift + 1)]
        self.counters = MacroCounters()

    # --- time and state views ---------------------------------------------------------
    @property
    def time(self) -> float:
        return self._time

    def set_time(self, seconds: float):
        """Move the array to `seconds` after time 0; drift is evaluated there."""
        seconds = float(seconds)
        if not (math.isfinite(seconds) and seconds >= self._t_prog_max):
            raise ValueError(f"seconds={seconds}: must be finite and >= the last "
                             f"programming time {self._t_prog_max}")
        self._time = seconds
        self._cache = None

    def _drift_us(self, idx):
        cfg = self.config
        dt = self._time - self._t_prog[idx]
        if cfg.drift_us_per_decade == 0.0 or not np.any(dt):
            return 0.0
        # log10 once per distinct elapsed time, in scalar math (see module docstring).
        uniq, inv = np.unique(dt, return_inverse=True)
        decades = np.array([math.log10(1.0 + x / cfg.drift_t0_s) for x in uniq])
        return self.statics.drift_z[idx] * cfg.drift_us_per_decade * decades[inv].reshape(
            dt.shape)

    def _view(self, idx, relaxed: bool):
        cfg = self.config
        g = self._g_prog[idx] + self._relax[idx] if relaxed else self._g_prog[idx]
        g = np.clip(g + self._drift_us(idx), cfg.g_floor_us, cfg.g_ceiling_us)
        stuck = self.statics.stuck[idx] != 0
        return np.where(stuck, self.statics.stuck_value[idx], g)

    def conductance(self) -> np.ndarray:
        """True conductance (uS) of every cell at the current time (no read noise, no
        IR drop: that is a property of the wires, applied in the MVM)."""
        return self._view((slice(None), slice(None)), relaxed=True)

    def reset_counters(self):
        self.counters = MacroCounters()

    def _cells(self, row, col):
        cfg = self.config
        r = as_int_array("row", row, 0, cfg.rows - 1)
        c = as_int_array("col", col, 0, cfg.cols - 1)
        r, c = np.broadcast_arrays(np.atleast_1d(r), np.atleast_1d(c))
        check_unique_cells(r, c, cfg.cols)
        return r, c

    def _touch(self, idx):
        self._t_prog[idx] = self._time
        self._t_prog_max = self._time
        self._cache = None

    # --- programming port -------------------------------------------------------------
    def pulse(self, row, col, polarity, amplitude, width):
        """Apply one programming pulse to a cell (or to distinct cells, vectorised).

        polarity: Polarity.SET (raise G) or Polarity.RESET (lower G), or their values;
        amplitude, width: codes 0..15. Stuck cells count the pulse but do not move.
        """
        r, c = self._cells(row, col)
        pol = as_int_array("polarity", polarity, 0, 1)
        amp = as_int_array("amplitude", amplitude, 0, AMPLITUDE_CODES - 1)
        wid = as_int_array("width", width, 0, WIDTH_CODES - 1)
        r, c, pol, amp, wid = np.broadcast_arrays(r, c, pol, amp, wid)
        cfg, idx = self.config, (r, c)
        n = self._n_pulse[idx]
        g = self._view(idx, relaxed=False)
        eps = gaussian(hash_words(self._prefix[Kind.PULSE_NOISE], r, c, n))
        eta = self._eta[pol, amp, wid] * self.statics.d2d[pol, r, c]
        g_new = pulse_step(cfg, g, pol, eta, eps)
        healthy = self.statics.stuck[idx] == 0
        hr, hc = r[healthy], c[healthy]
        self._g_prog[hr, hc] = g_new[healthy]
        if cfg.program_error_std_us > 0.0:
            z = gaussian(hash_words(self._prefix[Kind.RELAX], hr, hc, n[healthy]))
            self._relax[hr, hc] = cfg.program_error_std_us * z
        else:
            self._relax[hr, hc] = 0.0
        self._n_pulse[idx] += np.uint64(1)
        self._touch((hr, hc))
        v, w_s = self._volts[amp], self._widths[wid]
        self.counters.pulses += r.size
        self.counters.add_energy(
            "pulse", float(np.sum(v * v * g * 1e-6 * w_s)) + r.size * self.energy.pulse_overhead_j,
            float(np.sum(w_s)) + r.size * self.energy.pulse_setup_s)

    def verify_read(self, row, col):
        """Quantised, noisy conductance code of a cell: clip(rint((G + noise - g_min) /
        verify_lsb), 0, 2**verify_bits - 1). Returns an int (an array for array input)."""
        scalar = np.ndim(row) == 0 and np.ndim(col) == 0
        r, c = self._cells(row, col)
        cfg, idx = self.config, (r, c)
        g = self._view(idx, relaxed=False)
        z = gaussian(hash_words(self._prefix[Kind.VERIFY_NOISE], r, c, self._n_verify[idx]))
        noisy = g + g * cfg.verify_noise_rel * z
        code = np.clip(np.rint((noisy - cfg.g_min_us) / cfg.verify_lsb_us), 0,
                       cfg.verify_max_code).astype(np.int64)
        self._n_verify[idx] += np.uint64(1)
        e = self.energy
        self.counters.verify_reads += r.size
        self.counters.add_energy(
            "verify", float(np.sum(g)) * 1e-6 * cfg.v_read ** 2 * e.verify_read_s
            + r.size * e.verify_sense_j, r.size * e.verify_read_s)
        return int(code.reshape(-1)[0]) if scalar else code

    def weight_to_target_code(self, w):
        return weight_to_target_code(self.config, w)

    def program_ideal(self, weights, row0: int = 0, col0: int = 0):
        """Set healthy cells of a block exactly to their targets (tests, references).
        Stuck cells stay stuck; no counters (this is not a physical operation)."""
        cfg = self.config
        w, row0, col0 = check_weights(weights, cfg.w_max, row0, col0, cfg.rows, cfg.cols)
        blk = (slice(row0, row0 + w.shape[0]), slice(col0, col0 + w.shape[1]))
        self._g_prog[blk] = cfg.g_mid_us + w * cfg.g_unit_us
        self._relax[blk] = 0.0
        self._touch(blk)

    def program_statistical(self, weights, row0: int = 0, col0: int = 0):
        """Outcome of a converged write-verify without simulating pulses (Monte Carlo).

        G = target + residual + program_error: the residual is uniform over the
        acceptance band (+-(tolerance + 0.5 LSB) of the verify code), program_error
        Gaussian with std program_error_std_us. Stuck cells stay stuck. Energy and time
        are estimated with `EnergyTable.statistical_pulses_per_cell`.
        """
        cfg = self.config
        w, row0, col0 = check_weights(weights, cfg.w_max, row0, col0, cfg.rows, cfg.cols)
        blk = (slice(row0, row0 + w.shape[0]), slice(col0, col0 + w.shape[1]))
        r = np.arange(row0, row0 + w.shape[0])[:, None]
        c = np.arange(col0, col0 + w.shape[1])[None, :]
        n = self._n_stat[blk]
        band = (cfg.verify_tolerance_codes + 0.5) * cfg.verify_lsb_us
        u = uniform(hash_words(self._prefix[Kind.STAT_RESIDUAL], r, c, n))
        self._g_prog[blk] = cfg.g_mid_us + w * cfg.g_unit_us + (2.0 * u - 1.0) * band
        z = gaussian(hash_words(self._prefix[Kind.STAT_RELAX], r, c, n))
        self._relax[blk] = cfg.program_error_std_us * z
        self._n_stat[blk] += np.uint64(1)
        self._touch(blk)
        e, cells = self.energy, w.size
        mid_v = pulse_voltage(cfg, AMPLITUDE_CODES // 2)
        mid_w = pulse_width_s(cfg, WIDTH_CODES // 2)
        per_cell = e.statistical_pulses_per_cell
        self.counters.cells_programmed_statistical += cells
        self.counters.add_energy(
            "pulse", cells * per_cell * e.pulse_energy_j(mid_v, cfg.g_mid_us, mid_w),
            cells * per_cell * e.pulse_time_s(mid_w))
        self.counters.add_energy(
            "verify", cells * (per_cell + 1) * e.verify_energy_j(cfg.v_read, cfg.g_mid_us),
            cells * (per_cell + 1) * e.verify_read_s)

    # --- compute port -----------------------------------------------------------------
    def _mvm_arrays(self):
        """[0] = G - G_ref and [1] = G**2 on the integer grid, IR drop applied (signal and
        noise variance of a plane are one matmul each); rebuilt on change."""
        if self._cache is None:
            cfg = self.config
            g_q = np.rint(self.conductance() * self._ir / cfg.grid_us)
            self._cache = np.stack([g_q - self._gref_q, g_q * g_q])
        return self._cache

    def _tile_args(self, row0, col0, n_cols, gain_shift) -> tuple[int, int, int, int]:
        """The MVM's tile and ADC gain, checked against the array."""
        cfg = self.config
        row0 = as_int("row0", row0, 0, cfg.rows - 1)
        col0 = as_int("col0", col0, 0, cfg.cols - 1)
        n_cols = as_int("n_cols", n_cols, 1, cfg.cols - col0)
        gain_shift = as_int("gain_shift", gain_shift, 0, cfg.max_gain_shift)
        return row0, col0, n_cols, gain_shift

    def mvm(self, planes, row0: int, col0: int, n_cols: int, gain_shift: int,
            op_index) -> np.ndarray:
        """Signed ADC codes (B, n_cols) int32 of B bit-plane inputs.

        planes: (B, n_rows) of -1/0/1 driving rows row0..row0+n_rows-1 (others at 0).
        Plane b is conversion number op_index + b (keys its read noise), or op_index[b]
        when op_index is an array of B indices, so converting
        planes one at a time or batched, and any subset of columns, gives equal codes.
        code = clip(rint((sum_i b_i (G_ij - G_mid) + noise_j) / (g_unit * 2**gain_shift))).
        """
        cfg = self.config
        row0, col0, n_cols, gain_shift = self._tile_args(row0, col0, n_cols, gain_shift)
        p = check_planes(planes, cfg.rows, row0)
        b, n_rows = p.shape
        if np.ndim(op_index) == 0:
            op_index = as_int("op_index", op_index, 0, MASK64 - b)
            ops = np.arange(op_index, op_index + b, dtype=np.uint64)[:, None]
        else:  # one explicit index per plane (the golden model's interleaved batches)
            ops = as_int_array("op_index", op_index, 0, MASK64).astype(np.uint64)
            if ops.shape != (b,):
                raise ValueError(f"op_index has shape {ops.shape}; expected ({b},)")
            ops = ops[:, None]
        g = self._mvm_arrays()
        codes, driven, empty = convert_planes(
            np.ascontiguousarray(p, dtype=np.int8), row0, g[0], g[1], col0, n_cols, self._col_keys,
            np.ascontiguousarray(ops.reshape(-1)), cfg.read_noise_rel, self._inv_lsb[gain_shift],
            float(cfg.adc_min), float(cfg.adc_max), GAUSS)
        self.counters.count_mvm(self.energy, cfg, b, n_cols, driven, empty)
        return codes

    def mvm_bitserial(self, x, row0: int, col0: int, n_cols: int, gain_shift: int, op_start,
                      bits: int, reads: int = 1) -> np.ndarray:
        """Signed ADC codes (B, bits, n_cols) int32 of B integer vectors x (B, n_rows),
        |x| < 2**bits, driven sign-magnitude (rmlora.contract.xbar): plane p drives the
        rows whose |x| has bit p set, at sign(x), and is converted `reads` times, read r
        being conversion op_start[k] + p * reads + r of vector k; each entry is the sum
        of its plane's codes. Equal, code for code and counter for counter, to `mvm`
        called with those planes, once per conversion, and summed (tests/sim/test_mvm.py);
        it only saves building them."""
        cfg = self.config
        row0, col0, n_cols, gain_shift = self._tile_args(row0, col0, n_cols, gain_shift)
        bits = as_int("bits", bits, 1, 31)
        # the contract's at most 2**3; the bound keeps the sums of the codes in int32
        reads = as_int("reads", reads, 1, 1 << min(8, 32 - cfg.adc_bits))
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0 or row0 + x.shape[1] > cfg.rows:
            raise ValueError(f"x: must be (B, n_rows) with B, n_rows > 0 and row0 + n_rows <= "
                             f"{cfg.rows}, got shape {x.shape} at row0={row0}")
        x = np.ascontiguousarray(as_int_array("x", x, -(1 << bits) + 1, (1 << bits) - 1))
        ops = as_int_array("op_start", op_start, 0, MASK64 - bits * reads).astype(np.uint64)
        if ops.shape != (x.shape[0],):
            raise ValueError(f"op_start has shape {ops.shape}; expected ({x.shape[0]},)")
        g = self._mvm_arrays()
        codes, driven, empty = convert_bitserial(
            x, bits, reads, row0, g[0], g[1], col0, n_cols, self._col_keys, ops,
            cfg.read_noise_rel, self._inv_lsb[gain_shift], float(cfg.adc_min),
            float(cfg.adc_max), GAUSS)
        self.counters.count_mvm(self.energy, cfg, x.shape[0] * bits * reads, n_cols, driven,
                                empty)
        return codes
