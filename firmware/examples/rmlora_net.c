/* rmlora_net.c: a compiled network on the chip from firmware (see rmlora_net.h).
 * The host steps are exact integer arithmetic, bit for bit the Python runtime's
 * (rmlora/sw/compiler/host_ops.py): floor divisions and shifts, round half up. */
#include <string.h>

#include "rmlora_net.h"

#define RMS_FRAC_BITS 8 /* host_ops.RMS_FRAC_BITS */

typedef struct tensor {
    uint32_t vectors, features;
    int8_t *data;
} tensor;

typedef struct reader {
    const uint8_t *at, *end;
    int ok;
} reader;

static uint32_t next_word(reader *r)
{
    if (!r->ok || r->end - r->at < 4) {
        r->ok = 0;
        return 0;
    }
    uint32_t v = (uint32_t)r->at[0] | (uint32_t)r->at[1] << 8 | (uint32_t)r->at[2] << 16
               | (uint32_t)r->at[3] << 24;
    r->at += 4;
    return v;
}

static int64_t next_i64(reader *r)
{
    uint64_t lo = next_word(r), hi = next_word(r);
    return (int64_t)(lo | hi << 32);
}

/* ---- integer helpers, as numpy computes them ---- */

static int64_t floor_div(int64_t num, int64_t den) /* den > 0 */
{
    int64_t q = num / den;
    return (num % den != 0 && num < 0) ? q - 1 : q;
}

static int64_t shift_round(int64_t v, uint32_t shift) /* (v + 2**(s-1)) >> s, floor */
{
    if (shift == 0)
        return v;
    return floor_div(v + ((int64_t)1 << (shift - 1)), (int64_t)1 << shift);
}

static int8_t clamp8(int64_t v)
{
    return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
}

