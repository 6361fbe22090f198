/* replay.c - runs a harness over files and folders of inputs without
 * libFuzzer, so the committed corpus is an ordinary test in every build
 * (SQLite's fuzzcheck does the same for its fuzz corpora).
 *
 * Usage: fuzz_replay_<name> PATH...   (files, or folders of files)
 * Every input goes to LLVMFuzzerTestOneInput in a buffer of exactly its
 * size, so a sanitizer build catches a read past its end. Exits 1 when a
 * path cannot be read or holds no input at all (an empty corpus would
 * otherwise pass silently); a crash ends the process as it would under
 * libFuzzer.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path, size_t size)
{
    FILE *f = fopen(path, "rb");
    /* Exactly `size` bytes, so a sanitizer catches a read past the end. */
    unsigned char *buf = malloc(size ? size : 1);
    bool ok = f && buf && fread(buf, 1, size, f) == size;
    if (f)
        fclose(f);
    if (!ok) {
        fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
        free(buf);
        return -1;
    }
    LLVMFuzzerTestOneInput(buf, size);
    free(buf);
    return 1;
}

/* Returns the number of inputs replayed, or -1. */
static long replay_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path, (size_t)st.st_size);
    struct dirent **names = NULL;
    int count = scandir(path, &names, NULL, alphasort);
    if (count < 0) {
        fprintf(stderr, "replay: cannot list %s: %s\n", path, strerror(errno));
        return -1;
    }
    long done = 0;
    for (int i = 0; i < count; i++) {
        const char *name = names[i]->d_name;
        if (name[0] != '.' && done >= 0) {
            size_t len = strlen(path) + strlen(name) + 2;
            char *full = malloc(len);
            if (!full) {
                done = -1;
            } else {
                snprintf(full, len, "%s/%s", path, name);
                long r = replay_path(full);
                done = r < 0 ? -1 : done + r;
                free(full);
            }
        }
        free(names[i]);
    }
    free(names);
    return done;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH...\n", argv[0]);
        return 2;
    }
    LLVMFuzzerInitialize(&argc, &argv);
    int status = 0;
    for (int i = 1; i < argc; i++) {
        long n = replay_path(argv[i]);
        if (n <= 0) {
            fprintf(stderr, "replay: no input replayed from %s\n", argv[i]);
            status = 1;
        } else {
            printf("replayed %ld inputs from %s\n", n, argv[i]);
        }
    }
    return status;
}
