"""Speed of the macro model: `python -m rmlora.sim.reram.bench`.

Reports the best of several repeats (the least disturbed by other processes). On a
2-core machine set OPENBLAS_NUM_THREADS=1: multi-threaded BLAS on these small
matrices is slower and very sensitive to load.
"""

import time

import numpy as np

from rmlora.contract.macro import MacroConfig

from .device import Polarity
from .macro import ReramMacro
from .write_verify import write_verify_cell


def _best(fn, n: int, repeats: int = 5) -> float:
    """Best time per call in seconds over `repeats` runs of n calls."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for i in range(n):
            fn(i)
        best = min(best, (time.perf_counter() - t) / n)
    return best


def main():
    rng = np.random.default_rng(0)
    macro = ReramMacro(MacroConfig(), seed=1)
    macro.program_statistical(rng.integers(-127, 128, size=(128, 128)))
    one = rng.integers(0, 2, size=(1, 128))
    t1 = _best(lambda i: macro.mvm(one, 0, 0, 128, 2, i), 2000)
    print(f"mvm B=1, 128x128:        {t1 * 1e6:7.1f} us/call")
    batch = rng.integers(0, 2, size=(1300, 32))
    tb = _best(lambda i: macro.mvm(batch, 32, 64, 32, 2, i * 1300), 20)
    print(f"mvm B=1300, 32x32:       {tb * 1e3:7.2f} ms/call = "
          f"{1300 / tb / 1e3:.0f}k plane conversions/s")
    batch = rng.integers(0, 2, size=(1300, 128))
    tb = _best(lambda i: macro.mvm(batch, 0, 0, 128, 2, i * 1300), 10)
    print(f"mvm B=1300, 128x128:     {tb * 1e3:7.2f} ms/call = "
          f"{1300 / tb / 1e3:.0f}k plane conversions/s")
    tp = _best(lambda i: macro.pulse(5, 7, Polarity.SET, 3, 7), 500)
    tv = _best(lambda i: macro.verify_read(5, 7), 500)
    print(f"pulse / verify_read, one cell: {tp * 1e6:.0f} / {tv * 1e6:.0f} us/call")
    cells = np.divmod(np.arange(1024), 128)
    tvec = _best(lambda i: (macro.verify_read(*cells), macro.pulse(*cells, Polarity.SET, 3, 7)), 20)
    print(f"pulse + verify_read, 1024 cells vectorised: {tvec * 1e3:.2f} ms")
    fresh = ReramMacro(MacroConfig(rows=16, cols=16), seed=2)
    t = time.perf_counter()
    res = [write_verify_cell(fresh, r, c, int(rng.integers(10, 246)))
           for r in range(16) for c in range(16)]
    el = time.perf_counter() - t
    pulses = np.array([x.pulses for x in res])
    print(f"write_verify_cell: {el / len(res) * 1e3:.2f} ms/cell, pulses median "
          f"{np.median(pulses):.0f}, mean {pulses.mean():.1f}, 5-95 % "
          f"{np.percentile(pulses, 5):.0f}-{np.percentile(pulses, 95):.0f}")


if __name__ == "__main__":
    main()
