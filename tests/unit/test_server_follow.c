/* test_server_follow.c - a server of a shared ledger loads the charter
 * another server serves from its canonical JSON (src/server/follow.c,
 * srv_charter_from_canonical): every charter of the examples and the test
 * data comes back as the very same version, and a canonical form that
 * does not give that version is refused rather than served.
 */
#include "test.h"

#include <glob.h>

#include "charter.h"
#include "server/server.h"

static int round_trips;

/* Loads `path`, then its canonical JSON, and expects the same version. */
static void round_trip(const char *path)
{
    charter *c = NULL, *back = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    if (charter_load(path, &c, &err) != CHARTER_OK)
        return; /* a charter the test data keeps for its errors */
    size_t n = 0;
    const char *canon = charter_canonical_json(c, &n);
    charter_status st = srv_charter_from_canonical(charter_version(c), canon, n, &back, &err);
    if (st != CHARTER_OK)
        fprintf(stderr, "%s: %s\n", path, err.message);
    CHECK_INT(st, CHARTER_OK);
    CHECK(back && !strcmp(charter_version(back), charter_version(c)));
    round_trips++;
    charter_release(back);
    charter_release(c);
}

static void each(const char *pattern)
{
    glob_t g;
    if (glob(pattern, GLOB_MARK, NULL, &g) != 0)
        return;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        size_t n = strlen(g.gl_pathv[i]);
        if (n > 10 && !strcmp(g.gl_pathv[i] + n - 10, ".test.yaml"))
            continue;
        round_trip(g.gl_pathv[i]);
    }
    globfree(&g);
}

static void test_every_charter_comes_back_as_its_version(void)
{
    each("examples/*/charter/");
    each("tests/http/data/*.yaml");
    each("tests/http/data/*/");
    each("tests/data/charters/good/*");
    each("tests/data/*/*.yaml");
    /* Queues with SLAs and reminders, standing approvals, readiness
     * attributes, goals: the examples have them all. */
    CHECK(round_trips >= 10);
}

static void test_a_form_that_gives_another_version_is_refused(void)
{
    charter *c = NULL, *back = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(charter_load("tests/http/data/shop.yaml", &c, &err), CHARTER_OK);
    size_t n = 0;
    const char *canon = charter_canonical_json(c, &n);
    const char *other = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    CHECK_INT(srv_charter_from_canonical(other, canon, n, &back, &err), CHARTER_E_INVALID);
    CHECK_HAS(err.message, "loads here as version");
    CHECK(back == NULL);
    const char *odd = "{\"charter\":1,\"nonsense\":true}";
    CHECK(srv_charter_from_canonical(charter_version(c), odd, strlen(odd), &back, &err) !=
          CHARTER_OK);
    CHECK(back == NULL);
    CHECK_INT(srv_charter_from_canonical(charter_version(c), "not json", 8, &back, &err),
              CHARTER_E_INVALID);
    CHECK(back == NULL);
    charter_release(c);
}

int main(void)
{
    RUN(test_every_charter_comes_back_as_its_version);
    RUN(test_a_form_that_gives_another_version_is_refused);
    return TEST_DONE();
}
