/* rmlora_driver.c: the C driver (see rmlora_driver.h). Every address, field, code and
 * size comes from the generated rmlora.h; nothing about the chip is written here twice. */
#include <string.h>

#include "rmlora_driver.h"

#define REG(name) (RMLORA_CSR_BASE + RMLORA_REG_##name)
#define FIELD(reg, field, value) \
    (((value) & RMLORA_##reg##_##field##_MASK) >> RMLORA_##reg##_##field##_SHIFT)
#define PACK(reg, field, value) \
    (((uint32_t)(value) << RMLORA_##reg##_##field##_SHIFT) & RMLORA_##reg##_##field##_MASK)

/* ---- bytes and bit fields (little-endian, as every contract layout) ---- */

static uint32_t get_bits(const uint8_t *buf, unsigned lsb, unsigned bits)
{
    uint32_t value = 0;
    for (unsigned i = 0; i < bits; i++) {
        unsigned at = lsb + i;
        value |= (uint32_t)((buf[at / 8u] >> (at % 8u)) & 1u) << i;
    }
    return value;
}

static void clear_bits(uint8_t *buf, unsigned lsb, unsigned bits)
{
    for (unsigned i = 0; i < bits; i++) {
        unsigned at = lsb + i;
        buf[at / 8u] &= (uint8_t)~(1u << (at % 8u));
    }
}

static uint32_t crc32_of(const uint8_t *data, size_t length)
{
    /* zlib's CRC-32 (reflected polynomial 0xEDB88320), bit by bit: no table in RAM */
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < length; i++) {
        crc ^= data[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static uint32_t words_for(const rmlora_dev *dev, uint32_t bits)
{
    return (bits + 8u * dev->word_bytes - 1u) / (8u * dev->word_bytes);
}

/* ---- the bus ---- */

/* An access the chip refused: keep its address and the chip's ERR_CODE for the caller. */
static int bus_error(rmlora_dev *dev, uint32_t addr)
{
    dev->err_addr = addr;
    dev->err_code = 0;
    (void)dev->plat.read32(dev->plat.ctx, REG(ERR_CODE), &dev->err_code);
    return RMLORA_RC_BUS;
}

static int bus_read(rmlora_dev *dev, uint32_t addr, uint32_t *value)
{
    if (dev->plat.read32(dev->plat.ctx, addr, value) == (int)RMLORA_AXI_RESP_OKAY)
        return RMLORA_RC_OK;
    return bus_error(dev, addr);
}

static int bus_write(rmlora_dev *dev, uint32_t addr, uint32_t value)
{
    if (dev->plat.write32(dev->plat.ctx, addr, value) == (int)RMLORA_AXI_RESP_OKAY)
        return RMLORA_RC_OK;
    return bus_error(dev, addr);
}

static uint32_t sram_bytes(const rmlora_dev *dev)
{
    return dev->word_bytes * dev->depth_words;
}

static int span_ok(const rmlora_dev *dev, uint32_t offset, uint32_t length)
{
    return offset <= sram_bytes(dev) && length <= sram_bytes(dev) - offset;
}

int rmlora_write_sram(rmlora_dev *dev, uint32_t offset, const void *data, uint32_t length)
{
    if (dev == NULL || !dev->is_open)
        return dev == NULL ? (int)RMLORA_RC_BAD_ARG : (int)RMLORA_RC_NOT_OPEN;
    if ((data == NULL && length) || !span_ok(dev, offset, length))
        return RMLORA_RC_BAD_ARG;
    const uint8_t *src = data;
    uint32_t at = offset;
    while (at < offset + length) {
        uint32_t word = at & ~3u, first = at - word;
        uint32_t n = 4u - first < offset + length - at ? 4u - first : offset + length - at;
        uint32_t value = 0;
        int rc;
        if (n != 4u && (rc = bus_read(dev, RMLORA_SRAM_BASE + word, &value)) != RMLORA_RC_OK)
            return rc; /* a partial word: keep its other bytes */
        for (uint32_t i = 0; i < n; i++) {
            value &= ~(0xFFu << (8u * (first + i)));
            value |= (uint32_t)src[at - offset + i] << (8u * (first + i));
        }
        if ((rc = bus_write(dev, RMLORA_SRAM_BASE + word, value)) != RMLORA_RC_OK)
            return rc;
        at += n;
    }
    return RMLORA_RC_OK;
}

int rmlora_read_sram(rmlora_dev *dev, uint32_t offset, void *data, uint32_t length)
{
    if (dev == NULL || !dev->is_open)
        return dev == NULL ? (int)RMLORA_RC_BAD_ARG : (int)RMLORA_RC_NOT_OPEN;
    if ((data == NULL && length) || !span_ok(dev, offset, length))
        return RMLORA_RC_BAD_ARG;
    uint8_t *dst = data;
    uint32_t at = offset;
    while (at < offset + length) {
        uint32_t word = at & ~3u, first = at - word, value;
        uint32_t n = 4u - first < offset + length - at ? 4u - first : offset + length - at;
        int rc = bus_read(dev, RMLORA_SRAM_BASE + word, &value);
        if (rc != RMLORA_RC_OK)
            return rc;
        for (uint32_t i = 0; i < n; i++)
            dst[at - offset + i] = (uint8_t)(value >> (8u * (first + i)));
        at += n;
    }
    return RMLORA_RC_OK;
}

static int sram_is_zero(rmlora_dev *dev, uint32_t offset, uint32_t length, int *zero)
{
    uint8_t chunk[64] = {0};
    *zero = 1;
    for (uint32_t done = 0; done < length; done += sizeof chunk) {
        uint32_t n = length - done < sizeof chunk ? length - done : (uint32_t)sizeof chunk;
        int rc = rmlora_read_sram(dev, offset + done, chunk, n);
        if (rc != RMLORA_RC_OK)
            return rc;
        for (uint32_t i = 0; i < n; i++)
            if (chunk[i])
                *zero = 0;
    }
    return RMLORA_RC_OK;
}

static int sram_zero(rmlora_dev *dev, uint32_t offset, uint32_t length)
{
    static const uint8_t zeros[64];
    for (uint32_t done = 0; done < length; done += sizeof zeros) {
        uint32_t n = length - done < sizeof zeros ? length - done : (uint32_t)sizeof zeros;
        int rc = rmlora_write_sram(dev, offset + done, zeros, n);
        if (rc != RMLORA_RC_OK)
            return rc;
    }
    return RMLORA_RC_OK;
}

/* ---- identification ---- */

int rmlora_open(rmlora_dev *dev, const rmlora_platform *plat)
{
    if (dev == NULL || plat == NULL || plat->read32 == NULL || plat->write32 == NULL)
        return RMLORA_RC_BAD_ARG;
    memset(dev, 0, sizeof *dev);
    dev->plat = *plat;
    uint32_t id, version, hw_sram;
    int rc;
    if ((rc = bus_read(dev, REG(ID), &id)) != RMLORA_RC_OK)
        return rc;
    if (id != RMLORA_CHIP_ID)
        return RMLORA_RC_NOT_RMLORA;
    if ((rc = bus_read(dev, REG(VERSION), &version)) != RMLORA_RC_OK)
        return rc;
    /* semantic versioning: the same major; below 1.0 every minor may break, so the same
     * minor too (a later patch is fine) */
    if (FIELD(VERSION, MAJOR, version) != RMLORA_VERSION_MAJOR
        || (RMLORA_VERSION_MAJOR == 0u && FIELD(VERSION, MINOR, version) != RMLORA_VERSION_MINOR))
        return RMLORA_RC_VERSION;
    if ((rc = bus_read(dev, REG(HW_SRAM), &hw_sram)) != RMLORA_RC_OK
        || (rc = bus_read(dev, REG(HW_MACRO), &dev->hw_macro)) != RMLORA_RC_OK)
        return rc;
    uint32_t width = FIELD(HW_SRAM, WIDTH_BYTES, hw_sram);
    uint32_t depth_log2 = FIELD(HW_SRAM, DEPTH_LOG2, hw_sram);
    /* whole 32-bit window words per SRAM word, and the SRAM inside the window */
    if (width < 4u || width % 4u || depth_log2 > 24u
        || ((uint64_t)width << depth_log2) > RMLORA_SRAM_WINDOW_MAX)
        return RMLORA_RC_GEOMETRY;
    dev->word_bytes = width;
    dev->depth_words = 1u << depth_log2;
    dev->version = version;
    dev->is_open = 1;
    return RMLORA_RC_OK;
}

/* ---- images ---- */

typedef struct image_view {
    const uint8_t *table;   /* the section table */
    const uint8_t *payload; /* the sections' bytes */
    uint32_t n_sections;
} image_view;

static void section_at(const image_view *img, uint32_t i, rmlora_section *s, uint32_t *payload_at)
{
    const uint8_t *entry = img->table + (size_t)i * RMLORA_IMAGE_SECTION_BYTES;
    s->kind = (uint8_t)get_bits(entry, RMLORA_IMAGE_SECTION_KIND_LSB, RMLORA_IMAGE_SECTION_KIND_BITS);
    s->slot = (uint8_t)get_bits(entry, RMLORA_IMAGE_SECTION_SLOT_LSB, RMLORA_IMAGE_SECTION_SLOT_BITS);
    s->sram_word = get_bits(entry, RMLORA_IMAGE_SECTION_SRAM_WORD_LSB,
                            RMLORA_IMAGE_SECTION_SRAM_WORD_BITS);
    s->length = get_bits(entry, RMLORA_IMAGE_SECTION_LENGTH_LSB, RMLORA_IMAGE_SECTION_LENGTH_BITS);
    if (payload_at != NULL) {
        uint32_t at = 0;
        for (uint32_t j = 0; j < i; j++)
            at += get_bits(img->table + (size_t)j * RMLORA_IMAGE_SECTION_BYTES,
                           RMLORA_IMAGE_SECTION_LENGTH_LSB, RMLORA_IMAGE_SECTION_LENGTH_BITS);
        *payload_at = at;
    }
}

static int known_kind(uint32_t kind)
{
    return kind == RMLORA_SECTION_LAYER_PROGRAM || kind == RMLORA_SECTION_LORA_LAYER
        || kind == RMLORA_SECTION_ADAPTER || kind == RMLORA_SECTION_LUT
        || kind == RMLORA_SECTION_XBAR;
}

static int tracked(uint32_t kind)
{
    return kind == RMLORA_SECTION_ADAPTER || kind == RMLORA_SECTION_LORA_LAYER;
}

/* a section's SRAM words [start, end) */
static void words_of(const rmlora_dev *dev, const rmlora_section *s, uint64_t *start, uint64_t *end)
{
    *start = s->sram_word;
    *end = *start + ((uint64_t)s->length + dev->word_bytes - 1u) / dev->word_bytes;
}

/* The Python loader sorts the spans by (start, end, index) and refuses a span that
 * starts before the one sorted just before it ends: for two sections that is "the
 * later one in that order starts before the earlier one ends". */
static int overlap(const rmlora_dev *dev, const rmlora_section *a, uint32_t ia,
                   const rmlora_section *b, uint32_t ib)
{
    uint64_t sa, ea, sb, eb;
    words_of(dev, a, &sa, &ea);
    words_of(dev, b, &sb, &eb);
    int a_first = sa != sb ? sa < sb : (ea != eb ? ea < eb : ia < ib);
    return a_first ? sb < ea : sa < eb;
}

static int check_image(const rmlora_dev *dev, const uint8_t *image, size_t length, image_view *img)
{
    if (length < RMLORA_IMAGE_HEADER_BYTES)
        return RMLORA_RC_IMAGE_TRUNCATED;
    if (get_bits(image, RMLORA_IMAGE_HEADER_MAGIC_LSB, RMLORA_IMAGE_HEADER_MAGIC_BITS)
        != RMLORA_IMAGE_MAGIC)
        return RMLORA_RC_IMAGE_MAGIC;
    if (get_bits(image, RMLORA_IMAGE_HEADER_VERSION_MAJOR_LSB, RMLORA_IMAGE_HEADER_VERSION_MAJOR_BITS)
        > RMLORA_IMAGE_VERSION_MAJOR)
        return RMLORA_RC_IMAGE_VERSION;
    uint32_t n = get_bits(image, RMLORA_IMAGE_HEADER_N_SECTIONS_LSB,
                          RMLORA_IMAGE_HEADER_N_SECTIONS_BITS);
    uint32_t payload_bytes = get_bits(image, RMLORA_IMAGE_HEADER_PAYLOAD_BYTES_LSB,
                                      RMLORA_IMAGE_HEADER_PAYLOAD_BYTES_BITS);
    uint64_t table_end = RMLORA_IMAGE_HEADER_BYTES + (uint64_t)n * RMLORA_IMAGE_SECTION_BYTES;
    if ((uint64_t)length != table_end + payload_bytes)
        return RMLORA_RC_IMAGE_SIZE;
    if (crc32_of(image + RMLORA_IMAGE_HEADER_BYTES, length - RMLORA_IMAGE_HEADER_BYTES)
        != get_bits(image, RMLORA_IMAGE_HEADER_CRC32_LSB, RMLORA_IMAGE_HEADER_CRC32_BITS))
        return RMLORA_RC_IMAGE_CRC;
    img->table = image + RMLORA_IMAGE_HEADER_BYTES;
    img->payload = image + table_end;
    img->n_sections = n;
    uint64_t offset = 0;
    uint32_t n_tracked = 0;
    for (uint32_t i = 0; i < n; i++) {
        rmlora_section s;
        section_at(img, i, &s, NULL);
        if (!known_kind(s.kind))
            return RMLORA_RC_IMAGE_SECTION_KIND;
        if (offset + s.length > payload_bytes)
            return RMLORA_RC_IMAGE_SECTION_PAST_PAYLOAD;
        if (s.kind == RMLORA_SECTION_ADAPTER ? s.slot >= RMLORA_LORA_SLOTS
                                             : s.slot != RMLORA_NO_SLOT)
            return RMLORA_RC_IMAGE_SECTION_SLOT;
        offset += s.length;
        n_tracked += (uint32_t)tracked(s.kind);
    }
    if (offset != payload_bytes)
        return RMLORA_RC_IMAGE_UNCLAIMED;
    for (uint32_t i = 0; i < n; i++) {
        rmlora_section s;
        uint64_t start, end;
        section_at(img, i, &s, NULL);
        words_of(dev, &s, &start, &end);
        if (end > dev->depth_words)
            return RMLORA_RC_IMAGE_SECTION_RANGE;
    }
    for (uint32_t i = 0; i < n; i++) {
        rmlora_section a;
        section_at(img, i, &a, NULL);
        for (uint32_t j = i + 1; j < n; j++) {
            rmlora_section b;
            section_at(img, j, &b, NULL);
            if (overlap(dev, &a, i, &b, j))
                return RMLORA_RC_IMAGE_OVERLAP;
        }
    }
    if (n_tracked > RMLORA_DRIVER_MAX_SECTIONS)
        return RMLORA_RC_TOO_MANY_SECTIONS;
    return RMLORA_RC_OK;
}

int rmlora_check_image(const rmlora_dev *dev, const uint8_t *image, size_t length)
{
    image_view img;
    if (dev == NULL || (image == NULL && length))
        return RMLORA_RC_BAD_ARG;
    if (!dev->is_open)
        return RMLORA_RC_NOT_OPEN;
    return check_image(dev, image, length, &img);
}

static int write_enable(rmlora_dev *dev, uint32_t mask)
{
    int rc = bus_write(dev, REG(LORA_ENABLE), PACK(LORA_ENABLE, SLOTS, mask));
    if (rc == RMLORA_RC_OK)
        dev->enabled = mask;
    return rc;
}

int rmlora_load_image(rmlora_dev *dev, const uint8_t *image, size_t length)
{
    image_view img;
    int rc = rmlora_check_image(dev, image, length);
    if (rc != RMLORA_RC_OK || (rc = check_image(dev, image, length, &img)) != RMLORA_RC_OK)
        return rc;
    /* a replaced adapter must not linger in the buffer */
    for (uint32_t i = 0; i < dev->n_sections; i++) {
        const rmlora_section *s = &dev->sections[i];
        if (s->kind == RMLORA_SECTION_ADAPTER
            && (rc = sram_zero(dev, s->sram_word * dev->word_bytes, s->length)) != RMLORA_RC_OK)
            return rc;
    }
    dev->loaded = 0;
    dev->n_sections = 0;
    for (uint32_t i = 0, at = 0; i < img.n_sections; i++) {
        rmlora_section s;
        section_at(&img, i, &s, NULL);
        rc = rmlora_write_sram(dev, s.sram_word * dev->word_bytes, img.payload + at, s.length);
        if (rc != RMLORA_RC_OK)
            return rc;
        if (tracked(s.kind))
            dev->sections[dev->n_sections++] = s;
        at += s.length;
    }
    dev->loaded = 1;
    return write_enable(dev, 0);
}

/* ---- adapters ---- */

int rmlora_has_adapter(const rmlora_dev *dev, unsigned slot)
{
    if (dev == NULL || !dev->loaded)
        return 0;
    for (uint32_t i = 0; i < dev->n_sections; i++)
        if (dev->sections[i].kind == RMLORA_SECTION_ADAPTER && dev->sections[i].slot == slot)
            return 1;
    return 0;
}

/* RMLORA_RC_OK if dev is open with an image loaded, else why not. */
static int image_state(const rmlora_dev *dev)
{
    if (dev == NULL)
        return RMLORA_RC_BAD_ARG;
    if (!dev->is_open)
        return RMLORA_RC_NOT_OPEN;
    return dev->loaded ? (int)RMLORA_RC_OK : (int)RMLORA_RC_NO_IMAGE;
}

int rmlora_enable(rmlora_dev *dev, uint32_t mask)
{
    int rc = image_state(dev);
    if (rc != RMLORA_RC_OK)
        return rc;
    if (mask >> RMLORA_LORA_SLOTS)
        return RMLORA_RC_NO_ADAPTER;
    for (unsigned slot = 0; slot < RMLORA_LORA_SLOTS; slot++)
        if ((mask >> slot & 1u) && !rmlora_has_adapter(dev, slot))
            return RMLORA_RC_NO_ADAPTER;
    return write_enable(dev, mask);
}

static const unsigned entry_lsb[RMLORA_LORA_SLOTS] = {
    RMLORA_LORALAYER_ENTRY0_LSB, RMLORA_LORALAYER_ENTRY1_LSB,
    RMLORA_LORALAYER_ENTRY2_LSB, RMLORA_LORALAYER_ENTRY3_LSB,
};

/* Visit every LoRA layer descriptor of the loaded image: clear (or check) its entry for
 * slot. *left counts the descriptors that still point at the slot. */
static int layer_entries(rmlora_dev *dev, unsigned slot, int clear, uint32_t *left)
{
    uint8_t desc[RMLORA_LORALAYER_RECORD_BITS / 8u] = {0};
    uint32_t desc_bytes = words_for(dev, RMLORA_LORALAYER_RECORD_BITS) * dev->word_bytes;
    if (desc_bytes != sizeof desc)
        return RMLORA_RC_GEOMETRY; /* a descriptor is whole SRAM words of its 128 bits */
    *left = 0;
    for (uint32_t i = 0; i < dev->n_sections; i++) {
        const rmlora_section *s = &dev->sections[i];
        if (s->kind != RMLORA_SECTION_LORA_LAYER)
            continue;
        for (uint32_t off = 0; off < s->length; off += desc_bytes) {
            uint32_t at = s->sram_word * dev->word_bytes + off;
            int rc = rmlora_read_sram(dev, at, desc, desc_bytes);
            if (rc != RMLORA_RC_OK)
                return rc;
            if (clear) {
                clear_bits(desc, entry_lsb[slot], RMLORA_LORALAYER_ENTRY0_BITS);
                if ((rc = rmlora_write_sram(dev, at, desc, desc_bytes)) != RMLORA_RC_OK)
                    return rc;
            } else if (get_bits(desc, entry_lsb[slot], RMLORA_LORALAYER_ENTRY0_BITS)) {
                (*left)++;
            }
        }
    }
    return RMLORA_RC_OK;
}

int rmlora_delete_adapter(rmlora_dev *dev, unsigned slot, uint32_t *words_zeroed)
{
    int rc = image_state(dev);
    if (rc != RMLORA_RC_OK)
        return rc;
    if (slot >= RMLORA_LORA_SLOTS || !rmlora_has_adapter(dev, slot))
        return RMLORA_RC_NO_ADAPTER;
    uint32_t words = 0, left;
    for (uint32_t i = 0; i < dev->n_sections; i++) {
        const rmlora_section *s = &dev->sections[i];
        if (s->kind == RMLORA_SECTION_ADAPTER && s->slot == slot) {
            if ((rc = sram_zero(dev, s->sram_word * dev->word_bytes, s->length)) != RMLORA_RC_OK)
                return rc;
            words += (s->length + dev->word_bytes - 1u) / dev->word_bytes;
        }
    }
    if ((rc = layer_entries(dev, slot, 1, &left)) != RMLORA_RC_OK
        || (rc = write_enable(dev, dev->enabled & ~(1u << slot))) != RMLORA_RC_OK)
        return rc;
    /* read everything back: forgetting must really forget */
    for (uint32_t i = 0; i < dev->n_sections; i++) {
        const rmlora_section *s = &dev->sections[i];
        int zero;
        if (s->kind != RMLORA_SECTION_ADAPTER || s->slot != slot)
            continue;
        if ((rc = sram_is_zero(dev, s->sram_word * dev->word_bytes, s->length, &zero))
            != RMLORA_RC_OK)
            return rc;
        if (!zero)
            return RMLORA_RC_DELETE_FAILED;
    }
    if ((rc = layer_entries(dev, slot, 0, &left)) != RMLORA_RC_OK)
        return rc;
    if (left)
        return RMLORA_RC_DELETE_FAILED;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < dev->n_sections; i++)
        if (!(dev->sections[i].kind == RMLORA_SECTION_ADAPTER && dev->sections[i].slot == slot))
            dev->sections[kept++] = dev->sections[i];
    dev->n_sections = kept;
    if (words_zeroed != NULL)
        *words_zeroed = words;
    return RMLORA_RC_OK;
}

/* ---- running layer programs ---- */

static int wait_end(rmlora_dev *dev, uint32_t *status)
{
    int rc;
    if (dev->plat.wait_irq != NULL && dev->plat.wait_irq(dev->plat.ctx) != 0)
        return RMLORA_RC_IRQ;
    for (uint32_t polls = 0; polls < RMLORA_DRIVER_POLL_LIMIT; polls++) {
        if ((rc = bus_read(dev, REG(SEQ_STATUS), status)) != RMLORA_RC_OK)
            return rc;
        if (!FIELD(SEQ_STATUS, BUSY, *status) && FIELD(SEQ_STATUS, IRQ, *status))
            return RMLORA_RC_OK;
    }
    return RMLORA_RC_TIMEOUT;
}

int rmlora_run_program(rmlora_dev *dev, uint32_t prog_word)
{
    if (dev == NULL)
        return RMLORA_RC_BAD_ARG;
    if (!dev->is_open)
        return RMLORA_RC_NOT_OPEN;
    if (prog_word >= dev->depth_words)
        return RMLORA_RC_BAD_ARG;
    uint32_t irq_en = PACK(SEQ_CTRL, IRQ_EN, dev->plat.wait_irq != NULL);
    uint32_t status;
    int rc;
    if ((rc = bus_write(dev, REG(SEQ_PROG), PACK(SEQ_PROG, ADDR, prog_word))) != RMLORA_RC_OK
        || (rc = bus_write(dev, REG(SEQ_CTRL), PACK(SEQ_CTRL, START, 1) | irq_en)) != RMLORA_RC_OK
        || (rc = wait_end(dev, &status)) != RMLORA_RC_OK
        || (rc = bus_write(dev, REG(SEQ_CTRL), PACK(SEQ_CTRL, IRQ_ACK, 1) | irq_en)) != RMLORA_RC_OK)
        return rc;
    dev->layer = FIELD(SEQ_STATUS, LAYER, status);
    if (!FIELD(SEQ_STATUS, ERROR, status))
        return RMLORA_RC_OK;
    if ((rc = bus_read(dev, REG(ERR_CODE), &dev->err_code)) != RMLORA_RC_OK
        || (rc = bus_read(dev, REG(ERR_ADDR), &dev->err_addr)) != RMLORA_RC_OK
        || (rc = bus_write(dev, REG(CTRL), PACK(CTRL, CLEAR_ERR, 1))) != RMLORA_RC_OK)
        return rc;
    return RMLORA_RC_CHIP_ERROR;
}

int rmlora_run(rmlora_dev *dev, uint32_t prog_word, const rmlora_write_span *inputs,
               size_t n_inputs, const rmlora_read_span *outputs, size_t n_outputs)
{
    if (dev == NULL || (inputs == NULL && n_inputs) || (outputs == NULL && n_outputs))
        return RMLORA_RC_BAD_ARG;
    int rc;
    for (size_t i = 0; i < n_inputs; i++)
        if (!dev->is_open || !span_ok(dev, inputs[i].offset, inputs[i].length))
            return dev->is_open ? (int)RMLORA_RC_BAD_ARG : (int)RMLORA_RC_NOT_OPEN;
    for (size_t i = 0; i < n_inputs; i++)
        if ((rc = rmlora_write_sram(dev, inputs[i].offset, inputs[i].data, inputs[i].length))
            != RMLORA_RC_OK)
            return rc;
    if ((rc = rmlora_run_program(dev, prog_word)) != RMLORA_RC_OK)
        return rc;
    for (size_t i = 0; i < n_outputs; i++)
        if ((rc = rmlora_read_sram(dev, outputs[i].offset, outputs[i].data, outputs[i].length))
            != RMLORA_RC_OK)
            return rc;
    return RMLORA_RC_OK;
}

int rmlora_read_stats(rmlora_dev *dev, uint32_t stats_word, rmlora_stats *stats)
{
    uint8_t raw[RMLORA_SEQSTATS_RECORD_BITS / 8u] = {0}; /* filled by the read below */
    if (dev == NULL || stats == NULL)
        return RMLORA_RC_BAD_ARG;
    if (!dev->is_open)
        return RMLORA_RC_NOT_OPEN;
    if ((uint64_t)stats_word * dev->word_bytes > 0xFFFFFFFFu)
        return RMLORA_RC_BAD_ARG;
    int rc = rmlora_read_sram(dev, stats_word * dev->word_bytes, raw, sizeof raw);
    if (rc != RMLORA_RC_OK)
        return rc;
    stats->cycles = get_bits(raw, RMLORA_SEQSTATS_CYCLES_LSB, RMLORA_SEQSTATS_CYCLES_BITS);
    stats->adc = get_bits(raw, RMLORA_SEQSTATS_ADC_LSB, RMLORA_SEQSTATS_ADC_BITS);
    stats->mvm = get_bits(raw, RMLORA_SEQSTATS_MVM_LSB, RMLORA_SEQSTATS_MVM_BITS);
    stats->macs = get_bits(raw, RMLORA_SEQSTATS_MACS_LSB, RMLORA_SEQSTATS_MACS_BITS);
    stats->sram = get_bits(raw, RMLORA_SEQSTATS_SRAM_LSB, RMLORA_SEQSTATS_SRAM_BITS);
    stats->cache = get_bits(raw, RMLORA_SEQSTATS_CACHE_LSB, RMLORA_SEQSTATS_CACHE_BITS);
    return RMLORA_RC_OK;
}

int rmlora_read_perf(rmlora_dev *dev, uint32_t perf[RMLORA_PERF_COUNT])
{
    static const uint32_t regs[RMLORA_PERF_COUNT] = RMLORA_PERF_REGS;
    if (dev == NULL || perf == NULL)
        return RMLORA_RC_BAD_ARG;
    if (!dev->is_open)
        return RMLORA_RC_NOT_OPEN;
    for (size_t i = 0; i < RMLORA_PERF_COUNT; i++) {
        int rc = bus_read(dev, RMLORA_CSR_BASE + regs[i], &perf[i]);
        if (rc != RMLORA_RC_OK)
            return rc;
    }
    return RMLORA_RC_OK;
}

/* ---- texts ---- */

const char *rmlora_rc_text(int rc)
{
    switch (rc) {
#define RMLORA_CASE(name, code, text) \
    case (int)(code): \
        return text;
        RMLORA_RC_TABLE(RMLORA_CASE)
#undef RMLORA_CASE
    default:
        return "unknown driver status";
    }
}

const char *rmlora_err_text(uint32_t err_code)
{
    switch (err_code) {
#define RMLORA_CASE(name, code, text) \
    case (code): \
        return text;
        RMLORA_ERR_TABLE(RMLORA_CASE)
#undef RMLORA_CASE
    default:
        return "unknown chip error code";
    }
}

size_t rmlora_dev_size(void)
{
    return sizeof(rmlora_dev);
}
