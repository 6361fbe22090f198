/* test.h - the tiny unit-test harness every tests/unit/test_*.c uses.
 *
 * A test file defines `static void test_something(void)` functions and a
 * main() that runs them with RUN(test_something) and returns TEST_DONE().
 * CHECK* record a failure (with file:line and the values) and go on; the
 * test binary prints one line per failed check, then "N passed, N failed"
 * counted per test function, and exits 1 if anything failed.
 */
#ifndef CHARTER_TEST_H
#define CHARTER_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failed_checks_;
static int test_passed_;
static int test_failed_;
static const char *test_current_;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            test_failed_checks_++;                                           \
            fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__,       \
                    __LINE__, test_current_, #cond);                         \
        }                                                                    \
    } while (0)

#define CHECK_INT(a, b)                                                      \
    do {                                                                     \
        long long a_ = (long long)(a), b_ = (long long)(b);                  \
        if (a_ != b_) {                                                      \
            test_failed_checks_++;                                           \
            fprintf(stderr, "%s:%d: %s: %s == %lld, expected %lld\n",        \
                    __FILE__, __LINE__, test_current_, #a, a_, b_);          \
        }                                                                    \
    } while (0)

#define CHECK_STR(a, b)                                                      \
    do {                                                                     \
        const char *a_ = (a), *b_ = (b);                                     \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                             \
            test_failed_checks_++;                                           \
            fprintf(stderr, "%s:%d: %s: %s == \"%s\", expected \"%s\"\n",    \
                    __FILE__, __LINE__, test_current_, #a,                   \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                 \
        }                                                                    \
    } while (0)

/* The string a contains b. */
#define CHECK_HAS(a, b)                                                      \
    do {                                                                     \
        const char *a_ = (a), *b_ = (b);                                     \
        if (!a_ || !b_ || !strstr(a_, b_)) {                                 \
            test_failed_checks_++;                                           \
            fprintf(stderr, "%s:%d: %s: %s == \"%s\", expected to contain "  \
                    "\"%s\"\n", __FILE__, __LINE__, test_current_, #a,       \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                 \
        }                                                                    \
    } while (0)

#define RUN(fn)                                                              \
    do {                                                                     \
        int before_ = test_failed_checks_;                                   \
        test_current_ = #fn;                                                 \
        fn();                                                                \
        if (test_failed_checks_ == before_)                                  \
            test_passed_++;                                                  \
        else                                                                 \
            test_failed_++;                                                  \
    } while (0)

#define TEST_DONE()                                                          \
    (printf("%d passed, %d failed\n", test_passed_, test_failed_),           \
     test_failed_ ? 1 : 0)


/* A fresh scratch folder "/tmp/charter-NAME-XXXXXX" written into dir (n
 * bytes); a test that cannot have one cannot run, so it exits. */
static inline void test_dir_make(const char *name, char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/charter-%s-XXXXXX", name);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
}

/* Removes the folder test_dir_make made, with everything in it. */
static inline void test_dir_remove(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

#endif
