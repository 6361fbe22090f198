/* secfile.c - writing a file of secrets whole, mode 0600 (secfile.h). */
#include "base/banned.h"

#include "base/secfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fail.h"
#include "base/limits.h"

charter_status base_secfile_write(const char *dir, const char *path, const char *text,
                                  charter_error *err)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return base_fail(err, CHARTER_E_IO, "cannot create %s: %s", dir, strerror(errno));
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return base_fail(err, CHARTER_E_IO, "cannot write %s: the path is too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    size_t n = strlen(text);
    bool ok = fd >= 0 && write(fd, text, n) == (ssize_t)n && write(fd, "\n", 1) == 1 &&
              fsync(fd) == 0;
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            e = errno;
        unlink(tmp);
        return base_fail(err, CHARTER_E_IO, "cannot write %s: %s", path, strerror(e));
    }
    return CHARTER_OK;
}

bool base_secfile_name_ok(const char *s)
{
    if (!s || !*s || strlen(s) > CHARTER_MAX_ID_BYTES)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || *s == '"' || *s == '\\')
            return false;
    return true;
}
