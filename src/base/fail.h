/* fail.h - filling a charter_error: every layer's "say what went wrong and
 * return the code" in one place.
 */
#ifndef CHARTER_BASE_FAIL_H
#define CHARTER_BASE_FAIL_H

#include <stdarg.h>

#include "charter.h"

/* Clears *err (may be NULL), sets its code and a printf message, returns
 * `code`. The file, line and column stay empty. */
charter_status base_fail(charter_error *err, charter_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
charter_status base_vfail(charter_error *err, charter_status code, const char *fmt,
                          va_list ap) __attribute__((format(printf, 3, 0)));

#endif
