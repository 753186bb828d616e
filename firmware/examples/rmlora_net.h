/* rmlora_net.h: run a compiled network on the chip from firmware (an example of the
 * driver in use).
 *
 * The chip runs the network's segments (layer programs); between them the host runs
 * the integer steps the compiler emitted: RMS normalisation, transpose, residual add
 * and mean pooling, exactly as rmlora/sw/compiler/host_ops.py defines them. The
 * network arrives as a blob the host compiler packed (rmlora.sw.runtime.firmware_net:
 * every constant and SRAM address), so the firmware needs no file system and no
 * allocation: tensors live in an arena the caller gives.
 *
 * Network blob, little-endian 32-bit words:
 *   magic RMLORA_NET_MAGIC, version RMLORA_NET_VERSION, n_tensors, n_steps, input
 *   tensor, output tensor, the input's vectors and features, then n_steps steps,
 *   each: op, n_words, then its n_words operand words (layouts at the
 *   RMLORA_NET_OP_* codes below; 64-bit constants as two words, low first).
 */
#ifndef RMLORA_NET_H
#define RMLORA_NET_H

#include <stddef.h>
#include <stdint.h>

#include "rmlora_driver.h"

/* The blob's magic, version, limits and step codes (RMLORA_NET_*, with each step's
 * operand layout) come from rmlora.h: rmlora/contract/net_blob.py. */

typedef struct rmlora_net_io {
    const int8_t *input;  /* the input tensor (vectors x features of the blob's input) */
    size_t input_len;
    int8_t *output;       /* output tensors (e.g. logits), appended run after run */
    size_t output_len;
    size_t output_used;   /* bytes written to output */
    uint8_t *trace;       /* every record output of every segment run, in order (or NULL) */
    size_t trace_len;
    size_t trace_used;    /* bytes written to trace */
    uint8_t *arena;       /* working memory: (n_tensors + 1) equal slots */
    size_t arena_len;
} rmlora_net_io;

/* A malformed blob (a bad magic or version, an unknown op, an operand out of range, a
 * tensor that does not fit its arena slot) is RMLORA_RC_BAD_NET. */

/* Run the network once (one input) with the adapters the chip has enabled; its output
 * tensor and trace are appended to io->output and io->trace. */
int rmlora_net_run(rmlora_dev *dev, const uint8_t *net, size_t net_len, rmlora_net_io *io);

/* The example of issue 24, whole: load the image, run every input with each adapter
 * set, delete the forget slot, run every input with each set again (less the forget
 * slot). Outputs and traces are appended in that order (2 x n_sets x n_inputs runs);
 * *words_zeroed: what the delete zeroed. */
int rmlora_unlearn_demo(rmlora_dev *dev, const uint8_t *image, size_t image_len,
                        const uint8_t *net, size_t net_len, const int8_t *inputs,
                        size_t input_len, uint32_t n_inputs, const uint32_t *sets,
                        uint32_t n_sets, unsigned forget_slot, rmlora_net_io *io,
                        uint32_t *words_zeroed);

#endif /* RMLORA_NET_H */
