/* rmlora_driver.h: a C11 driver for the rmlora chip over its AXI4-Lite control port.
 *
 * The platform gives two functions, read32 and write32 (and, optionally, a
 * wait-for-interrupt hook); everything else is here, named from the generated
 * contract header rmlora.h. No dynamic allocation and no libc beyond <stdint.h>,
 * <stddef.h> and <string.h>: the device state is a struct the caller owns.
 * Every function returns an RMLORA_RC_* value (rmlora_rc_text names it).
 *
 * Typical use, after the analogue weights are programmed once:
 *     rmlora_open(&dev, &platform);
 *     rmlora_load_image(&dev, image, image_len);      checked whole before any write
 *     rmlora_enable(&dev, 1u << slot);
 *     rmlora_run(&dev, program_word, inputs, n_in, outputs, n_out);
 *     rmlora_delete_adapter(&dev, slot, &words);       zeroed, then read back
 */
#ifndef RMLORA_DRIVER_H
#define RMLORA_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "rmlora.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the platform provides. read32/write32 perform one 32-bit AXI4-Lite access at a
 * byte address of the chip and return its response (RMLORA_AXI_RESP_*). wait_irq, if
 * not NULL, blocks until the chip's irq output is high and returns 0 (non-zero: it
 * failed); with NULL the driver polls SEQ_STATUS. ctx is passed back unchanged. */
typedef struct rmlora_platform {
    int (*read32)(void *ctx, uint32_t addr, uint32_t *value);
    int (*write32)(void *ctx, uint32_t addr, uint32_t value);
    int (*wait_irq)(void *ctx);
    void *ctx;
} rmlora_platform;

/* A section the driver must find again: ADAPTER (deleted by slot, zeroed by the next
 * load) and LORA_LAYER (whose entries a delete points at 'none'). */
typedef struct rmlora_section {
    uint8_t kind;
    uint8_t slot;
    uint32_t sram_word;
    uint32_t length; /* bytes */
} rmlora_section;

/* Device state; zero it or let rmlora_open fill it. */
typedef struct rmlora_dev {
    rmlora_platform plat;
    int is_open;
    uint32_t word_bytes;  /* HW_SRAM.WIDTH_BYTES */
    uint32_t depth_words; /* 2 ** HW_SRAM.DEPTH_LOG2 */
    uint32_t version;     /* the VERSION register */
    uint32_t hw_macro;    /* the HW_MACRO register */
    int loaded;           /* an image is loaded */
    uint32_t n_sections;
    rmlora_section sections[RMLORA_DRIVER_MAX_SECTIONS];
    uint32_t enabled;  /* LORA_ENABLE as last written */
    uint32_t err_code; /* ERR_CODE behind the last RMLORA_RC_BUS or RMLORA_RC_CHIP_ERROR */
    uint32_t err_addr; /* ERR_ADDR with it */
    uint32_t layer;    /* SEQ_STATUS.LAYER when the last program ended */
} rmlora_dev;

/* Bytes to write to / read from the SRAM buffer, at a byte offset into it. */
typedef struct rmlora_write_span {
    uint32_t offset;
    const void *data;
    uint32_t length;
} rmlora_write_span;

typedef struct rmlora_read_span {
    uint32_t offset;
    void *data;
    uint32_t length;
} rmlora_read_span;

/* A SeqStats record: one layer pass of the last program. */
typedef struct rmlora_stats {
    uint32_t cycles, adc, mvm, macs, sram, cache;
} rmlora_stats;

/* Identify the chip (ID, contract major version, SRAM geometry) and fill dev. */
int rmlora_open(rmlora_dev *dev, const rmlora_platform *plat);

/* Every check the loader makes, without touching the chip: RMLORA_RC_OK or the
 * RMLORA_RC_IMAGE_* fault the Python loader names for the same image. */
int rmlora_check_image(const rmlora_dev *dev, const uint8_t *image, size_t length);

/* Check the whole image, zero the adapters of the image loaded before, write every
 * section, disable all slots. A refused image writes nothing. */
int rmlora_load_image(rmlora_dev *dev, const uint8_t *image, size_t length);

/* 1 if the loaded image holds an adapter in slot, else 0. */
int rmlora_has_adapter(const rmlora_dev *dev, unsigned slot);

/* Apply exactly the slots of mask (bit s: slot s) from the next run on; each must hold
 * an adapter (RMLORA_RC_NO_ADAPTER otherwise, nothing changed). */
int rmlora_enable(rmlora_dev *dev, uint32_t mask);

/* Forget slot's adapter: zero its SRAM regions, point every layer's entry for the slot
 * at 'none', disable it, and read all of it back (RMLORA_RC_DELETE_FAILED if anything
 * is left). *words_zeroed (may be NULL): the SRAM words of its regions. */
int rmlora_delete_adapter(rmlora_dev *dev, unsigned slot, uint32_t *words_zeroed);

/* SRAM bytes through the control port's window (any offset and length in the SRAM). */
int rmlora_write_sram(rmlora_dev *dev, uint32_t offset, const void *data, uint32_t length);
int rmlora_read_sram(rmlora_dev *dev, uint32_t offset, void *data, uint32_t length);

/* Start the layer program at SRAM word prog_word and wait for it to end (the irq hook
 * or polling). RMLORA_RC_CHIP_ERROR: it stopped on an error, whose ERR_CODE is in
 * dev->err_code (the chip's error log is cleared for the next run). */
int rmlora_run_program(rmlora_dev *dev, uint32_t prog_word);

/* One inference: write the input spans, run the program, read the output spans. */
int rmlora_run(rmlora_dev *dev, uint32_t prog_word, const rmlora_write_span *inputs,
               size_t n_inputs, const rmlora_read_span *outputs, size_t n_outputs);

/* The SeqStats record at SRAM word stats_word. */
int rmlora_read_stats(rmlora_dev *dev, uint32_t stats_word, rmlora_stats *stats);

/* The PERF_* counters of the last run, in RMLORA_PERF_REGS order. */
int rmlora_read_perf(rmlora_dev *dev, uint32_t perf[RMLORA_PERF_COUNT]);

/* Texts: a driver return value, and a chip ERR_CODE (the contract's messages). */
const char *rmlora_rc_text(int rc);
const char *rmlora_err_text(uint32_t err_code);

/* sizeof(rmlora_dev): lets a binding in another language check its copy of the struct. */
size_t rmlora_dev_size(void);

#ifdef __cplusplus
}
#endif

#endif /* RMLORA_DRIVER_H */
