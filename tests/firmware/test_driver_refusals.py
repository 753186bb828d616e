"""The C driver's refusals, called through its Python binding on the bus model.

Every bad image of the shared table is refused by the C loader with the ImageFault the
Python loader names, and nothing is written; forged images are refused alike by both;
bad slots, chips that are not this chip, and bus error responses each get their own
driver status, and the texts are the contract's."""

import pytest
from hypothesis import given

from rmlora.contract import CHIP_ID, CONTRACT_VERSION, REG, SRAM_WINDOW_BASE, ChipParams, ErrorCode
from rmlora.contract.driver import DriverStatus
from rmlora.contract.image import ImageFault
from rmlora.sw.compiler import compile_model
from rmlora.sw.formats.image import ImageError, parse_image
from rmlora.sw.runtime import Chip
from rmlora.sw.runtime.firmware import FirmwareDriver, FirmwareError
from tests.sw.test_compiler import adapted_mlp, data
from tests.sw.test_image_fuzz import BASE, BASE_NAMES, BASE_SECTIONS, FUZZ, forged_images

from .bad_images import BAD_IMAGES
from .platforms import FailingBus, LyingBus, ModelBus

P = ChipParams()


def status_of(excinfo) -> DriverStatus:
    return excinfo.value.status


@pytest.fixture(scope="module")
def compiled():
    return compile_model(adapted_mlp(0), data(0, 256))


@pytest.fixture
def loaded():
    bus = ModelBus()
    driver = FirmwareDriver(bus)
    driver.load_image(BASE)
    return bus, driver


def state(bus: ModelBus, driver: FirmwareDriver):
    return bytes(bus.model.sram), dict(bus.model.storage), driver.sections, driver.enabled


@pytest.mark.parametrize("bad", BAD_IMAGES, ids=lambda bad: bad.name)
def test_each_bad_image_gets_the_python_loaders_fault_and_writes_nothing(bad, loaded):
    bus, driver = loaded
    driver.enable(0b01)
    blob = bad.forge(bytearray(BASE))
    with pytest.raises(ImageError) as py:
        parse_image(blob, P)
    assert py.value.fault is bad.fault
    before = state(bus, driver)
    with pytest.raises(ImageError) as c:
        driver.load_image(blob)
    assert c.value.fault is bad.fault
    assert state(bus, driver) == before


_DRIVERS: list[FirmwareDriver] = []


@FUZZ
@given(forged_images())
def test_the_c_and_python_loaders_agree_on_every_forged_image(blob):
    if not _DRIVERS:
        _DRIVERS.append(FirmwareDriver(ModelBus()))
    faults = []
    for check in (lambda: parse_image(blob, P), lambda: _DRIVERS[0].check_image(blob)):
        try:
            check()
            faults.append(None)
        except ImageError as err:
            faults.append(err.fault)
    assert faults[0] == faults[1]


def test_a_good_image_lands_as_the_python_runtime_writes_it(loaded):
    bus, driver = loaded
    chip = Chip(P)
    chip.load(BASE, names=BASE_NAMES)
    assert bytes(bus.model.sram) == chip.backend.read_sram(0, P.sram_bytes)
    kinds = sorted((s[0], s[1]) for s in driver.sections)
    assert kinds == sorted((s.kind.value, s.slot) for s in BASE_SECTIONS
                           if s.kind.name in ("ADAPTER", "LORA_LAYER"))


def test_slots_without_an_adapter_are_refused_and_change_nothing(loaded):
    bus, driver = loaded
    driver.enable(0b11)
    before = state(bus, driver)
    for mask in (0b100, 0b1000, 1 << 4, 0b111):
        with pytest.raises(FirmwareError) as err:
            driver.enable(mask)
        assert status_of(err) is DriverStatus.NO_ADAPTER
    for slot in (2, 3, 4, 99):
        with pytest.raises(FirmwareError) as err:
            driver.delete_adapter(slot)
        assert status_of(err) is DriverStatus.NO_ADAPTER
    assert state(bus, driver) == before


def test_calls_before_an_image_are_refused():
    driver = FirmwareDriver(ModelBus())
    for call in (lambda: driver.enable(1), lambda: driver.delete_adapter(0)):
        with pytest.raises(FirmwareError) as err:
            call()
        assert status_of(err) is DriverStatus.NO_IMAGE


