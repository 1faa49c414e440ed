/* Hugging Face config.json of DeepSeek-V2/V3 style (and Llama-style dense models) -> ModelConfig.
 * Every field is either mapped, known to have no effect on what archlab counts (listed as ignored), or
 * not understood (listed): nothing is dropped silently. */
#ifndef AL_HF_CONFIG_H
#define AL_HF_CONFIG_H
#include "arch/config.h"

typedef struct HfImport {
    char ignored[1024];    /* known fields without effect here, comma-separated */
    char unknown[1024];    /* fields not understood, comma-separated */
    char notes[1024];      /* what is approximated (e.g. rope_scaling, MTP layers) */
} HfImport;

/* -1 + message naming the file and the field on malformed JSON, wrong types, missing or bad values. */
int hf_config_load(const char *path, ModelConfig *c, HfImport *info);
#endif
