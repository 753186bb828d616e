"""The runtime's refusals: a call the chip must not see, refused on the host before
anything is written, with a message that says what to do instead.

They are ChipErrors (what the chip refuses and what the runtime refuses on its behalf
are caught alike) with no ErrorCode: the chip never saw the call. They are also the
built-in error a caller would have caught before (ValueError; KeyError for an adapter
name), so existing `except ValueError` handlers keep working.
"""

from collections.abc import Mapping

import numpy as np

from rmlora.contract import ChipParams, ErrorCode
from rmlora.contract.image import SectionKind
from rmlora.contract.sequencer import SEQ_STATS_BITS
from rmlora.contract.xbar import PROGRAM_TARGET_BITS, XbarOp
from rmlora.sw.formats.image import ImageSection
from rmlora.sw.formats.xbar import Descriptor, ceil_div
from rmlora.sw.formats.xbar import check as check_descriptor
from rmlora.sw.golden.chip import ChipError

__all__ = ["ChipRefused", "UnknownAdapter", "adapter_slots", "check_runnable",
           "checked_names", "checked_plan"]


class ChipRefused(ChipError, ValueError):
    """The runtime refused a call before the chip saw it (code and layer are None)."""

    def __init__(self, message: str):
        self.code, self.layer, self.detail = None, None, ""
        RuntimeError.__init__(self, message)

    __str__ = RuntimeError.__str__

    def __reduce__(self):
        return type(self), (str(self),)


class UnknownAdapter(ChipRefused, KeyError):
    """An adapter name or slot the loaded image does not hold."""

    __str__ = RuntimeError.__str__  # KeyError's would quote the whole message


def checked_plan(plan, params: ChipParams, on_chip: bool, scratch_word: int
                 ) -> list[tuple[Descriptor, np.ndarray]]:
    """Every block of a deploy plan as (PROGRAM descriptor, int64 targets), all checked
    before the first is programmed; a ChipRefused naming the first bad block."""
    return [_checked_block(i, block, params, on_chip, scratch_word)
            for i, block in enumerate(plan)]


def _checked_block(i: int, block, params: ChipParams, on_chip: bool, scratch_word: int):
    try:
        desc, targets = block
    except (TypeError, ValueError):
        raise ChipRefused(f"plan block {i}: must be (PROGRAM descriptor, target codes), "
                          f"got {type(block).__name__}") from None
    if not isinstance(desc, Descriptor) or desc.op is not XbarOp.PROGRAM:
        raise ChipRefused(f"plan block {i}: {desc!r} is not a PROGRAM descriptor")
    code = check_descriptor(desc, params)
    if code is not ErrorCode.NONE:
        raise ChipRefused(f"plan block {i}: the chip would refuse its descriptor: "
                          f"{code.name}: {code.text}")
    targets = np.asarray(targets)
    if targets.shape != (desc.n_rows, desc.n_cols) or targets.dtype.kind not in "iu":
        raise ChipRefused(f"plan block {i}: targets must be integers of shape "
                          f"({desc.n_rows}, {desc.n_cols}), got {targets.dtype} {targets.shape}")
    top = (1 << PROGRAM_TARGET_BITS) - 1  # one SRAM byte per cell
    if targets.min() < 0 or targets.max() > top:
        raise ChipRefused(f"plan block {i}: target codes must be in [0, {top}], got "
                          f"[{targets.min()}, {targets.max()}]")
    staged = ceil_div(desc.n_rows * desc.n_cols, params.sram_word_bytes)
    if on_chip and not 0 <= scratch_word <= params.sram_depth - staged:
        raise ChipRefused(f"plan block {i}: its {staged} words of targets do not fit the "
                          f"SRAM at scratch_word {scratch_word}")
    return desc, targets.astype(np.int64)


def adapter_slots(sections: list[ImageSection]) -> set[int]:
    """The slots an image's ADAPTER sections fill."""
    return {s.slot for s in sections if s.kind is SectionKind.ADAPTER}


def checked_names(names, slots: set[int]) -> dict[str, int]:
    """load()'s adapter names: each a non-empty string naming a slot the image fills."""
    if names is None:
        return {}
    if not isinstance(names, Mapping):
        raise ChipRefused(f"names must be a mapping of adapter name -> slot, got "
                          f"{type(names).__name__}")
    for name, slot in names.items():
        if not isinstance(name, str) or not name:
            raise ChipRefused(f"adapter name {name!r}: must be a non-empty string")
        if isinstance(slot, bool) or not isinstance(slot, int | np.integer) or slot not in slots:
            raise ChipRefused(f"adapter {name!r}: the image has no adapter in slot {slot!r} "
                              f"(it has slots {', '.join(map(str, sorted(slots))) or 'none'}); "
                              f"name only those")
    return {name: int(slot) for name, slot in names.items()}


def check_runnable(segment, deployed: bool, sections: list[ImageSection], params: ChipParams):
    """Refuse a run the chip would answer with garbage: no weights, no program, or a
    segment whose program or vectors are not where the loaded image has them."""
    if not deployed:
        raise ChipRefused("run() before deploy(): the crossbars hold no weights; call "
                          "deploy(compiled.plan) first (and let it finish: a refused or "
                          "failed deploy leaves the chip undeployed)")
    programs = [s for s in sections if s.kind is SectionKind.LAYER_PROGRAM]
    if not programs:
        raise ChipRefused("run() before load(): the SRAM holds no layer program; call "
                          "load(compiled.image) first")
    wb = params.sram_word_bytes
    word = segment.program
    if not any(s.sram_word <= word < s.sram_word + ceil_div(len(s.payload), wb)
               for s in programs):
        raise ChipRefused(f"segment {segment.name!r}: its program at SRAM word {word} is not "
                          f"in the loaded image; load the image it was compiled with")
    vectors = [(w, segment.n_in) for w in segment.inputs]
    vectors += [(dst, r.n_out) for r in segment.records for dst in r.dsts()]
    stats_bytes = params.words_for(SEQ_STATS_BITS) * wb
    vectors += [(r.stats, stats_bytes) for r in segment.records if r.stats]
    for w, n in vectors:
        if not 0 <= w <= params.sram_depth - ceil_div(n, wb):
            raise ChipRefused(f"segment {segment.name!r}: a vector at SRAM word {w} does "
                              f"not fit the {params.sram_depth}-word SRAM")
