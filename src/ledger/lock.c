/* lock.c - one recording process per ledger file (lock.h). */
#include "base/banned.h"

#include "ledger/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/store.h"

/* "charter serve": the program's name and its subcommand, read from
 * /proc/self/cmdline (Linux). The rest of the command line is left out: it
 * may name files the lock file's readers need not see. "" when unknown. */
static void self_command(char *out, size_t cap)
{
    out[0] = '\0';
    char buf[512];
    FILE *f = fopen("/proc/self/cmdline", "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *prog = buf, *slash = strrchr(prog, '/');
    if (slash)
        prog = slash + 1;
    size_t first = strlen(buf);
    const char *sub = first + 1 < n ? buf + first + 1 : "";
    if (sub[0] == '-')
        sub = "";
    snprintf(out, cap, "%.100s%s%.60s", prog, *sub ? " " : "", sub);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = '?';
}

static void holder_write(int fd)
{
    char cmd[200], line[256];
    self_command(cmd, sizeof cmd);
    int n = snprintf(line, sizeof line, "%ld %s\n", (long)getpid(), cmd);
    if (ftruncate(fd, 0) == 0 && pwrite(fd, line, (size_t)n, 0) == n)
        return;
    /* The lock holds without it; only the refusal message is poorer. */
}

/* "pid 1234, charter serve" from the lock file's text, into out. */
static void holder_describe(int fd, char *out, size_t cap)
{
    char buf[256];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    if (end == buf || pid <= 0) {
        snprintf(out, cap, "its pid is not written down yet");
        return;
    }
    while (*end == ' ')
        end++;
    end[strcspn(end, "\n")] = '\0';
    if (pid == (long)getpid())
        snprintf(out, cap, "pid %ld, this very process%s%s", pid, *end ? ": " : "", end);
    else
        snprintf(out, cap, "pid %ld%s%s", pid, *end ? ", " : "", end);
}

static charter_status refuse(const char *ledger_path, int fd, charter_error *err)
{
    char who[300];
    holder_describe(fd, who, sizeof who);
    return ledger_fail(err, CHARTER_E_IO,
                       "ledger '%s' is already open for recording by another process "
                       "(%s): a ledger has one writer at a time. Send decisions and "
                       "outcomes to that process instead (a running 'charter serve' takes "
                       "them at POST /v1/decide, POST /v1/outcomes and /mcp), or stop it "
                       "first; read-only commands (verify, export, report, map, replay) "
                       "work beside it",
                       ledger_path, who);
}

/* Opens and locks the lock file; -1 with *status and err filled when not. */
static int lock_open(const char *ledger_path, const char *path, charter_status *status,
                     charter_error *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        bool denied = e == EACCES || e == EPERM || e == EROFS;
        *status = ledger_fail(err, CHARTER_E_IO,
                              "ledger '%s'%s: cannot open its lock file '%s': %s",
                              ledger_path, denied ? " is read-only for this process" : "",
                              path, strerror(e));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            *status = refuse(ledger_path, fd, err);
        else
            *status = ledger_fail(err, CHARTER_E_IO, "cannot lock '%s': %s", path,
                                  strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Whether `path` still names the file open as fd. */
static bool same_file(const char *path, int fd, dev_t *dev, ino_t *ino)
{
    struct stat a, b;
    if (fstat(fd, &a) != 0 || stat(path, &b) != 0)
        return false;
    *dev = a.st_dev;
    *ino = a.st_ino;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Locks `path` into l (fd -1 on entry); a file removed or replaced between
 * open and flock is opened again. */
static charter_status lock_take(ledger_lock *l, const char *ledger_path,
                                charter_error *err)
{
    for (int tries = 0; tries < 3; tries++) {
        charter_status st = CHARTER_OK;
        int fd = lock_open(ledger_path, l->path, &st, err);
        if (fd < 0)
            return st;
        if (same_file(l->path, fd, &l->dev, &l->ino)) {
            holder_write(fd);
            l->fd = fd;
            return CHARTER_OK;
        }
        close(fd);
    }
    return ledger_fail(err, CHARTER_E_IO, "cannot lock '%s': it keeps being replaced",
                       l->path);
}

charter_status ledger_lock_acquire(const char *ledger_path, ledger_lock *out,
                                   charter_error *err)
{
    out->fd = -1;
    size_t n = strlen(ledger_path) + sizeof ".lock";
    if (!(out->path = malloc(n)))
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory locking a ledger");
    snprintf(out->path, n, "%s.lock", ledger_path);
    charter_status st = lock_take(out, ledger_path, err);
    if (st != CHARTER_OK) {
        free(out->path);
        out->path = NULL;
    }
    return st;
}

charter_status ledger_lock_check(ledger_lock *l, charter_error *err)
{
    dev_t dev;
    ino_t ino;
    if (l->fd >= 0 && same_file(l->path, l->fd, &dev, &ino))
        return CHARTER_OK;
    /* Ours is gone from the name: whoever opens the name now locks another
     * file. Take the name back if it is free. */
    ledger_lock fresh = {.fd = -1, .path = l->path};
    size_t n = strlen(l->path) - (sizeof ".lock" - 1);
    char ledger_path[4096];
    snprintf(ledger_path, sizeof ledger_path, "%.*s", (int)n, l->path);
    charter_error why;
    memset(&why, 0, sizeof why);
    if (lock_take(&fresh, ledger_path, &why) != CHARTER_OK)
        return ledger_fail(err, CHARTER_E_IO,
                           "the lock file '%s' was removed or replaced while this process "
                           "held it, and it cannot be taken again: %s",
                           l->path, why.message);
    if (l->fd >= 0)
        close(l->fd);
    *l = fresh;
    return CHARTER_OK;
}

void ledger_lock_release(ledger_lock *l)
{
    if (!l)
        return;
    if (l->fd >= 0)
        close(l->fd); /* drops the flock */
    l->fd = -1;
    free(l->path);
    l->path = NULL;
}
