#include "cli/lora_flags.h"

#include <string.h>

#include "model/lora.h"

int cli_lora_resolve(const char *cmd, const cli_lora_flags *f, model_lora_cfg *cfg) {
    memset(cfg, 0, sizeof *cfg);
    if (f->rank == 0) {
        if (f->alpha != 0 || f->targets || f->dropout != 0)
            return cli_fail(cmd, CLI_EXIT_USAGE, "--lora-alpha, --lora-targets and --lora-dropout need --lora-rank");
        return 0;
    }
    if (f->rank < 0 || f->rank > 4096) return cli_fail(cmd, CLI_EXIT_USAGE, "--lora-rank must be in 1..4096");
    if (!(f->dropout >= 0 && f->dropout < 1))
        return cli_fail(cmd, CLI_EXIT_USAGE, "--lora-dropout %g: expected 0 <= P < 1", f->dropout);
    rt_error err;
    cfg->dropout = f->dropout;
    cfg->rank = (int)f->rank;
    cfg->alpha = f->alpha != 0 ? f->alpha : 2.0 * (double)f->rank;
    cfg->targets = MODEL_LORA_ALL;
    if (f->targets && model_lora_parse_targets(f->targets, &cfg->targets, &err)) return cli_fail_err(cmd, &err);
    if (model_lora_check(cfg, &err)) return cli_fail(cmd, CLI_EXIT_USAGE, "--lora-*: %s", err.msg);
    return 0;
}
