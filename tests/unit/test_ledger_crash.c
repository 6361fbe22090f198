/* test_ledger_crash.c - kill -9 in the middle of a stream of decisions.
 *
 * A child process opens the ledger and decides from 4 threads as fast as it
 * can; after each decision returns (that is, once it is durable) the child
 * writes the decision's seq to a pipe. The parent kills the child with
 * SIGKILL at a random moment, 20 times over the same file, then checks that
 * every acknowledged decision is in the ledger and that the ledger verifies,
 * signed checkpoints included.
 *
 * SIGKILL ends the process, not the machine: the kernel still holds what
 * was written but not synced. Power loss is covered by synchronous=FULL
 * (docs/ledger.md), which this test cannot simulate.
 */
#include "test.h"

#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "charter_ledger.h"

#define KILLS 20
#define MAX_ACKS 200000

static const char yaml[] =
    "charter: 1\n"
    "organization: {name: Crash Shop, purpose: Survive.}\n"
    "values:\n"
    "  - {id: durability, statement: What we said we decided stays decided.}\n"
    "workflows:\n"
    "  - {id: refunds, department: support, owner: a@b.example,"
    " autonomy: agent-ready, actions: [issue_refund]}\n"
    "agents:\n"
    "  - {id: bot, department: support, owner: a@b.example, workflows: [refunds]}\n";

static char tmpdir[256], path[512], keyfile[512], pubfile[512];

typedef struct child_ctx {
    charter_ledger *l;
    charter *c;
    int fd;
} child_ctx;

static void *child_decide(void *arg)
{
    child_ctx *ctx = arg;
    charter_decider *d = NULL;
    charter_decider_new(&d);
    const char req[] = "{\"agent\":\"bot\",\"workflow\":\"refunds\","
                       "\"action\":\"issue_refund\",\"run_id\":\"r\"}";
    for (;;) {
        char *ans = NULL;
        if (charter_ledger_decide(ctx->l, d, ctx->c, req, sizeof req - 1,
                                  charter_now_ms(), &ans, NULL, NULL) != CHARTER_OK)
            _exit(4);
        static const char key[] = "\"decision_id\":\"d-";
        const char *id = strstr(ans, key);
        uint64_t seq = id ? strtoull(id + sizeof key - 1, NULL, 10) : 0;
        free(ans);
        if (write(ctx->fd, &seq, sizeof seq) != sizeof seq)
            _exit(5);
    }
    return NULL;
}

static void child_main(int fd)
{
    charter *c = NULL;
    if (charter_load_string("crash.yaml", yaml, sizeof yaml - 1, &c, NULL) != CHARTER_OK)
        _exit(2);
    charter_ledger_options opt = {.key_path = keyfile, .checkpoint_every = 50};
    charter_ledger *l = NULL;
    if (charter_ledger_open(path, &opt, &l, NULL) != CHARTER_OK)
        _exit(3);
    child_ctx ctx = {.l = l, .c = c, .fd = fd};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, child_decide, &ctx);
    for (;;)
        pause();
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t *acks;
static size_t ack_count;

/* Reads whole seqs from the pipe until `deadline` (0: until EOF). Returns
 * false at EOF. */
static bool drain(int fd, int64_t deadline)
{
    static unsigned char partial[8];
    static size_t have;
    for (;;) {
        int wait = deadline ? (int)(deadline - mono_ms()) : 1000;
        if (deadline && wait <= 0)
            return true;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ready = poll(&p, 1, wait);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            return ready == 0;
        ssize_t n = read(fd, partial + have, sizeof partial - have);
        if (n <= 0)
            return false;
        have += (size_t)n;
        if (have == sizeof partial) {
            uint64_t seq;
            memcpy(&seq, partial, sizeof seq);
            if (ack_count < MAX_ACKS)
                acks[ack_count++] = seq;
            have = 0;
        }
    }
}

static int collect_decisions(const charter_ledger_entry *e, void *user)
{
    unsigned char *present = user;
    if (e->seq < MAX_ACKS * 4 && !strcmp(e->kind, "decision"))
        present[e->seq] = 1;
    return 0;
}

static void test_acknowledged_decisions_survive_sigkill(void)
{
    test_dir_make("ledger-crash", tmpdir, sizeof tmpdir);
    snprintf(path, sizeof path, "%s/ledger.db", tmpdir);
    char keydir[300], kid[CHARTER_KEY_ID_SIZE];
    snprintf(keydir, sizeof keydir, "%s/keys", tmpdir);
    snprintf(keyfile, sizeof keyfile, "%s/ledger.key", keydir);
    snprintf(pubfile, sizeof pubfile, "%s/ledger.pub", keydir);
    CHECK_INT(charter_keys_init(keydir, kid, NULL), CHARTER_OK);
    acks = calloc(MAX_ACKS, sizeof *acks);
    srand((unsigned)time(NULL));
    int bad_exits = 0;
    for (int k = 0; k < KILLS; k++) {
        int fds[2];
        CHECK_INT(pipe(fds), 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            child_main(fds[1]);
        }
        close(fds[1]);
        /* Let it open (rebuilding from the ledger), then kill it somewhere in
         * the stream: 5 to 80 ms after its first acknowledgement. */
        size_t before = ack_count;
        int64_t start = mono_ms();
        bool open = true;
        while (open && ack_count == before && mono_ms() - start < 10000)
            open = drain(fds[0], mono_ms() + 10);
        if (open)
            drain(fds[0], mono_ms() + 5 + rand() % 76);
        kill(pid, SIGKILL);
        drain(fds[0], 0); /* whatever it acknowledged before dying */
        close(fds[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
            bad_exits++;
            fprintf(stderr, "child %d ended with status %d\n", k, status);
        }
        CHECK(ack_count > before);
    }
    CHECK_INT(bad_exits, 0);
    /* Every acknowledged decision is there, and the ledger verifies. */
    unsigned char *present = calloc(MAX_ACKS * 4, 1);
    CHECK_INT(charter_ledger_scan(path, 0, 0, collect_decisions, present, NULL),
              CHARTER_OK);
    size_t missing = 0;
    for (size_t i = 0; i < ack_count; i++)
        if (acks[i] == 0 || acks[i] >= MAX_ACKS * 4 || !present[acks[i]])
            missing++;
    CHECK_INT(missing, 0);
    charter_ledger_report r;
    CHECK_INT(charter_ledger_verify(path, pubfile, &r, NULL), CHARTER_OK);
    CHECK(r.ok);
    if (!r.ok)
        fprintf(stderr, "verify: %s\n", r.message);
    CHECK(r.checkpoints > 0);
    printf("crash test: %d kills, %zu acknowledged decisions, %llu entries, "
           "%llu checkpoints\n", KILLS, ack_count, (unsigned long long)r.entries,
           (unsigned long long)r.checkpoints);
    free(present);
    free(acks);
    test_dir_remove(tmpdir);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_acknowledged_decisions_survive_sigkill);
    return TEST_DONE();
}
