"""Per-operation energy and time: every entry names its source.

Digital operations come from M. Horowitz, "Computing's energy problem (and what we
can do about it)", ISSCC 2014 [Hor14], given there for 45 nm at 0.9 V, and are
scaled to the chip's node with the constant-field rule: dynamic energy C V**2 with
C proportional to the feature size and V to the supply, so energy scales by
(node / 45 nm) * (vdd / 0.9 V)**2 (x16 at 180 nm, 1.8 V). The ReRAM macro's
operations (pulses, verify reads, row drive, cell read, ADC) are the macro model's
own table (rmlora.sim.reram.energy, which cites its sources), computed from
physics where it can be.

These are order-of-magnitude figures: the folds they give are comparable with the
published ones in kind, not to the digit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rmlora.contract.macro import MacroConfig
from rmlora.contract.xbar import MACRO_LATENCY, MACRO_LATENCY_CLOCK_HZ, MacroOp
from rmlora.sim.reram.energy import ENERGY_180NM, EnergyTable

__all__ = ["DEFAULT_CLOCK_HZ", "OpTable", "table_for"]

HOR14_NODE_NM, HOR14_VDD = 45.0, 0.9

# [Hor14] Fig. 1.1.9, 45 nm, 0.9 V (pJ).
HOR14_PJ = {
    "int8_add": 0.03,
    "int32_add": 0.1,
    "int8_mult": 0.2,
    "int32_mult": 3.1,
    "fp32_add": 0.9,
    "fp32_mult": 3.7,
    # 64-bit read from an 8 KB / 32 KB / 1 MB SRAM (the chip's buffer is 64 KiB: the
    # 32 KB figure is the nearest published one, an underestimate; the LoRA unit's
    # adapter cache is 4 KiB: the 8 KB figure, an overestimate).
    "sram_read_64b_8kb": 10.0,
    "sram_read_64b_32kb": 20.0,
}


def scale(pj: float, node_nm: float, vdd: float, from_nm: float = HOR14_NODE_NM,
          from_vdd: float = HOR14_VDD) -> float:
    """An energy in pJ quoted at (from_nm, from_vdd), default [Hor14]'s 45 nm, 0.9 V,
    at another node and supply, in joules (constant-field rule)."""
    return pj * 1e-12 * (node_nm / from_nm) * (vdd / from_vdd) ** 2


@dataclass(frozen=True)
class OpTable:
    """Energy (J) and time (s) of each operation the cost model counts."""

    node_nm: float
    vdd: float
    # The digital clock the chip is priced at. The simulated chip runs at
    # MACRO_LATENCY_CLOCK_HZ (100 MHz); at another clock its digital cycles take
    # 1/clock_hz each and the macros' waits keep their time in ns (``time_s``).
    clock_hz: float
    mac_int8_j: float  # int8 x int8 product + int32 accumulate (the LoRA PE)
    sram_word_j: float  # one 64-bit SRAM word read or written (write assumed = read)
    cache_word_j: float  # one 64-bit word read from a small local buffer (adapter cache)
    fp32_mac_j: float  # one fp32 multiply-add on a digital training engine
    fp32_op_j: float  # one other fp32 operation (optimizer arithmetic): mean of add, mult
    # Sequencer, descriptor decode and clock tree per cycle: assumed 10 pJ at 180 nm
    # (a few thousand flip-flops toggling at ~1 fF and 1.8 V), scaled like [Hor14].
    control_cycle_j: float
    bus_cycles_per_word: float  # bulk-port cycles per 32-bit word written (make bench)
    macro: EnergyTable = field(default=ENERGY_180NM)

    @property
    def cycle_s(self) -> float:
        return 1.0 / self.clock_hz

    def time_s(self, cycles: float, macro_ops: dict[MacroOp, float] | None = None) -> float:
        """Seconds of a run the simulated chip took ``cycles`` (at 100 MHz) for, of
        which ``macro_ops`` (operations by kind) each waited MACRO_LATENCY cycles for
        the macros. The waits are analogue time, the same at any clock; the controller
        issues one macro operation at a time (golden xbar.mvm_cycles sums them), so
        they lie on the run's path. The rest are digital cycles at ``clock_hz``."""
        waits = sum(n * MACRO_LATENCY[op] for op, n in (macro_ops or {}).items())
        if waits > cycles:
            raise ValueError(f"macro waits ({waits} cycles) exceed the run ({cycles} cycles)")
        return (cycles - waits) / self.clock_hz + waits / MACRO_LATENCY_CLOCK_HZ

    def adc_j(self, cfg: MacroConfig) -> float:
        return self.macro.adc_energy_j(cfg.adc_bits)

    def row_drive_j(self, cfg: MacroConfig) -> float:
        """One active row of one plane: its word line across the macro's columns."""
        return self.macro.row_drive_energy_j(cfg.cols)

    def cell_read_j(self, cfg: MacroConfig) -> float:
        """The cells of one active row conducting for one plane's integration time
        (G_mid each, the macro model's estimate)."""
        return cfg.cols * cfg.v_read ** 2 * cfg.g_mid_us * 1e-6 * self.macro.mvm_integration_s


# The digital clock the cost model prices the chip at, from this RTL's implementation
# (README, "Clock"): `make fpga` places and routes it on a 40 nm ECP5 at 29.4 MHz (the
# crossbar controller's descriptor check; 14.7 MHz before the LoRA unit was
# pipelined, when this was 10 MHz). At one node a standard-cell ASIC's critical path
# is 3-4x shorter than an FPGA's (Kuon and Rose, IEEE TCAD 26(2), 2007); gate delay
# grows about with feature size, 4.5x from 40 to 180 nm. So 29.4 MHz x 3-4 / 4.5 =
# 19.6-26 MHz at 180 nm: 20 MHz, the low end rounded. With more registers the chip
# reaches 50.2 MHz on an LFE5U-85F (2026-12-01: 33.5-44.6 MHz by the same rule); 20 MHz
# is kept, conservative, until every time figure of the README is re-run at a new clock.
DEFAULT_CLOCK_HZ = 20e6


def table_for(node_nm: float = 180.0, vdd: float = 1.8,
              clock_hz: float = DEFAULT_CLOCK_HZ) -> OpTable:
    """The table at a process node (default: the paper's 180 nm prototype at 1.8 V)
    and digital clock (default: DEFAULT_CLOCK_HZ, see there)."""
    if not (node_nm > 0 and vdd > 0 and clock_hz > 0):
        raise ValueError(f"node_nm, vdd and clock_hz must be > 0, got {node_nm}, {vdd}, "
                         f"{clock_hz}")
    h = {k: scale(v, node_nm, vdd) for k, v in HOR14_PJ.items()}
    return OpTable(
        node_nm=node_nm, vdd=vdd, clock_hz=clock_hz,
        mac_int8_j=h["int8_mult"] + h["int32_add"],
        sram_word_j=h["sram_read_64b_32kb"],
        cache_word_j=h["sram_read_64b_8kb"],
        fp32_mac_j=h["fp32_mult"] + h["fp32_add"],
        fp32_op_j=(h["fp32_mult"] + h["fp32_add"]) / 2,
        control_cycle_j=scale(10.0, node_nm, vdd, from_nm=180.0, from_vdd=1.8),
        # benchmarks/bench_bus.py: 0.52 cycles per 32-bit SRAM word through the bulk
        # port (AXI4 bursts of 64-bit beats, 4 KiB in 535 cycles); 7.0 through the
        # AXI4-Lite window before it, 9.0 one whole handshake after another
        bus_cycles_per_word=0.52,
    )
