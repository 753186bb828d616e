# rmlora: every target calls Python or a tool; the logic lives in tools/ and the package.
PY := .venv/bin/python
STAMP := .venv/.setup-done

.PHONY: setup test sim bringup infer firmware bench verilog synth fpga lint header clean \
	cost-published

setup: $(STAMP)

$(STAMP): pyproject.toml tools/setup.sh
	bash tools/setup.sh

# independent tests on every core (pytest-xdist; a cosim build is locked, sim/cosim.py)
test: setup
	$(PY) -m pytest -n auto --dist worksteal

sim: setup
	$(PY) -m rmlora.cli sim

bringup: setup
	$(PY) -m rmlora.cli bringup

infer: setup
	$(PY) -m rmlora.cli infer --model face --backend verilator --inputs 1

# the C driver and its example: strict C11, -Werror, -fanalyzer; then the example run
# from C against the Python runtime on the golden chip (BACKEND=verilator: on the RTL)
firmware: setup
	$(PY) -m rmlora.cli firmware --backend $(or $(BACKEND),golden)

# the published networks (DiT-B/2, LSM-512, the face Mixer) projected by the analytic
# cost model, calibrated on the simulated chip: folds, baselines, sensitivity (seconds)
cost-published: setup
	$(PY) -m rmlora.cli cost --model all --json build/cost/published.json \
		--plot build/cost/sensitivity.png

bench: setup
	$(PY) benchmarks/run.py

verilog: setup
	$(PY) -m rmlora.hw.build --out build/verilog

# gates, flip-flops and memory bits of every block and the chip (Yosys, technology-
# independent; about 3 minutes, cached per block): build/synth/report.json
synth: setup
	$(PY) -m rmlora.hw.synth

# the whole digital chip on a Lattice ECP5 (synth_ecp5, nextpnr-ecp5, one thread): LUTs,
# FFs, DSPs, BRAMs, Fmax and the critical path in build/fpga/report.json and report.md
fpga: setup
	$(PY) -m rmlora.hw.fpga --out build/fpga

lint: verilog
	$(PY) -m rmlora.hw.build --out build/verilog --lint
	.venv/bin/lint-imports

header: setup
	$(PY) -m rmlora.firmware.header

clean:
	rm -rf build
