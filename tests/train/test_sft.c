/* SFT on a tiny model: it learns, masked tokens never reach the loss, resume is bit-exact, bad data is named. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json.h"
#include "base/log.h"
#include "kernels/pool.h"
#include "model/lora.h"
#include "sft_fixture.h"
#include "train/sft.h"

static char dir[64], model_dir[256], data[256];

static void setup(void) {
    rt_log_set_level(RT_LOG_WARN);
    snprintf(dir, sizeof dir, "/tmp/retool-sft-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(fixture_model(dir, model_dir, sizeof model_dir), 0);
    snprintf(data, sizeof data, "%s/data.jsonl", dir);
    cr_assert_eq(fixture_data(data, 64, 1, 2), 0);
}
static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
TestSuite(sft, .init = setup, .fini = teardown);

static train_sft_config base_cfg(const char *out, const char *d) {
    train_sft_config c = train_sft_defaults();
    c.model_dir = model_dir;
    c.data_path = d;
    c.out_dir = out;
    c.batch_tokens = 80;
    c.lr = 3e-3;
    c.min_lr = 3e-4;
    c.warmup_steps = 2;
    c.epochs = 6;
    c.f32 = 1;
    c.quiet = 1;
    c.eval_frac = 0.1;
    return c;
}

Test(sft, loss_falls_on_a_copy_task) {
    char out[300];
    snprintf(out, sizeof out, "%s/run", dir);
    train_sft_config c = base_cfg(out, data);
    c.epochs = 12;
    c.lr = 1e-2;
    c.min_lr = 1e-3;
    train_sft_result r;
    rt_error e;
    cr_assert_eq(train_sft_run(&c, &r, &e), RT_OK, "%s", e.msg);
    cr_expect_gt(r.first_loss, 2.5, "starts near ln(32) = 3.47: %f", r.first_loss);
    cr_expect_lt(r.last_loss, 0.5 * r.first_loss, "first %f last %f", r.first_loss, r.last_loss);
    cr_expect_lt(r.eval_loss, 0.6 * r.first_loss, "held-out %f", r.eval_loss);
    cr_expect_eq(r.eval_samples, 7u);
    char p[400];
    snprintf(p, sizeof p, "%s/model/model.safetensors", out);
    cr_expect(rt_path_exists(p));
    snprintf(p, sizeof p, "%s/metrics.jsonl", out);
    cr_expect(rt_path_exists(p));
}

static char *read_weights(const char *out) {
    char p[400];
    snprintf(p, sizeof p, "%s/model/model.safetensors", out);
    char *buf;
    size_t len;
    rt_error e;
    cr_assert_eq(rt_file_read_all(p, &buf, &len, &e), RT_OK, "%s", e.msg);
    return buf;
}

static size_t weights_len(const char *out) {
    char p[400];
    snprintf(p, sizeof p, "%s/model/model.safetensors", out);
    char *buf;
    size_t len;
    rt_error e;
    cr_assert_eq(rt_file_read_all(p, &buf, &len, &e), RT_OK);
    free(buf);
    return len;
}

Test(sft, masked_tokens_never_reach_the_loss) {
    /* Two datasets differ only in their last response token, masked: neither target nor context of any target.
     * The trained weights must be bit-identical. With that token unmasked they must differ. */
    char d1[300], d2[300], d3[300], o1[300], o2[300], o3[300];
    snprintf(d1, sizeof d1, "%s/a.jsonl", dir);
    snprintf(d2, sizeof d2, "%s/b.jsonl", dir);
    snprintf(d3, sizeof d3, "%s/c.jsonl", dir);
    cr_assert_eq(fixture_data(d1, 32, 0, 9), 0);
    cr_assert_eq(fixture_data(d2, 32, 0, 17), 0);
    cr_assert_eq(fixture_data(d3, 32, 1, 17), 0);
    snprintf(o1, sizeof o1, "%s/r1", dir);
    snprintf(o2, sizeof o2, "%s/r2", dir);
    snprintf(o3, sizeof o3, "%s/r3", dir);
    rt_error e;
    train_sft_result r;
    train_sft_config c = base_cfg(o1, d1);
    c.epochs = 1;
    cr_assert_eq(train_sft_run(&c, &r, &e), RT_OK, "%s", e.msg);
    c.data_path = d2;
    c.out_dir = o2;
    cr_assert_eq(train_sft_run(&c, &r, &e), RT_OK, "%s", e.msg);
    c.data_path = d3;
    c.out_dir = o3;
    cr_assert_eq(train_sft_run(&c, &r, &e), RT_OK, "%s", e.msg);
    size_t n = weights_len(o1);
    char *w1 = read_weights(o1), *w2 = read_weights(o2), *w3 = read_weights(o3);
    cr_expect_eq(memcmp(w1, w2, n), 0, "masked token changed the weights");
    cr_expect_neq(memcmp(w1, w3, n), 0, "an unmasked token must change them");
    free(w1);
    free(w2);
    free(w3);
}

