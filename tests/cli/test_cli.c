/* The CLI skeleton: help, version, exit codes, close-match suggestions for commands and flags. */
#include <criterion/criterion.h>

#include "base/version.h"
#include "cli/cli.h"
#include "run_cli.h"

static char out[65536];

Test(cli, help_lists_every_command) {
    cr_assert_eq(run_cli("--help", out, sizeof out), 0, "%s", out);
    for (const cli_command *c = cli_commands; c->name; c++) {
        char line[128];
        snprintf(line, sizeof line, "  %-12s %s", c->name, c->summary);
        cr_expect(strstr(out, line) != NULL, "help lacks '%s'", line);
    }
    cr_expect(strstr(out, "exit codes: 0 success, 1 runtime failure, 2 usage error") != NULL);
}

Test(cli, no_arguments_is_a_usage_error) {
    cr_expect_eq(run_cli("", out, sizeof out), 2);
    cr_expect(strstr(out, "usage: retool <command>") != NULL);
}

Test(cli, version) {
    cr_expect_eq(run_cli("--version", out, sizeof out), 0);
    cr_expect_str_eq(out, "retool " RETOOL_VERSION "\n");
}

Test(cli, unknown_command_suggests_the_closest) {
    cr_expect_eq(run_cli("jsn", out, sizeof out), 2);
    cr_expect(strstr(out, "unknown command 'jsn'; did you mean 'json'?") != NULL, "%s", out);
    cr_expect_eq(run_cli("frobnicate", out, sizeof out), 2);
    cr_expect(strstr(out, "unknown command 'frobnicate' (see retool --help)") != NULL, "%s", out);
    cr_expect_eq(run_cli("--frob", out, sizeof out), 2);
}

Test(cli, unknown_flag_suggests_the_closest) {
    cr_expect_eq(run_cli("json check --skipbad x.jsonl", out, sizeof out), 2);
    cr_expect(strstr(out, "unknown flag '--skipbad'; did you mean '--skip-bad'?") != NULL, "%s", out);
    cr_expect_eq(run_cli("json chek x", out, sizeof out), 2);
    cr_expect(strstr(out, "did you mean 'check'?") != NULL, "%s", out);
}

Test(cli, sub_command_errors_name_the_full_command) {
    cr_expect_eq(run_cli("json check --skipbad x.jsonl", out, sizeof out), 2);
    cr_expect(strstr(out, "retool json check: error:") != NULL, "%s", out);
    cr_expect_eq(run_cli("json check --bogus-flag-name x", out, sizeof out), 2);
    cr_expect(strstr(out, "(see 'retool json check --help')") != NULL, "%s", out);
}

Test(cli, command_help_exits_zero) {
    cr_expect_eq(run_cli("json check --help", out, sizeof out), 0);
    cr_expect(strstr(out, "--skip-bad") != NULL);
    cr_expect_eq(run_cli("help demo", out, sizeof out), 0);
    cr_expect(strstr(out, "usage: retool demo") != NULL, "%s", out);
}

Test(cli, runtime_failure_is_exit_1_and_names_the_line) {
    char path[] = "/tmp/retool-cli-XXXXXX.jsonl";
    int fd = mkstemps(path, 6);
    cr_assert_geq(fd, 0);
    const char *text = "{\"a\": 1}\n{\"a\" 2}\n";
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char args[256];
    snprintf(args, sizeof args, "json check %s", path);
    cr_expect_eq(run_cli(args, out, sizeof out), 1, "%s", out);
    char want[300];
    snprintf(want, sizeof want, "%s:2:", path);
    cr_expect(strstr(out, want) != NULL, "%s", out);
    snprintf(args, sizeof args, "json check --skip-bad %s", path);
    cr_expect_eq(run_cli(args, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "ok (1 records, 1 malformed lines skipped)") != NULL, "%s", out);
    unlink(path);
}

Test(cli, demo_names_a_bad_config) {
    cr_expect_eq(run_cli("demo --config /nonexistent/demo.json --out /tmp/retool-cli-demo-never", out, sizeof out), 1);
    cr_expect(strstr(out, "/nonexistent/demo.json") != NULL, "%s", out);
}

Test(cli, closest_match_rules) {
    const char *names[] = {"model", "sandbox", "tokenizer"};
    cr_expect_str_eq(cli_closest("modle", names, 3), "model");
    cr_expect_str_eq(cli_closest("tok", names, 3), "tokenizer");
    cr_expect_null(cli_closest("zzzzzz", names, 3));
}

/* Bad LoRA flags are usage errors naming the flag, before any file is read. */
Test(cli, lora_flag_errors_name_the_flag) {
    const char *cases[][2] = {
        {"sft --model m --data d --out o --lora-rank 8 --lora-dropout 1", "--lora-dropout"},
        {"rl --model m --data d --out o --lora-rank 8 --lora-dropout -0.1", "--lora-dropout"},
        {"sft --model m --data d --out o --lora-dropout 0.1", "need --lora-rank"},
        {"rl --model m --data d --out o --lora-rank 0 --lora-alpha 3", "need --lora-rank"},
        {"sft --model m --data d --out o --lora-rank 5000", "--lora-rank"},
        {"sft --model m --data d --out o --lora-rank 8 --lora-targets q,x", "--lora-targets"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_expect_eq(run_cli(cases[i][0], out, sizeof out), 2, "%s: %s", cases[i][0], out);
        cr_expect(strstr(out, cases[i][1]) != NULL, "%s: the message names %s: %s", cases[i][0], cases[i][1], out);
    }
}