static uint64_t isqrt(uint64_t v) /* floor(sqrt(v)) */
{
    uint64_t r = 0, bit = (uint64_t)1 << 62;
    while (bit > v)
        bit >>= 2;
    while (bit) {
        if (v >= r + bit) {
            v -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
}

/* ---- the steps ---- */

typedef struct net_state {
    tensor t[RMLORA_NET_MAX_TENSORS];
    uint32_t n_tensors;
    uint8_t *scratch; /* one slot: transposes and word-padded chip inputs */
    size_t slot;
} net_state;

static int tensor_ok(const net_state *s, uint32_t id)
{
    return id < s->n_tensors;
}

static int shape(net_state *s, uint32_t id, uint32_t vectors, uint32_t features)
{
    if (!tensor_ok(s, id) || (uint64_t)vectors * features > s->slot)
        return 0;
    s->t[id].vectors = vectors;
    s->t[id].features = features;
    return 1;
}

static int step_rmsnorm(net_state *s, reader *r)
{
    uint32_t src = next_word(r), dst = next_word(r), shift = next_word(r);
    int64_t eps = next_i64(r);
    uint32_t channels = next_word(r);
    int64_t gamma[RMLORA_NET_MAX_FEATURES];
    if (!r->ok || channels == 0 || channels > RMLORA_NET_MAX_FEATURES || shift > RMLORA_NET_RMSNORM_MAX_SHIFT
        || !tensor_ok(s, src) || s->t[src].features != channels)
        return RMLORA_RC_BAD_NET;
    for (uint32_t c = 0; c < channels; c++)
        gamma[c] = next_i64(r);
    uint32_t vectors = s->t[src].vectors;
    if (!r->ok || !shape(s, dst, vectors, channels))
        return RMLORA_RC_BAD_NET;
    for (uint32_t v = 0; v < vectors; v++) {
        const int8_t *x = s->t[src].data + (size_t)v * channels;
        int8_t *y = s->t[dst].data + (size_t)v * channels;
        int64_t ss = 0;
        for (uint32_t c = 0; c < channels; c++)
            ss += (int64_t)x[c] * x[c];
        int64_t rms = (int64_t)isqrt((uint64_t)(((ss << (2 * RMS_FRAC_BITS)) / channels) + eps));
        int64_t den = rms << shift;
        for (uint32_t c = 0; c < channels; c++) { /* x[c] is read before y[c] is written */
            int64_t num = ((int64_t)x[c] * gamma[c]) * (1 << RMS_FRAC_BITS);
            y[c] = clamp8(floor_div(2 * num + den, 2 * den));
        }
    }
    return RMLORA_RC_OK;
}

static int step_transpose(net_state *s, reader *r)
{
    uint32_t src = next_word(r), dst = next_word(r);
    if (!r->ok || !tensor_ok(s, src))
        return RMLORA_RC_BAD_NET;
    uint32_t v = s->t[src].vectors, f = s->t[src].features;
    int8_t *tmp = (int8_t *)s->scratch;
    for (uint32_t i = 0; i < v; i++)
        for (uint32_t j = 0; j < f; j++)
            tmp[(size_t)j * v + i] = s->t[src].data[(size_t)i * f + j];
    if (!shape(s, dst, f, v))
        return RMLORA_RC_BAD_NET;
    memcpy(s->t[dst].data, tmp, (size_t)v * f);
    return RMLORA_RC_OK;
}

static int step_add(net_state *s, reader *r)
{
    uint32_t a = next_word(r), b = next_word(r), dst = next_word(r);
    int64_t ma = next_i64(r), mb = next_i64(r);
    uint32_t shift = next_word(r);
    if (!r->ok || shift > RMLORA_NET_MAX_SHIFT || !tensor_ok(s, a) || !tensor_ok(s, b)
        || s->t[a].vectors != s->t[b].vectors || s->t[a].features != s->t[b].features
        || !shape(s, dst, s->t[a].vectors, s->t[a].features))
        return RMLORA_RC_BAD_NET;
    size_t n = (size_t)s->t[a].vectors * s->t[a].features;
    for (size_t i = 0; i < n; i++)
        s->t[dst].data[i] = clamp8(shift_round(s->t[a].data[i] * ma + s->t[b].data[i] * mb, shift));
    return RMLORA_RC_OK;
}

static int step_mean(net_state *s, reader *r)
{
    uint32_t src = next_word(r), dst = next_word(r);
    int64_t mult = next_i64(r);
    uint32_t shift = next_word(r);
    if (!r->ok || shift > RMLORA_NET_MAX_SHIFT || !tensor_ok(s, src)
        || s->t[src].features > RMLORA_NET_MAX_FEATURES)
        return RMLORA_RC_BAD_NET;
    uint32_t v = s->t[src].vectors, f = s->t[src].features;
    int64_t sum[RMLORA_NET_MAX_FEATURES] = {0};
    for (uint32_t i = 0; i < v; i++)
        for (uint32_t j = 0; j < f; j++)
            sum[j] += s->t[src].data[(size_t)i * f + j];
    if (!shape(s, dst, 1, f))
        return RMLORA_RC_BAD_NET;
    for (uint32_t j = 0; j < f; j++)
        s->t[dst].data[j] = clamp8(shift_round(sum[j] * mult, shift));
    return RMLORA_RC_OK;
}

static int step_chip(rmlora_dev *dev, net_state *s, reader *r, rmlora_net_io *io)
{
    uint32_t src = next_word(r), dst = next_word(r), prog = next_word(r);
    uint32_t n_in = next_word(r), n_out = next_word(r);
    uint32_t n_inputs = next_word(r), n_outputs = next_word(r), n_reads = next_word(r);
    const uint32_t wb = dev->word_bytes;
    uint32_t padded = (n_in + wb - 1u) / wb * wb;
    if (!r->ok || !tensor_ok(s, src) || s->t[src].vectors != n_inputs
        || s->t[src].features != n_in || padded > s->slot)
        return RMLORA_RC_BAD_NET;
    /* inputs: each vector padded with zeros to whole SRAM words, as the runtime writes */
    memset(s->scratch, 0, padded);
    for (uint32_t v = 0; v < n_inputs; v++) {
        uint32_t word = next_word(r);
        if (!r->ok || (uint64_t)word * wb > 0xFFFFFFFFu)
            return RMLORA_RC_BAD_NET;
        memcpy(s->scratch, s->t[src].data + (size_t)v * n_in, n_in);
        int rc = rmlora_write_sram(dev, word * wb, s->scratch, padded);
        if (rc != RMLORA_RC_OK)
            return rc;
    }
    const uint8_t *outputs = r->at;
    for (uint32_t v = 0; v < n_outputs; v++)
        (void)next_word(r);
    int rc = rmlora_run_program(dev, prog);
    if (rc != RMLORA_RC_OK)
        return rc;
    for (uint32_t i = 0; i < n_reads; i++) { /* every record's outputs: the trace */
        uint32_t word = next_word(r), bytes = next_word(r);
        if (!r->ok || (uint64_t)word * wb > 0xFFFFFFFFu)
            return RMLORA_RC_BAD_NET;
        if (io->trace != NULL) {
            if (bytes > io->trace_len - io->trace_used)
                return RMLORA_RC_BAD_ARG;
            if ((rc = rmlora_read_sram(dev, word * wb, io->trace + io->trace_used, bytes))
                != RMLORA_RC_OK)
                return rc;
            io->trace_used += bytes;
        }
    }
    if (!r->ok || !shape(s, dst, n_outputs, n_out))
        return RMLORA_RC_BAD_NET;
    reader out = {outputs, r->end, 1};
    for (uint32_t v = 0; v < n_outputs; v++) {
        uint32_t word = next_word(&out);
        rc = rmlora_read_sram(dev, word * wb, s->t[dst].data + (size_t)v * n_out, n_out);
        if (rc != RMLORA_RC_OK)
            return rc;
    }
    return RMLORA_RC_OK;
}

int rmlora_net_run(rmlora_dev *dev, const uint8_t *net, size_t net_len, rmlora_net_io *io)
{
    if (dev == NULL || net == NULL || io == NULL || io->input == NULL || io->arena == NULL)
        return RMLORA_RC_BAD_ARG;
    reader r = {net, net + net_len, 1};
    net_state s;
    memset(&s, 0, sizeof s);
    uint32_t magic = next_word(&r), version = next_word(&r);
    s.n_tensors = next_word(&r);
    uint32_t n_steps = next_word(&r), in = next_word(&r), out = next_word(&r);
    uint32_t in_vectors = next_word(&r), in_features = next_word(&r);
    if (!r.ok || magic != RMLORA_NET_MAGIC || version != RMLORA_NET_VERSION
        || s.n_tensors == 0 || s.n_tensors > RMLORA_NET_MAX_TENSORS || in >= s.n_tensors
        || out >= s.n_tensors)
        return RMLORA_RC_BAD_NET;
    s.slot = io->arena_len / (s.n_tensors + 1u);
    for (uint32_t i = 0; i < s.n_tensors; i++)
        s.t[i].data = (int8_t *)io->arena + i * s.slot;
    s.scratch = io->arena + s.n_tensors * s.slot;
    if (!shape(&s, in, in_vectors, in_features) || io->input_len != (size_t)in_vectors * in_features)
        return RMLORA_RC_BAD_NET;
    memcpy(s.t[in].data, io->input, io->input_len);
    for (uint32_t k = 0; k < n_steps; k++) {
        uint32_t op = next_word(&r), n_words = next_word(&r);
        if (!r.ok || (size_t)(r.end - r.at) / 4u < n_words)
            return RMLORA_RC_BAD_NET;
        reader step = {r.at, r.at + 4u * (size_t)n_words, 1};
        int rc = op == RMLORA_NET_OP_CHIP      ? step_chip(dev, &s, &step, io)
               : op == RMLORA_NET_OP_RMSNORM   ? step_rmsnorm(&s, &step)
               : op == RMLORA_NET_OP_TRANSPOSE ? step_transpose(&s, &step)
               : op == RMLORA_NET_OP_ADD       ? step_add(&s, &step)
               : op == RMLORA_NET_OP_MEAN      ? step_mean(&s, &step)
                                               : (int)RMLORA_RC_BAD_NET;
        if (rc != RMLORA_RC_OK)
            return rc;
        if (!step.ok)
            return RMLORA_RC_BAD_NET;
        r.at = step.end;
    }
    size_t n = (size_t)s.t[out].vectors * s.t[out].features;
    if (io->output == NULL || n > io->output_len - io->output_used)
        return RMLORA_RC_BAD_ARG;
    memcpy(io->output + io->output_used, s.t[out].data, n);
    io->output_used += n;
    return RMLORA_RC_OK;
}

static int run_all(rmlora_dev *dev, const uint8_t *net, size_t net_len, const int8_t *inputs,
                   size_t input_len, uint32_t n_inputs, rmlora_net_io *io)
{
    for (uint32_t i = 0; i < n_inputs; i++) {
        io->input = inputs + (size_t)i * input_len;
        io->input_len = input_len;
        int rc = rmlora_net_run(dev, net, net_len, io);
        if (rc != RMLORA_RC_OK)
            return rc;
    }
    return RMLORA_RC_OK;
}

int rmlora_unlearn_demo(rmlora_dev *dev, const uint8_t *image, size_t image_len,
                        const uint8_t *net, size_t net_len, const int8_t *inputs,
                        size_t input_len, uint32_t n_inputs, const uint32_t *sets,
                        uint32_t n_sets, unsigned forget_slot, rmlora_net_io *io,
                        uint32_t *words_zeroed)
{
    if (sets == NULL || inputs == NULL || io == NULL || forget_slot >= RMLORA_LORA_SLOTS)
        return RMLORA_RC_BAD_ARG;
    int rc = rmlora_load_image(dev, image, image_len);
    for (uint32_t k = 0; rc == RMLORA_RC_OK && k < n_sets; k++)
        if ((rc = rmlora_enable(dev, sets[k])) == RMLORA_RC_OK)
            rc = run_all(dev, net, net_len, inputs, input_len, n_inputs, io);
    if (rc == RMLORA_RC_OK)
        rc = rmlora_delete_adapter(dev, forget_slot, words_zeroed);
    for (uint32_t k = 0; rc == RMLORA_RC_OK && k < n_sets; k++)
        if ((rc = rmlora_enable(dev, sets[k] & ~(1u << forget_slot))) == RMLORA_RC_OK)
            rc = run_all(dev, net, net_len, inputs, input_len, n_inputs, io);
    return rc;
}
