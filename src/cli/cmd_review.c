/* `retool review list|show|approve|reject`: the review queue `retool serve --review-queue FILE` fills. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "serve/queue.h"

static const char *str_field(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void when(const cJSON *o, char *buf, size_t cap) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "time");
    time_t secs = cJSON_IsNumber(t) ? (time_t)t->valuedouble : 0;
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M:%SZ", &tm);
}

/* Common flags: --queue FILE (required) and, for decisions, --note and --reviewer. */
static int parse(int argc, char **argv, const char *usage, const char *desc, const char **queue, const char **note,
                 const char **reviewer, const char **status, int npos, cli_args *args) {
    cli_flag flags[4];
    size_t nf = 0;
    flags[nf++] = (cli_flag){"queue", CLI_FLAG_STRING, queue, "FILE", "the review queue (JSONL) of retool serve"};
    if (note) {
        flags[nf++] = (cli_flag){"note", CLI_FLAG_STRING, note, "TEXT", "why (recorded with the decision)"};
        flags[nf++] = (cli_flag){"reviewer", CLI_FLAG_STRING, reviewer, "NAME", "who decided (default $USER)"};
    }
    if (status) flags[nf++] = (cli_flag){"status", CLI_FLAG_STRING, status, "S", "only pending, approved or rejected"};
    int rc = cli_parse(argc, argv, usage, desc, flags, nf, args);
    if (rc) return rc;
    if (!*queue) {
        cli_args_free(args);
        return cli_fail(argv[0], CLI_EXIT_USAGE, "--queue FILE is required");
    }
    if (args->npositional != npos) {
        cli_args_free(args);
        return cli_fail(argv[0], CLI_EXIT_USAGE, npos ? "give one review id" : "takes no arguments");
    }
    return 0;
}

static int review_list(int argc, char **argv) {
    const char *queue = NULL, *status = NULL;
    cli_args args;
    int rc = parse(argc, argv, "retool review list --queue FILE [--status pending|approved|rejected]",
                   "Lists the flagged answers: id, time, status, reasons, the consensus answer and the question.",
                   &queue, NULL, NULL, &status, 0, &args);
    if (rc) return rc;
    cli_args_free(&args);
    if (status && strcmp(status, "pending") && strcmp(status, "approved") && strcmp(status, "rejected"))
        return cli_fail("review list", CLI_EXIT_USAGE, "--status must be pending, approved or rejected");
    serve_queue q;
    rt_error err;
    if (serve_queue_load(queue, &q, &err)) return cli_fail_err("review list", &err);
    size_t shown = 0;
    for (size_t i = 0; i < q.n; i++) {
        const serve_queue_item *it = &q.items[i];
        if (status && strcmp(status, it->status)) continue;
        const cJSON *comp = cJSON_GetObjectItemCaseSensitive(it->entry, "completion");
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(comp, "retool");
        const char *answer = str_field(x, "answer");
        char reasons[200] = "";
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(x, "review_reasons")) {
            if (!cJSON_IsString(r)) continue;
            if (reasons[0]) strncat(reasons, ",", sizeof reasons - strlen(reasons) - 1);
            strncat(reasons, r->valuestring, sizeof reasons - strlen(reasons) - 1);
        }
        const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(it->entry, "request"),
                                                             "messages");
        const char *question = str_field(cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1), "content");
        char t[32];
        when(it->entry, t, sizeof t);
        printf("%s  %s  %-8s  %-40s  answer: %s  question: %.60s\n", it->id, t, it->status, reasons,
               answer ? answer : "(none)", question ? question : "");
        shown++;
    }
    printf("%zu of %zu entries\n", shown, q.n);
    serve_queue_free(&q);
    return CLI_EXIT_OK;
}

static int review_show(int argc, char **argv) {
    const char *queue = NULL;
    cli_args args;
    int rc = parse(argc, argv, "retool review show ID --queue FILE",
                   "Prints one entry (the request, every sample's text and tool trace) and its decisions as JSON.",
                   &queue, NULL, NULL, NULL, 1, &args);
    if (rc) return rc;
    serve_queue q;
    rt_error err;
    if (serve_queue_load(queue, &q, &err)) {
        cli_args_free(&args);
        return cli_fail_err("review show", &err);
    }
    const serve_queue_item *it = serve_queue_find(&q, args.positional[0]);
    if (!it) {
        rc = cli_fail("review show", CLI_EXIT_FAILURE, "%s has no entry %s", queue, args.positional[0]);
    } else {
        cJSON *o = cJSON_Duplicate(it->entry, 1);
        cJSON_AddStringToObject(o, "status", it->status);
        cJSON_AddItemToObject(o, "decisions", cJSON_Duplicate(it->decisions, 1));
        char *text = cJSON_Print(o);
        printf("%s\n", text ? text : "");
        cJSON_free(text);
        cJSON_Delete(o);
    }
    cli_args_free(&args);
    serve_queue_free(&q);
    return rc;
}

static int decide(int argc, char **argv, const char *decision) {
    const char *queue = NULL, *note = NULL, *reviewer = getenv("USER");
    cli_args args;
    char usage[120];
    snprintf(usage, sizeof usage, "retool review %s ID --queue FILE [--note TEXT] [--reviewer NAME]", argv[0]);
    int rc = parse(argc, argv, usage,
                   "Records a decision on one entry; the entry and earlier decisions stay in the file (a later "
                   "decision supersedes an earlier one).",
                   &queue, &note, &reviewer, NULL, 1, &args);
    if (rc) return rc;
    rt_error err;
    if (serve_queue_decide(queue, args.positional[0], decision, note, reviewer, &err)) {
        cli_args_free(&args);
        return cli_fail(argv[0], CLI_EXIT_FAILURE, "%s", err.msg);
    }
    printf("%s: %s\n", args.positional[0], decision);
    cli_args_free(&args);
    return CLI_EXIT_OK;
}

static int review_approve(int argc, char **argv) { return decide(argc, argv, "approved"); }
static int review_reject(int argc, char **argv) { return decide(argc, argv, "rejected"); }

int cmd_review(int argc, char **argv) {
    static const cli_command subs[] = {
        {"list", "list the flagged answers with their status", review_list},
        {"show", "print one entry with its whole trace and decisions", review_show},
        {"approve", "approve an entry (with --note)", review_approve},
        {"reject", "reject an entry (with --note)", review_reject},
        {NULL, NULL, NULL},
    };
    return cli_dispatch_sub("review", argc, argv, subs);
}
