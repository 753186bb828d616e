"""Which `ChipParams` the cosimulation backends can build, and where each build lives.

The RTL is generated from `ChipParams` (rmlora.hw.build), so any parameter set the
contract accepts builds, except where a fixed-width field of the contract or the RTL
cannot express it: those are refused here, by name, before minutes of Verilator.
Each parameter set gets its own Verilog and simulator directories, so two sets
never share (or overwrite) a build.
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from amaranth.lib import data

from rmlora.contract import REG, ChipParams
from rmlora.contract.lora import AdapterEntry, LoraLayer
from rmlora.contract.sequencer import SeqLayer
from rmlora.contract.xbar import PROGRAM_TARGET_BITS, XbarDescriptor

__all__ = ["BuildDirs", "build_dirs", "check_buildable", "params_tag"]


def _word_address_bits() -> tuple[int, str]:
    """The narrowest field that holds an SRAM word address, and its name."""
    fields = [(data.Layout.cast(layout)[name].width, f"{layout.__name__}.{name}")
              for layout, names in ((XbarDescriptor, ("src", "dst")),
                                    (SeqLayer, ("xbar", "lora", "dst", "stats")),
                                    (LoraLayer, ("lut", "entry0")),
                                    (AdapterEntry, ("a_addr", "b_addr")))
              for name in names]
    fields += [(REG[reg].fields[0].width, f"{reg}.ADDR") for reg in ("XB_DESC", "SEQ_PROG")]
    return min(fields)


def check_buildable(params: ChipParams) -> None:
    """Raise ValueError naming the first parameter the RTL cannot honour, and why."""
    bits, field = _word_address_bits()
    if params.sram_depth > 1 << bits:
        raise ValueError(f"sram_depth={params.sram_depth}: the RTL addresses SRAM words with "
                         f"{bits}-bit fields ({field} and others), so at most {1 << bits} words")
    if params.verify_bits > PROGRAM_TARGET_BITS:
        raise ValueError(f"verify_bits={params.verify_bits}: the crossbar controller takes "
                         f"PROGRAM targets as one byte per cell, so at most "
                         f"{PROGRAM_TARGET_BITS} bits")


@dataclass(frozen=True)
class BuildDirs:
    """Where one parameter set's Verilog and simulator builds go."""

    verilog: Path
    cosim: Path


def build_dirs(root: Path, params: ChipParams) -> BuildDirs:
    """The default set keeps the plain root/verilog and root/cosim that the tests and the
    CLI share; any other set goes to root/params-<hash>/."""
    base = root if params == ChipParams() else root / f"params-{params_tag(params)}"
    return BuildDirs(base / "verilog", base / "cosim")


def params_tag(params: ChipParams) -> str:
    """A short name that differs between any two parameter sets (every field, hashed)."""
    text = json.dumps(asdict(params), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
