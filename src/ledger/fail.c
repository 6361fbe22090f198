/* fail.c - the ledger layer's one way of reporting an error. */
#include "base/banned.h"

#include "ledger/store.h"

#include <stdarg.h>
#include <string.h>

charter_status ledger_fail(charter_error *err, charter_status code,
                           const char *fmt, ...)
{
    if (!err)
        return code;
    memset(err, 0, sizeof *err);
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}
