/* fuzz_http.c - HTTP request handling: raw bytes to a real `charter serve`
 * (started in-process once, on 127.0.0.1 with a fresh ledger and keys), over
 * a new loopback connection per input. Every "@AGENT@", "@APPROVER@" and
 * "@ADMIN@" in the input is replaced by a valid token of that role first,
 * so inputs reach the authenticated handlers too, not only the 401 path.
 * The server must answer or close; a crash, a sanitizer report or a leak at
 * exit is a finding. Requests go to loopback only and are bounded in time
 * (a 2 s receive timeout). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "charter.h"
#include "charter_server.h"
#include "fuzz.h"

static charter_server *fuzz_server;
static struct sockaddr_in fuzz_addr;
static char fuzz_tokens[3][CHARTER_TOKEN_SIZE];
static char fuzz_dir[64];

static void fuzz_stop(void)
{
    charter_server_stop(fuzz_server, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_http: cannot remove %s\n", fuzz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    snprintf(fuzz_dir, sizeof fuzz_dir, "/tmp/charter-fuzz-http-XXXXXX");
    if (!mkdtemp(fuzz_dir))
        abort();
    char keys[128], ledger[128];
    snprintf(keys, sizeof keys, "%s/keys", fuzz_dir);
    snprintf(ledger, sizeof ledger, "%s/ledger.db", fuzz_dir);
    const char *queues[] = {"leads", "quick"}, *roles[] = {"support-lead"};
    charter_error err;
    if (charter_access_add(keys, CHARTER_ROLE_AGENT, "support-bot", NULL, 0, NULL, 0,
                           fuzz_tokens[0], &err) != CHARTER_OK ||
        charter_access_add(keys, CHARTER_ROLE_APPROVER, "lena", queues, 2, roles, 1,
                           fuzz_tokens[1], &err) != CHARTER_OK ||
        charter_access_add(keys, CHARTER_ROLE_ADMIN, "ops", NULL, 0, NULL, 0,
                           fuzz_tokens[2], &err) != CHARTER_OK) {
        fprintf(stderr, "fuzz_http: keys: %s\n", err.message);
        abort();
    }
    charter_server_options o = {
        .charter_path = CHARTER_SOURCE_DIR "/tests/http/data/shop.yaml",
        .ledger_path = ledger, .keys_dir = keys, .listen = "127.0.0.1:0",
        .idle_timeout_s = 1, .max_wait_s = 1, .max_body_bytes = 64 * 1024};
    if (charter_server_start(&o, &fuzz_server, &err) != CHARTER_OK) {
        fprintf(stderr, "fuzz_http: cannot start the server: %s\n", err.message);
        abort();
    }
    const char *addr = charter_server_address(fuzz_server);
    const char *colon = strrchr(addr, ':');
    memset(&fuzz_addr, 0, sizeof fuzz_addr);
    fuzz_addr.sin_family = AF_INET;
    fuzz_addr.sin_port = htons((uint16_t)atoi(colon + 1));
    inet_pton(AF_INET, "127.0.0.1", &fuzz_addr.sin_addr);
    atexit(fuzz_stop);
    return 0;
}

/* The input with the token placeholders replaced; malloc'd. */
static char *with_tokens(const uint8_t *data, size_t size, size_t *out_len)
{
    static const char *const marks[3] = {"@AGENT@", "@APPROVER@", "@ADMIN@"};
    char *out = malloc(size * 10 + 1);
    size_t n = 0;
    if (!out)
        abort();
    for (size_t i = 0; i < size;) {
        int hit = -1;
        for (int m = 0; m < 3 && hit < 0; m++) {
            size_t ml = strlen(marks[m]);
            if (size - i >= ml && !memcmp(data + i, marks[m], ml))
                hit = m;
        }
        if (hit >= 0) {
            size_t tl = strlen(fuzz_tokens[hit]);
            memcpy(out + n, fuzz_tokens[hit], tl);
            n += tl;
            i += strlen(marks[hit]);
        } else {
            out[n++] = (char)data[i++];
        }
    }
    *out_len = n;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len;
    char *req = with_tokens(data, size, &len);
    int fd = -1;
    /* Hundreds of connections a second: closing with a reset (linger 0)
     * keeps them out of TIME_WAIT, which would otherwise use up the
     * ephemeral ports within a minute; a port still busy, or a connect
     * interrupted by libFuzzer's timer signal, is retried. */
    for (int attempt = 0; fd < 0 && attempt < 100; attempt++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            abort();
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        struct timeval tv = {.tv_sec = 2};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, (struct sockaddr *)&fuzz_addr, sizeof fuzz_addr) != 0) {
            if (errno != EADDRNOTAVAIL && errno != EAGAIN && errno != EINTR &&
                errno != EINPROGRESS) {
                perror("fuzz_http: connect");
                abort(); /* the server must still be listening */
            }
            close(fd);
            fd = -1;
            usleep(10000);
        }
    }
    if (fd < 0)
        abort();
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may close early, e.g. after a 413 */
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    char buf[65536];
    while (recv(fd, buf, sizeof buf, 0) > 0)
        ;
    close(fd);
    free(req);
    return 0;
}
