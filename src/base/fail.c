/* fail.c - see fail.h. */
#include "base/banned.h"

#include "base/fail.h"

#include <stdio.h>
#include <string.h>

charter_status base_vfail(charter_error *err, charter_status code, const char *fmt,
                          va_list ap)
{
    if (!err)
        return code;
    memset(err, 0, sizeof *err);
    err->code = code;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    return code;
}

charter_status base_fail(charter_error *err, charter_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    base_vfail(err, code, fmt, ap);
    va_end(ap);
    return code;
}
