/* banned.h - poisons unsafe C library functions.
 *
 * Every .c file in src/ includes this first (after system headers it needs
 * would re-declare them, so it comes before any other include). Use snprintf,
 * memcpy with explicit lengths, strtol/strtoll with error checks, gmtime_r.
 */
#ifndef CHARTER_BASE_BANNED_H
#define CHARTER_BASE_BANNED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#pragma GCC poison strcpy strcat sprintf vsprintf strtok atoi atol atoll gets
#pragma GCC poison gmtime localtime ctime asctime strncpy strncat

#endif
