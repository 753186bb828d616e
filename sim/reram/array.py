"""The macros behind the chip's macro port: a set of ReRAM macro models that
answers port requests, one at a time (cosimulation) or batched (golden model).

Both paths go through this class so they keep the same per-macro MVM operation
counter, the index that keys each conversion's read noise: the golden model
reproduces a cosimulated run exactly when it makes the same conversions in the
same order on each macro.
"""

import numpy as np

from rmlora.contract import ChipParams
from rmlora.contract.macro import MacroConfig
from rmlora.contract.packing import FieldCodec
from rmlora.contract.xbar import MacroOp, Polarity, macro_request_layout, macro_response_layout

from .macro import ReramMacro

__all__ = ["MacroArray", "pack_codes", "ACTIVITY_COUNTS"]

# MacroCounters fields that count operations (sim/reram/energy.py)
ACTIVITY_COUNTS = ("pulses", "verify_reads", "mvm_ops", "adc_conversions", "row_activations",
                   "empty_planes", "adc_skipped")


_OPS = {op.value: op for op in MacroOp}


def pack_codes(codes: np.ndarray, bits: int) -> int:
    """Signed codes as the port's bit vector: code k in bits [k*bits, (k+1)*bits)."""
    if bits == 8:
        return int.from_bytes(codes.astype(np.int8).tobytes(), "little")
    mask, out = (1 << bits) - 1, 0
    for k, code in enumerate(codes.tolist()):
        out |= (code & mask) << (k * bits)
    return out


class MacroArray:
    # params has no default: the macros must be the chip's (a build of other ChipParams
    # has another macro port), so every caller says which chip it models
    def __init__(self, params: ChipParams, config: MacroConfig | None = None, seed: int = 0):
        self.params = params
        config = config or MacroConfig.for_chip(params)
        config.check_fits(params)
        self.macros = [ReramMacro(config, seed=seed, macro_id=i) for i in range(params.n_macros)]
        self.mvm_ops = np.zeros(params.n_macros, dtype=np.int64)
        self.req_layout = macro_request_layout(params)
        self.resp_layout = macro_response_layout(params)
        self._req, self._resp = FieldCodec(self.req_layout), FieldCodec(self.resp_layout)

    def __getitem__(self, index) -> ReramMacro:
        return self.macros[index]

    def set_time(self, seconds: float):
        """Move every macro to ``seconds`` after time 0 (drift is evaluated there)."""
        for macro in self.macros:
            macro.set_time(seconds)

    def activity(self) -> dict:
        """What the macros did since they were made, summed over macros: integer counts
        (equal for the golden model and a cosimulation making the same operations)
        and the energy (J) the macro model computed per pulse and verify read."""
        total = {name: 0 for name in ACTIVITY_COUNTS}
        energy = {"pulse_j": 0.0, "verify_j": 0.0}
        for macro in self.macros:
            c = macro.counters
            for name in ACTIVITY_COUNTS:
                total[name] += int(c[name])
            energy["pulse_j"] += c.energy_by_op["pulse"]
            energy["verify_j"] += c.energy_by_op["verify"]
        return total | energy

    # ---- cosimulation: one request at a time, as port bit vectors ----
    def serve(self, request_bits: int) -> tuple[MacroOp, int]:
        """The operation and the response (as the port's bits) to one request (as bits)."""
        p = self.params
        req = self._req.unpack(request_bits)
        m = req["macro"]
        if m >= p.n_macros:
            raise ValueError(f"macro port request for macro {m}; the chip has {p.n_macros}")
        if req["op"] not in _OPS:
            raise ValueError(f"macro port request with op {req['op']}")
        op = _OPS[req["op"]]
        verify_code, adc = 0, 0
        if op is MacroOp.PULSE:
            self.pulse(m, req["row"], req["col"], Polarity(req["polarity"]), req["amplitude"],
                       req["width"])
        elif op is MacroOp.VERIFY:
            verify_code = int(self.macros[m].verify_read(req["row"], req["col"]))
        else:
            drive = _row_bits(req["drive"], p.macro_rows).astype(np.int8)
            drive[(_row_bits(req["negate"], p.macro_rows) == 1) & (drive == 1)] = -1
            codes = self.convert(m, drive[None, :], req["col"], req["n_cols"], req["gain_shift"],
                                 self.mvm_ops[m:m + 1])[0]
            self.mvm_ops[m] += 1
            adc = pack_codes(codes, p.adc_bits)
        return op, self._resp.pack({"verify_code": verify_code, "adc": adc})

    # ---- golden model: batched (and the single-request path's helpers) ----
    def pulse(self, macro: int, row, col, polarity: Polarity, amplitude, width):
        self.macros[macro].pulse(row, col, polarity, amplitude, width)

    def convert(self, macro: int, drive: np.ndarray, col0: int, n_cols: int, gain_shift: int,
                op_index: np.ndarray) -> np.ndarray:
        """ADC codes (B, n_cols) of B input planes (B, rows) with explicit op indices."""
        return self.macros[macro].mvm(drive, 0, col0, n_cols, gain_shift, op_index)


def _row_bits(value: int, rows: int) -> np.ndarray:
    """One 0/1 entry per row of a request's row field (bit i = row i)."""
    return np.unpackbits(np.frombuffer(value.to_bytes(rows // 8, "little"), dtype=np.uint8),
                         bitorder="little")