Test(sft, resume_is_bit_exact) {
    cr_assert_eq(kern_init(1, NULL), RT_OK);
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/straight", dir);
    snprintf(b, sizeof b, "%s/resumed", dir);
    rt_error e;
    train_sft_result r;
    train_sft_config c = base_cfg(a, data);
    c.epochs = 2;
    cr_assert_eq(train_sft_run(&c, &r, &e), RT_OK, "%s", e.msg);
    int64_t total = r.steps;
    c.out_dir = b;
    c.max_steps = total / 2 + 1; /* stops mid-epoch */
    cr_assert_eq(train_sft_run(&c, &r, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(r.steps, total / 2 + 1);
    c.max_steps = 0;
    c.resume = 1;
    cr_assert_eq(train_sft_run(&c, &r, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(r.steps, total);
    size_t n = weights_len(a);
    char *wa = read_weights(a), *wb = read_weights(b);
    cr_expect_eq(memcmp(wa, wb, n), 0, "resumed weights differ from the straight run");
    free(wa);
    free(wb);
    /* Metrics: one line per step, no step twice. */
    char p[400];
    snprintf(p, sizeof p, "%s/metrics.jsonl", b);
    char *text;
    cr_assert_eq(rt_file_read_all(p, &text, NULL, &e), RT_OK);
    int lines = 0;
    for (char *q = text; *q; q++)
        lines += *q == '\n';
    cr_expect_eq(lines, total);
    free(text);
}

Test(sft, bad_data_names_the_line) {
    char bad[300], out[300];
    snprintf(bad, sizeof bad, "%s/bad.jsonl", dir);
    FILE *fp = fopen(bad, "w");
    fprintf(fp,
            "{\"version\": 1, \"prompt_ids\": [1], \"response_ids\": [2], \"logprobs\": [0], \"mask\": [1],"
            " \"tool_calls\": []}\n{\"version\": 1, \"prompt_ids\": [1], \"response_ids\": [2, 3], \"logprobs\": [0],"
            " \"mask\": [1, 1], \"tool_calls\": []}\n");
    fclose(fp);
    snprintf(out, sizeof out, "%s/run", dir);
    train_sft_config c = base_cfg(out, bad);
    train_sft_result r;
    rt_error e;
    cr_expect_eq(train_sft_run(&c, &r, &e), RT_EFORMAT);
    cr_expect(strstr(e.msg, "bad.jsonl:2") && strstr(e.msg, "logprobs"), "%s", e.msg);
}

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "train/checkpoint.h"
#include "train/rundir.h"

/* The newest complete checkpoint of run directory out, or -1. */
static int64_t latest_step(const char *out) {
    char ck[400];
    snprintf(ck, sizeof ck, "%s/checkpoints", out);
    if (!rt_path_exists(ck)) return -1;
    train_rundir rd = {.path = (char *)out};
    return train_rundir_latest_checkpoint(&rd);
}

Test(sft, sigkill_at_any_moment_leaves_a_loadable_checkpoint) {
    char out[300];
    snprintf(out, sizeof out, "%s/killed", dir);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    srand((unsigned)ts.tv_nsec);
    int loaded = 0;
    for (int round = 0; round < 4; round++) {
        int64_t before = latest_step(out);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            train_sft_config c = base_cfg(out, data);
            c.epochs = 1000;
            c.save_every = 1; /* a checkpoint write is nearly always under way */
            c.resume = 1;
            train_sft_result r;
            rt_error e;
            if (train_sft_run(&c, &r, &e) != RT_OK) {
                fprintf(stderr, "trainer failed: %s\n", e.msg);
                _exit(3);
            }
            _exit(0);
        }
        /* Wait for the first checkpoint of this round, then kill at a random moment of the writes that follow. */
        for (int w = 0; w < 500 && latest_step(out) <= before; w++)
            usleep(10000);
        usleep((useconds_t)(rand() % 100000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        cr_expect(WIFSIGNALED(status), "round %d: the trainer should have been killed (exit %d)", round,
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        train_rundir rd;
        rt_error e;
        cr_assert_eq(train_rundir_open(&rd, out, NULL, &e), RT_OK, "%s", e.msg);
        int64_t step = train_rundir_latest_checkpoint(&rd);
        if (step >= 0) {
            char ck[4096];
            train_rundir_checkpoint_path(&rd, step, ck, sizeof ck);
            model m;
            train_state s;
            model_opts o = {.prec = MODEL_PREC_F32};
            cr_expect_eq(train_checkpoint_load(ck, &m, &o, NULL, NULL, &s, &e), RT_OK, "round %d: %s", round, e.msg);
            cr_expect_eq(s.step, step);
            loaded++;
            model_free(&m);
        }
        train_rundir_close(&rd);
    }
    cr_expect_gt(loaded, 0, "no round got as far as a checkpoint: the test checked nothing");
}

#include "template_check.h"

Test(sft, output_folders_are_prompted_as_the_input_folder) {
    /* An input folder whose tokenizer_config.json has only Hugging Face's chat_template (ChatML): the output model
     * and the checkpoints record it with retool's key; the tokenizer's other keys are kept. */
    char p[600], out[300];
    snprintf(p, sizeof p, "%s/tokenizer.json", model_dir);
    rt_error e;
    cr_assert_eq(rt_file_write_atomic(p, "{}", 2, &e), RT_OK);
    snprintf(p, sizeof p, "%s/tokenizer_config.json", model_dir);
    const char *hf = "{\"eos_token\": \"<|im_end|>\", \"chat_template\": \"{% for m in messages %}{{ '<|im_start|>' + "
                     "m['role'] + '\\\\n' + m['content'] + '<|im_end|>\\\\n' }}{% endfor %}\"}";
    cr_assert_eq(rt_file_write_atomic(p, hf, strlen(hf), &e), RT_OK);
    snprintf(out, sizeof out, "%s/run", dir);
    train_sft_config c = base_cfg(out, data);
    c.epochs = 1;
    train_sft_result r;
    cr_assert_eq(train_sft_run(&c, &r, &e), RT_OK, "%s", e.msg);
    snprintf(p, sizeof p, "%s/model", out);
    expect_recorded_template(p, "chatml");
    tok_template t;
    cr_assert_eq(tok_template_read(p, &t, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(t, TOK_TEMPLATE_CHATML);
    snprintf(p, sizeof p, "%s/checkpoints/step-%lld/policy", out, (long long)latest_step(out));
    expect_recorded_template(p, "chatml");
    /* retool's key passes on as it is */
    cr_assert_eq(tok_template_write(model_dir, TOK_TEMPLATE_PLAIN, &e), RT_OK, "%s", e.msg);
    snprintf(out, sizeof out, "%s/run2", dir);
    c = base_cfg(out, data);
    c.epochs = 1;
    cr_assert_eq(train_sft_run(&c, &r, &e), RT_OK, "%s", e.msg);
    snprintf(p, sizeof p, "%s/model", out);
    expect_recorded_template(p, "plain");
    cJSON *root;
    snprintf(p, sizeof p, "%s/model/tokenizer_config.json", out);
    cr_assert_eq(rt_json_read_file(p, &root, &e), RT_OK, "%s", e.msg);
    const cJSON *eos = cJSON_GetObjectItem(root, "eos_token");
    cr_expect(cJSON_IsString(eos) && strcmp(eos->valuestring, "<|im_end|>") == 0);
    cJSON_Delete(root);
}

/* The progress bar's total: the demo's sft (epochs 1000, max_steps 300, 436 steps an epoch) is 300, not 436000. */
Test(sft_total, max_steps_caps_the_total) {
    cr_assert_eq(train_sft_total_steps(436, 1000, 300), 300);
    cr_assert_eq(train_sft_total_steps(436, 1000, 0), 436000); /* no limit */
    cr_assert_eq(train_sft_total_steps(10, 2, 300), 20);       /* the epochs end first */
    cr_assert_eq(train_sft_total_steps(10, 2, 20), 20);
    cr_assert_eq(train_sft_total_steps(INT64_MAX / 2, 3, 0), INT64_MAX); /* saturates */
    cr_assert_eq(train_sft_total_steps(INT64_MAX / 2, 3, 7), 7);
}

Test(sft, recompute_trains_the_same_weights) {
    /* Activation recomputation reruns each layer's forward in backward: the same arithmetic, the same weights. */
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/kept", dir);
    snprintf(b, sizeof b, "%s/recomputed", dir);
    train_sft_config c = base_cfg(a, data);
    c.epochs = 2;
    train_sft_result r;
    rt_error e;
    cr_assert_eq(train_sft_run(&c, &r, &e), RT_OK, "%s", e.msg);
    c = base_cfg(b, data);
    c.epochs = 2;
    c.recompute = 1;
    cr_assert_eq(train_sft_run(&c, &r, &e), RT_OK, "%s", e.msg);
    size_t n = weights_len(a);
    cr_assert_eq(n, weights_len(b));
    char *wa = read_weights(a), *wb = read_weights(b);
    cr_expect(memcmp(wa, wb, n) == 0, "recomputed activations trained different weights");
    free(wa);
    free(wb);
}

/* Reads RUN/model/adapter_model.safetensors (a LoRA run's adapters) whole. */
static char *read_adapters(const char *run, size_t *n) {
    char p[400];
    snprintf(p, sizeof p, "%s/model/adapter_model.safetensors", run);
    char *w = NULL;
    rt_error e;
    cr_assert_eq(rt_file_read_all(p, &w, n, &e), RT_OK, "%s", e.msg);
    return w;
}

/* LoRA SFT with --lora-dropout: a resumed run draws the same masks (bit-exact adapters), dropout changes what is
 * learned (not a no-op), and the run's config.json and the adapter folder record it. */
Test(sft, lora_dropout_resume_is_bit_exact) {
    cr_assert_eq(kern_init(1, NULL), RT_OK);
    char a[300], b[300], z[300];
    snprintf(a, sizeof a, "%s/drop", dir);
    snprintf(b, sizeof b, "%s/drop-resumed", dir);
    snprintf(z, sizeof z, "%s/nodrop", dir);
    rt_error e;
    train_sft_result r;
    train_sft_config c = base_cfg(a, data);
    c.epochs = 1;
    c.eval_frac = 0;
    c.lora = (model_lora_cfg){4, 8.0, MODEL_LORA_ALL, 0.3};
    cr_assert_eq(train_sft_run(&c, &r, &e), RT_OK, "%s", e.msg);
    int64_t total = r.steps;
    cr_assert_gt(total, 2);
    c.out_dir = b;
    c.max_steps = 2;
    cr_assert_eq(train_sft_run(&c, &r, &e), RT_OK, "%s", e.msg);
    c.max_steps = 0;
    c.resume = 1;
    cr_assert_eq(train_sft_run(&c, &r, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(r.steps, total);
    c = base_cfg(z, data);
    c.epochs = 1;
    c.eval_frac = 0;
    c.lora = (model_lora_cfg){4, 8.0, MODEL_LORA_ALL, 0.0};
    cr_assert_eq(train_sft_run(&c, &r, &e), RT_OK, "%s", e.msg);
    size_t na, nb, nz;
    char *wa = read_adapters(a, &na), *wb = read_adapters(b, &nb), *wz = read_adapters(z, &nz);
    cr_assert_eq(na, nb);
    cr_expect_eq(memcmp(wa, wb, na), 0, "resumed LoRA-dropout adapters differ from the straight run");
    cr_assert_eq(na, nz);
    cr_expect_neq(memcmp(wa, wz, na), 0, "dropout 0.3 trained the same adapters as no dropout");
    free(wa), free(wb), free(wz);
    char p[400], *text;
    snprintf(p, sizeof p, "%s/model/adapter_config.json", a);
    cr_assert_eq(rt_file_read_all(p, &text, NULL, &e), RT_OK);
    cr_expect(strstr(text, "\"lora_dropout\":\t0.3"), "%s", text);
    free(text);
    snprintf(p, sizeof p, "%s/config.json", a);
    cr_assert_eq(rt_file_read_all(p, &text, NULL, &e), RT_OK);
    cr_expect(strstr(text, "\"dropout\":\t0.3"), "%s", text);
    free(text);
}
