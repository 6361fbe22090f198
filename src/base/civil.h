/* civil.h - calendar arithmetic shared by every reader of dates (CEL
 * timestamps, request times, log lines) and hex digits for every decoder
 * of escapes and hashes. */
#ifndef CHARTER_BASE_CIVIL_H
#define CHARTER_BASE_CIVIL_H

#include <stdint.h>

/* Days since 1970-01-01 of a proleptic Gregorian date, month 1-12, any
 * year (Howard Hinnant's civil-date algorithm). */
int64_t base_days_from_civil(int64_t y, unsigned m, unsigned d);

/* The date of a day number (the inverse of base_days_from_civil). */
void base_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* The value of a hexadecimal digit, or -1. */
static inline int base_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