def test_delete_zeroes_the_adapter_as_the_python_runtime_does(compiled):
    bus = ModelBus()
    driver = FirmwareDriver(bus)
    chip = Chip(P)
    driver.load_image(compiled.image)
    chip.load(compiled.image, names=compiled.adapter_slots)
    driver.enable(0b11)
    chip.enable(["a", "b"])
    assert driver.delete_adapter(0) == chip.delete_adapter("a") > 0
    assert bytes(bus.model.sram) == chip.backend.read_sram(0, P.sram_bytes)
    assert driver.enabled == 0b10 and not driver.has_adapter(0) and driver.has_adapter(1)
    with pytest.raises(FirmwareError) as err:  # gone: a second delete finds nothing
        driver.delete_adapter(0)
    assert status_of(err) is DriverStatus.NO_ADAPTER


def test_a_delete_that_does_not_read_back_zero_fails():
    adapter = next(s for s in BASE_SECTIONS if s.kind.name == "ADAPTER")
    bus = FailingBus(drop_writes_at=SRAM_WINDOW_BASE + adapter.sram_word * P.sram_word_bytes)
    driver = FirmwareDriver(bus)
    driver.load_image(BASE)  # the dropped write was a zero over zeros: loads fine
    bus.model.sram[adapter.sram_word * P.sram_word_bytes] = 0x5A  # the adapter's byte
    with pytest.raises(FirmwareError) as err:
        driver.delete_adapter(adapter.slot)
    assert status_of(err) is DriverStatus.DELETE_FAILED


def test_a_bus_error_response_stops_the_call_and_names_the_chips_error():
    # the driver believes in an SRAM twice the size: the chip refuses the access
    lying = LyingBus(HW_SRAM=REG["HW_SRAM"].pack(WIDTH_BYTES=P.sram_word_bytes,
                                                 DEPTH_LOG2=P.sram_addr_width + 1))
    driver = FirmwareDriver(lying)
    with pytest.raises(FirmwareError, match="BUS_UNMAPPED") as err:
        driver.write_sram(P.sram_bytes, b"\x01\x02\x03\x04")
    assert status_of(err) is DriverStatus.BUS
    failing = FailingBus()
    driver = FirmwareDriver(failing)
    failing.fail_from = failing.accesses + 5  # partway through writing the image
    with pytest.raises(FirmwareError) as err:
        driver.load_image(BASE)
    assert status_of(err) is DriverStatus.BUS


@pytest.mark.parametrize("registers, status", [
    ({"ID": CHIP_ID ^ 1}, DriverStatus.NOT_RMLORA),
    ({"VERSION": REG["VERSION"].pack(MAJOR=99, MINOR=0, PATCH=0)}, DriverStatus.VERSION),
    ({"VERSION": REG["VERSION"].pack(MAJOR=CONTRACT_VERSION[0], MINOR=CONTRACT_VERSION[1] - 1,
                                     PATCH=0)}, DriverStatus.VERSION),
    ({"HW_SRAM": REG["HW_SRAM"].pack(WIDTH_BYTES=2, DEPTH_LOG2=13)}, DriverStatus.GEOMETRY),
    ({"HW_SRAM": REG["HW_SRAM"].pack(WIDTH_BYTES=8, DEPTH_LOG2=20)}, DriverStatus.GEOMETRY),
], ids=["another chip", "another major version", "another minor below 1.0", "2-byte words",
        "SRAM past the window"])
def test_open_refuses_a_chip_it_cannot_drive(registers, status):
    with pytest.raises(FirmwareError) as err:
        FirmwareDriver(LyingBus(**registers))
    assert status_of(err) is status


def test_out_of_range_sram_spans_are_refused_before_the_bus(loaded):
    bus, driver = loaded
    accesses = bus.accesses
    for offset, length in ((P.sram_bytes, 1), (P.sram_bytes - 2, 4), (0xFFFF_FFFF, 2)):
        with pytest.raises(FirmwareError) as err:
            driver.write_sram(offset, bytes(length))
        assert status_of(err) is DriverStatus.BAD_ARG
    assert bus.accesses == accesses


def test_the_texts_are_the_contracts(loaded):
    _, driver = loaded
    for code in ErrorCode:
        assert driver.err_text(code.value) == code.text
    for status in DriverStatus:
        assert driver.rc_text(status.value) == status.text
    for fault in ImageFault:
        assert driver.rc_text(fault.value) == fault.text


def test_a_later_patch_of_the_same_version_is_accepted():
    major, minor, patch = CONTRACT_VERSION
    FirmwareDriver(LyingBus(VERSION=REG["VERSION"].pack(MAJOR=major, MINOR=minor,
                                                        PATCH=patch + 1)))
