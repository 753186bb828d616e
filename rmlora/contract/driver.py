"""Status codes of the C firmware driver (firmware/src/rmlora_driver.c).

Every driver function returns one of these, or an ImageFault (rmlora.contract.image,
0x20-0x3f) when it refuses an image, so one number says what went wrong whichever
side reports it. The Python binding (rmlora.sw.runtime.firmware) turns them back
into these names; the C header lists them with their text.
"""

from amaranth.lib import enum

from .image import ImageFault

__all__ = ["DriverStatus", "status_text", "DRIVER_MAX_SECTIONS", "DRIVER_POLL_LIMIT"]

# Sections the driver remembers of a loaded image (ADAPTER and LORA_LAYER ones: what
# delete and the next load must zero or patch). No dynamic allocation in firmware, so
# an image with more is refused before anything is written.
DRIVER_MAX_SECTIONS = 64
# SEQ_STATUS reads before a polled wait gives up (a layer program of the largest
# network here ends within a few hundred reads of a 7-cycle AXI4-Lite read)
DRIVER_POLL_LIMIT = 1 << 24


class DriverStatus(enum.Enum, shape=8):
    OK = 0x00
    BAD_ARG = 0x01  # a NULL pointer, a zero length, an unaligned or out-of-range offset
    BUS = 0x02  # the chip answered SLVERR or DECERR (ERR_CODE says why)
    NOT_RMLORA = 0x03  # ID is not CHIP_ID
    VERSION = 0x04  # the chip's contract version is not the header's (major; below 1.0, minor)
    GEOMETRY = 0x05  # the chip's SRAM geometry is one the driver cannot address
    NOT_OPEN = 0x06  # a call before rmlora_open succeeded
    NO_IMAGE = 0x07  # a call that needs a loaded image
    NO_ADAPTER = 0x08  # a slot outside 0..LORA_SLOTS-1, or one the image holds no adapter for
    CHIP_ERROR = 0x09  # the program stopped on an error (ERR_CODE says which)
    TIMEOUT = 0x0A  # the program did not end within DRIVER_POLL_LIMIT status reads
    DELETE_FAILED = 0x0B  # a deleted adapter's words did not read back as zero
    TOO_MANY_SECTIONS = 0x0C  # more ADAPTER/LORA_LAYER sections than DRIVER_MAX_SECTIONS
    IRQ = 0x0D  # the platform's wait-for-interrupt hook failed
    BAD_NET = 0x1F  # the example network runner (firmware/examples): a malformed network blob

    @property
    def text(self) -> str:
        return _TEXT[self]


_TEXT = {
    DriverStatus.OK: "ok",
    DriverStatus.BAD_ARG: "bad argument (NULL, zero length, or offset out of range)",
    DriverStatus.BUS: "bus access refused by the chip (see ERR_CODE)",
    DriverStatus.NOT_RMLORA: "no rmlora chip at this address (ID mismatch)",
    DriverStatus.VERSION: "chip contract version not supported by this driver",
    DriverStatus.GEOMETRY: "chip SRAM geometry not supported by this driver",
    DriverStatus.NOT_OPEN: "device not opened",
    DriverStatus.NO_IMAGE: "no image loaded",
    DriverStatus.NO_ADAPTER: "no adapter in that slot",
    DriverStatus.CHIP_ERROR: "layer program stopped on a chip error (see ERR_CODE)",
    DriverStatus.TIMEOUT: "layer program did not finish",
    DriverStatus.DELETE_FAILED: "deleted adapter still reads back non-zero",
    DriverStatus.TOO_MANY_SECTIONS: "image has more adapter/layer sections than the driver holds",
    DriverStatus.IRQ: "wait-for-interrupt hook failed",
    DriverStatus.BAD_NET: "malformed network blob (example runner)",
}


def status_text(code: int) -> str:
    """The text of a driver return value: a DriverStatus or an ImageFault."""
    for kind in (DriverStatus, ImageFault):
        try:
            return kind(code).text
        except ValueError:
            pass
    return f"unknown status 0x{code:02x}"


def _check():
    driver = {s.value for s in DriverStatus}
    faults = {f.value for f in ImageFault}
    assert not driver & faults and max(driver) < 0x20 <= min(faults) and max(faults) < 0x40
    assert set(_TEXT) == set(DriverStatus)


_check()
