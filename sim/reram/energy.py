"""Per-operation energy and time of the macro, and the activity counters.

Estimates for a 180 nm 1T1R macro (the paper's prototype node [Paper]). Where no
published per-operation figure for this exact macro exists, the entry says "assumed"
and how it was derived; the cost model should treat them as order-of-magnitude
figures and report them as such. Cell energies are computed from physics (V**2 G t).
"""

from dataclasses import asdict, dataclass, field

__all__ = ["EnergyTable", "ENERGY_180NM", "MacroCounters"]


@dataclass(frozen=True)
class EnergyTable:
    # --- programming -------------------------------------------------------------
    # Energy in the cell is V**2 * G * t of the actual pulse (computed per pulse).
    # Driver/level-shifter overhead per pulse: assumed 5 pJ, i.e. charging ~1 pF of
    # bit/source line and driver at ~2 V (C V**2 = 4 pJ) at 180 nm.
    pulse_overhead_j: float = 5e-12
    # Set-up and settling around each pulse, added to its width: assumed 50 ns
    # (driver switching and line settling at 180 nm).
    pulse_setup_s: float = 50e-9
    # --- verify read ---------------------------------------------------------------
    # Single-cell verify read: sense time assumed 100 ns (a 180 nm current sense
    # amplifier resolving 8 bits of 20-80 uS at 0.2 V; [Wan22] reads in the us range
    # including their ADC). Sense-amplifier energy assumed 2 pJ per read.
    verify_read_s: float = 100e-9
    verify_sense_j: float = 2e-12
    # --- MVM -----------------------------------------------------------------------
    # Row drive: the word line of an active row swings VDD = 1.8 V (180 nm core
    # supply) across ~1 fF per cell (assumed, gate plus wire); computed per row as
    # cols * c_row_per_cell_f * vdd**2 (0.41 pJ for 128 columns).
    c_row_per_cell_f: float = 1e-15
    vdd: float = 1.8
    # Integration (row settle + sample) per plane: assumed 20 ns.
    mvm_integration_s: float = 20e-9
    # ADC: 8-bit SAR at 180 nm. Walden figure of merit assumed 100 fJ/conversion-step,
    # within the range of published 180 nm SAR ADCs (B. Murmann, "ADC Performance
    # Survey 1997-2024", online). Energy = FoM * 2**adc_bits (25.6 pJ at 8 bits).
    adc_fom_j_per_step: float = 100e-15
    # Conversion time assumed 100 ns (10 MS/s SAR at 180 nm); 8 columns share one ADC
    # (assumed column multiplexing, common in RRAM CIM macros for area).
    adc_conversion_s: float = 100e-9
    columns_per_adc: int = 8
    # Statistical programming (no per-pulse simulation): pulses per cell = the mean of
    # the reference write_verify_cell on the default config (11.4 over 1024 random
    # weights from fresh cells, measured; [Wan22] ED Fig. 3f shows a similar spread).
    statistical_pulses_per_cell: float = 11.4

    def pulse_energy_j(self, v: float, g_us: float, width_s: float) -> float:
        return v * v * g_us * 1e-6 * width_s + self.pulse_overhead_j

    def pulse_time_s(self, width_s: float) -> float:
        return width_s + self.pulse_setup_s

    def verify_energy_j(self, v_read: float, g_us: float) -> float:
        return v_read * v_read * g_us * 1e-6 * self.verify_read_s + self.verify_sense_j

    def adc_energy_j(self, adc_bits: int) -> float:
        return self.adc_fom_j_per_step * (1 << adc_bits)

    def row_drive_energy_j(self, cols: int) -> float:
        return cols * self.c_row_per_cell_f * self.vdd * self.vdd

    def plane_time_s(self, n_cols: int) -> float:
        """One bit-plane conversion: integrate, then convert n_cols over shared ADCs."""
        rounds = -(-n_cols // self.columns_per_adc)
        return self.mvm_integration_s + rounds * self.adc_conversion_s


ENERGY_180NM = EnergyTable()


@dataclass
class MacroCounters:
    """Activity of one macro since construction or reset_counters()."""

    pulses: int = 0
    verify_reads: int = 0
    mvm_ops: int = 0              # bit planes converted
    adc_conversions: int = 0      # converted planes * n_cols
    row_activations: int = 0      # active (1) inputs summed over planes
    # planes asked for that drive no row: their codes are exactly 0 (no current, no
    # noise), so the macro gates its ADCs and converts nothing: these planes and the
    # conversions they did not cost
    empty_planes: int = 0
    adc_skipped: int = 0
    cells_programmed_statistical: int = 0
    energy_j: float = 0.0
    time_s: float = 0.0
    energy_by_op: dict = field(default_factory=lambda: {
        "pulse": 0.0, "verify": 0.0, "adc": 0.0, "row_drive": 0.0, "cell_read": 0.0})

    def as_dict(self) -> dict:
        return asdict(self)

    def __getitem__(self, name: str):
        return getattr(self, name)

    def add_energy(self, op: str, joules: float, seconds: float = 0.0):
        self.energy_by_op[op] += joules
        self.energy_j += joules
        self.time_s += seconds

    def count_mvm(self, e: EnergyTable, cfg, planes: int, n_cols: int, active_rows: int,
                  empty_planes: int = 0):
        """Account `planes` bit-plane MVMs of n_cols columns of macro `cfg`, of which
        `empty_planes` drove no row and were not converted (each still takes its time
        slot: the controller's schedule does not depend on the data)."""
        converted = planes - empty_planes
        self.mvm_ops += converted
        self.adc_conversions += converted * n_cols
        self.row_activations += active_rows
        self.empty_planes += empty_planes
        self.adc_skipped += empty_planes * n_cols
        self.add_energy("adc", converted * n_cols * e.adc_energy_j(cfg.adc_bits),
                        planes * e.plane_time_s(n_cols))
        self.add_energy("row_drive", active_rows * e.row_drive_energy_j(cfg.cols))
        # Every cell on an active row conducts for the integration time; G_mid per cell
        # is the estimate (the exact sum would cost as much as the MVM itself).
        self.add_energy("cell_read", active_rows * cfg.cols * cfg.v_read ** 2
                        * cfg.g_mid_us * 1e-6 * e.mvm_integration_s)
