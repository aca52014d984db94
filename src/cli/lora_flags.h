/* The LoRA flags shared by `retool sft` and `retool rl` (--lora-rank, --lora-alpha, --lora-targets, --lora-dropout). */
#ifndef RETOOL_CLI_LORA_FLAGS_H
#define RETOOL_CLI_LORA_FLAGS_H

#include "cli/cli.h"
#include "model/model.h"

typedef struct cli_lora_flags {
    long long rank;
    double alpha; /* 0: 2 x rank */
    const char *targets;
    double dropout;
} cli_lora_flags;

/* The four flag entries, to put in a command's flag table. */
#define CLI_LORA_FLAG_ENTRIES(f)                                                                                       \
    {"lora-rank", CLI_FLAG_INT, &(f).rank, "R",                                                                        \
     "train LoRA adapters of rank R on a frozen bf16 base (default 0: all weights)"},                                  \
        {"lora-alpha", CLI_FLAG_DOUBLE, &(f).alpha, "A", "LoRA scale numerator: W + (A/R) B A (default 2R)"},          \
        {"lora-targets", CLI_FLAG_STRING, &(f).targets, "LIST",                                                        \
         "projections given adapters (default q,k,v,o,gate,up,down)"},                                                 \
    {                                                                                                                  \
        "lora-dropout", CLI_FLAG_DOUBLE, &(f).dropout, "P",                                                            \
            "dropout on each adapter's input in gradient passes, as PEFT's lora_dropout (default 0)"                   \
    }

/* Resolves the flags into cfg (rank 0: no LoRA); prints a usage error for cmd and returns non-zero when invalid. */
int cli_lora_resolve(const char *cmd, const cli_lora_flags *f, model_lora_cfg *cfg);

#endif
