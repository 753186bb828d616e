"""The C firmware driver: its build, and the face-sized demo network run from C.

check: seconds to compile the driver and example strictly (-Werror) and through GCC's
static analyser (-fanalyzer). golden: face inferences per second through the C
example (rmlora_net_run: segments on the golden chip behind its registers, host steps
in C) and the 32-bit bus accesses one inference makes. verilator: seconds per face
inference from C on the RTL, every access an AXI4-Lite transfer bridged into cocotb
(the simulator started, the network deployed and loaded, one inference run before
timing; the Python runtime's figure, which moves its SRAM bytes over the bulk port,
is bench_chip's cosim_face_s_per_inference).
"""

import time

from rmlora.firmware.build import check_sources
from rmlora.sw.compiler import compile_model
from rmlora.sw.models.demo import demo_inputs, demo_model
from rmlora.sw.runtime.firmware import FirmwareDriver
from rmlora.sw.runtime.firmware_chip import FirmwareChip
from rmlora.sw.runtime.firmware_net import pack_network, quantized_inputs
from rmlora.sw.runtime.golden_bus import GoldenBus

GOLDEN_INPUTS, COSIM_INPUTS = 64, 4


class CountingBus:
    def __init__(self, bus):
        self.bus, self.accesses = bus, 0

    def read32(self, addr):
        self.accesses += 1
        return self.bus.read32(addr)

    def write32(self, addr, value):
        self.accesses += 1
        return self.bus.write32(addr, value)


def _chip(compiled, backend):
    chip = FirmwareChip(backend=backend, seed=1)
    chip.deploy(compiled.plan)
    chip.load(compiled.image, names=compiled.adapter_slots)
    chip.enable(list(compiled.adapter_slots))
    return chip


def _timed(driver, net, xs) -> float:
    args = net.blob, net.output_bytes, net.trace_bytes, net.arena_bytes
    driver.net_run(args[0], xs[0].tobytes(), *args[1:])  # warm: caches, first MVMs
    t0 = time.perf_counter()
    for x in xs:
        driver.net_run(args[0], x.tobytes(), *args[1:])
    return (time.perf_counter() - t0) / len(xs)


def run() -> dict:
    t0 = time.perf_counter()
    check_sources(analyze=True)
    check_s = time.perf_counter() - t0
    compiled = compile_model(demo_model("face", 0), demo_inputs("face", 64, 1))
    net = pack_network(compiled)
    xs = quantized_inputs(compiled, demo_inputs("face", GOLDEN_INPUTS, 2))
    chip = _chip(compiled, "golden")
    counting = CountingBus(GoldenBus(chip.backend))
    driver = FirmwareDriver(counting)
    driver.load_image(compiled.image)
    driver.enable(compiled.all_slots)
    golden_s = _timed(driver, net, xs)
    before = counting.accesses
    driver.net_run(net.blob, xs[0].tobytes(), net.output_bytes, net.trace_bytes,
                   net.arena_bytes)
    accesses = counting.accesses - before
    with _chip(compiled, "verilator") as rtl:
        cosim_s = _timed(rtl.fw, net, xs[:COSIM_INPUTS])
    return {
        "firmware_check_s": round(check_s, 2),
        "firmware_face_golden_inferences_per_s": round(1 / golden_s, 1),
        "firmware_face_bus_accesses_per_inference": accesses,
        "firmware_face_verilator_s_per_inference": round(cosim_s, 3),
    }
