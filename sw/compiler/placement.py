"""Weights onto macros, and the write-verify plan that programs them once.

A layer's block has its inputs on rows and outputs on columns (n_in x n_out).
Layers larger than a macro take whole macros, tile (r, c) on macro
macro + r * n_col_tiles + c (contract.xbar); smaller ones share macros, packed in
shelves (first fit, tallest first): simple, and the face Mixer fits one macro.
"""

import numpy as np

from rmlora.contract import ChipParams, ErrorCode
from rmlora.contract.macro import MacroConfig, weight_to_target_code
from rmlora.contract.xbar import XbarOp
from rmlora.sw.formats import xbar

from .compiled import ChipLayer

__all__ = ["place", "macros_used", "program_plan"]


def place(shapes: list[tuple[str, int, int]], params: ChipParams) -> dict[str, tuple]:
    """name -> (macro, row0, col0) for blocks (name, n_in, n_out); ValueError naming the
    first layer that does not fit."""
    rows, cols, n_macros = params.macro_rows, params.macro_cols, params.n_macros
    placed, next_macro = {}, 0
    for name, n_in, n_out in shapes:
        if n_in <= rows and n_out <= cols:
            continue
        need = xbar.macro_tiles(n_in, n_out, params)
        if next_macro + need > n_macros:
            raise ValueError(f"layer {name!r} ({n_in} inputs x {n_out} outputs) needs {need} "
                             f"whole {rows}x{cols} macros; {n_macros - next_macro} of "
                             f"{n_macros} are free")
        placed[name], next_macro = (next_macro, 0, 0), next_macro + need
    shelves = []  # [macro, row0, height, next free column]
    top = {}  # macro -> first row no shelf uses
    small = [s for s in shapes if s[1] <= rows and s[2] <= cols]
    for name, n_in, n_out in sorted(small, key=lambda s: (-s[1], -s[2])):
        shelf = next((s for s in shelves if s[2] >= n_in and s[3] + n_out <= cols), None)
        if shelf is None:
            macro = next((m for m in top if top[m] + n_in <= rows), None)
            if macro is None:
                if next_macro >= n_macros:
                    raise ValueError(f"layer {name!r} ({n_in} inputs x {n_out} outputs) does "
                                     f"not fit: all {n_macros} macros are full")
                macro, next_macro = next_macro, next_macro + 1
                top[macro] = 0
            shelf = [macro, top[macro], n_in, 0]
            top[macro] += n_in
            shelves.append(shelf)
        placed[name] = (shelf[0], shelf[1], shelf[3])
        shelf[3] += n_out
    return placed


def macros_used(shapes: list[tuple[str, int, int]], params: ChipParams) -> int:
    """Macros ``place`` fills for these blocks: a large layer its whole tiles, the small
    ones their shelves' macros. ValueError if they do not fit one chip."""
    placed = place(shapes, params)
    return max((macro + (xbar.macro_tiles(n_in, n_out, params)
                         if n_in > params.macro_rows or n_out > params.macro_cols else 1)
                for (_, n_in, n_out), (macro, _, _) in zip(
                    shapes, (placed[name] for name, _, _ in shapes), strict=True)), default=0)


def program_plan(layers: list[ChipLayer], params: ChipParams, macro_config: MacroConfig):
    """(PROGRAM descriptor, target codes, int8 weights, layer name) per block (one per
    tile); src and dst are left 0 for the runtime to point at its scratch."""
    rows, cols = params.macro_rows, params.macro_cols
    blocks = []
    for layer in layers:
        weights = layer.w_q.T
        macro, row0, col0 = layer.placement
        n_ct = xbar.ceil_div(layer.n_out, cols)
        for rt in range(xbar.ceil_div(layer.n_in, rows)):
            for ct in range(n_ct):
                tile = np.ascontiguousarray(weights[rt * rows:(rt + 1) * rows,
                                                    ct * cols:(ct + 1) * cols])
                desc = xbar.Descriptor(XbarOp.PROGRAM, tile.shape[0], tile.shape[1], src=0,
                                       dst=0, macro=macro + rt * n_ct + ct, row0=row0,
                                       col0=col0, tolerance=macro_config.verify_tolerance_codes)
                desc.pack()  # every field fits its bits, or a ValueError naming it
                code = xbar.check(desc, params)
                if code is not ErrorCode.NONE:
                    raise ValueError(f"layer {layer.name!r}: PROGRAM block refused: "
                                     f"{code.name} ({desc})")
                blocks.append((desc, weight_to_target_code(macro_config, tile), tile,
                               layer.name))
    return blocks
