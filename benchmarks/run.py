"""`make bench`: run every benchmarks/bench_*.py and merge its figures into build/bench.json.

Each module has `run() -> dict[str, number]`; keys are flat and unique across
modules. `python benchmarks/run.py bus` runs only bench_bus.py. The JSON also
records the machine, so a figure is never quoted without it.
"""

import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "build" / "bench.json"
sys.path.insert(0, str(HERE.parent))  # benches reuse the tests' harnesses (tests.*)


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"machine_cpu": cpu, "machine_cores": os.cpu_count(),
            "machine_python": platform.python_version()}


def main(argv):
    names = argv or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    for name in names:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"bench_{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        t0 = time.perf_counter()
        figures = module.run()
        print(f"[bench] {name} ({time.perf_counter() - t0:.0f} s)")
        for key, value in figures.items():
            shown = f"{value:,.6g}" if isinstance(value, float) else value
            print(f"  {key:<40} {shown}")
        results.update(figures)
    results.update(machine())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"[bench] wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
