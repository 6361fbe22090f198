/* fail.c - the ledger layer's one way of reporting an error. */
#include "base/banned.h"

#include "ledger/store.h"

#include "base/fail.h"

#include <stdarg.h>
#include <string.h>

charter_status ledger_fail(charter_error *err, charter_status code,
                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    base_vfail(err, code, fmt, ap);
    va_end(ap);
    return code;
}
