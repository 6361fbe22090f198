/* fuzz.h - the contract every harness in fuzz/ keeps.
 *
 * A harness is one file, fuzz_<name>.c, defining the two functions below;
 * its seed corpus is fuzz/corpus/<name>/ and its optional libFuzzer
 * dictionary fuzz/<name>.dict. fuzz/CMakeLists.txt builds each harness
 * twice: with libFuzzer (CHARTER_FUZZ=ON, clang) to search for new inputs,
 * and with replay.c in every build, as the ctest `fuzz_replay_<name>` that
 * runs the committed corpus (crashing inputs found once stay there as
 * regression tests).
 *
 * A harness must never crash, leak, hang or trip a sanitizer on any input:
 * bad input is expected to come back as an error status.
 */
#ifndef CHARTER_FUZZ_H
#define CHARTER_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Called once before the first input: load what every input shares (a
 * charter, say). Returns 0; anything else is a broken set-up. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Called for every input; `data` is exactly `size` bytes, not terminated.
 * Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
