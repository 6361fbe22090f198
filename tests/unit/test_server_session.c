/* test_server_session.c - the console's session store (src/server/session.c)
 * without HTTP: a session is found only by its whole id, until it expires or
 * ends; the store holds at most its maximum, dropping the oldest, and one
 * key at most its share, dropping that key's oldest; expired
 * sessions make room; each session has its own id and CSRF token; and the
 * store takes threads creating and finding at once (run it under TSan). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charter.h"
#include "server/server.h"
#include "test.h"

#define LIFE 1000 /* ms */

static srv_sessions *store(size_t max)
{
    srv_sessions *ss = NULL;
    CHECK_INT(srv_sessions_new(max, 4, LIFE, &ss), CHARTER_OK);
    return ss;
}

static void test_a_session_is_found_by_its_whole_id_until_it_expires(void)
{
    srv_sessions *ss = store(8);
    char id[SRV_SESSION_ID_CHARS + 1];
    struct srv_session_view made, seen;
    CHECK(srv_session_create(ss, "0123456789ab", 5000, id, &made));
    CHECK_INT((long)strlen(id), SRV_SESSION_ID_CHARS);
    CHECK_INT((long)strlen(made.csrf), 43);
    CHECK(strcmp(id, made.csrf) != 0);
    CHECK_INT((long)made.expires_ms, 5000 + LIFE);
    CHECK(srv_session_find(ss, id, 5000, &seen));
    CHECK_STR(seen.key_id, "0123456789ab");
    CHECK_STR(seen.csrf, made.csrf);
    CHECK(!memcmp(seen.id_hash, made.id_hash, 32));
    CHECK(srv_session_find(ss, id, 5000 + LIFE - 1, &seen));
    CHECK(!srv_session_find(ss, id, 5000 + LIFE, &seen)); /* expired */
    char other[SRV_SESSION_ID_CHARS + 1];
    memcpy(other, id, sizeof other);
    other[10] = other[10] == 'A' ? 'B' : 'A';
    CHECK(!srv_session_find(ss, other, 5000, &seen));
    other[10] = '\0';
    CHECK(!srv_session_find(ss, other, 5000, &seen));  /* a prefix */
    CHECK(!srv_session_find(ss, "", 5000, &seen));
    CHECK(!srv_session_find(ss, NULL, 5000, &seen));
    srv_sessions_free(ss);
}

static void test_an_ended_session_is_gone(void)
{
    srv_sessions *ss = store(8);
    char a[SRV_SESSION_ID_CHARS + 1], b[SRV_SESSION_ID_CHARS + 1];
    struct srv_session_view va, vb, seen;
    srv_session_create(ss, "aaaaaaaaaaaa", 0, a, &va);
    srv_session_create(ss, "bbbbbbbbbbbb", 0, b, &vb);
    CHECK(strcmp(a, b) != 0);
    CHECK(strcmp(va.csrf, vb.csrf) != 0);
    CHECK_INT((long)srv_sessions_count(ss), 2);
    srv_session_end(ss, va.id_hash);
    CHECK(!srv_session_find(ss, a, 1, &seen));
    CHECK(srv_session_find(ss, b, 1, &seen));
    CHECK_STR(seen.key_id, "bbbbbbbbbbbb");
    CHECK_INT((long)srv_sessions_count(ss), 1);
    srv_session_end(ss, va.id_hash); /* twice: nothing happens */
    CHECK_INT((long)srv_sessions_count(ss), 1);
    srv_sessions_free(ss);
}

static void test_one_more_than_the_maximum_drops_the_oldest(void)
{
    srv_sessions *ss = NULL;
    CHECK_INT(srv_sessions_new(3, 8, LIFE, &ss), CHARTER_OK);
    char id[5][SRV_SESSION_ID_CHARS + 1];
    struct srv_session_view v;
    for (int i = 0; i < 5; i++)
        srv_session_create(ss, "0123456789ab", i, id[i], &v);
    CHECK_INT((long)srv_sessions_count(ss), 3);
    CHECK(!srv_session_find(ss, id[0], 10, &v));
    CHECK(!srv_session_find(ss, id[1], 10, &v));
    for (int i = 2; i < 5; i++)
        CHECK(srv_session_find(ss, id[i], 10, &v));
    srv_sessions_free(ss);
}

static void test_one_key_holds_at_most_its_share(void)
{
    srv_sessions *ss = store(16); /* 4 per key */
    char other[SRV_SESSION_ID_CHARS + 1], id[6][SRV_SESSION_ID_CHARS + 1];
    struct srv_session_view v;
    srv_session_create(ss, "bbbbbbbbbbbb", 0, other, &v);
    for (int i = 0; i < 6; i++)
        srv_session_create(ss, "aaaaaaaaaaaa", i, id[i], &v);
    CHECK_INT((long)srv_sessions_count(ss), 5);
    CHECK(srv_session_find(ss, other, 10, &v)); /* another key's stays */
    CHECK(!srv_session_find(ss, id[0], 10, &v));
    CHECK(!srv_session_find(ss, id[1], 10, &v));
    for (int i = 2; i < 6; i++)
        CHECK(srv_session_find(ss, id[i], 10, &v));
    srv_sessions_free(ss);
}

static void test_expired_sessions_make_room(void)
{
    srv_sessions *ss = NULL;
    CHECK_INT(srv_sessions_new(2, 8, LIFE, &ss), CHARTER_OK);
    char a[SRV_SESSION_ID_CHARS + 1], b[SRV_SESSION_ID_CHARS + 1],
        c[SRV_SESSION_ID_CHARS + 1];
    struct srv_session_view v;
    srv_session_create(ss, "aaaaaaaaaaaa", 0, a, &v);
    srv_session_create(ss, "bbbbbbbbbbbb", 500, b, &v);
    /* a expired at LIFE: it goes, and b (live) stays. */
    srv_session_create(ss, "cccccccccccc", LIFE + 1, c, &v);
    CHECK_INT((long)srv_sessions_count(ss), 2);
    CHECK(srv_session_find(ss, b, LIFE + 1, &v));
    CHECK(srv_session_find(ss, c, LIFE + 1, &v));
    srv_sessions_free(ss);
}

static srv_sessions *shared;

static void *churn(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        char id[SRV_SESSION_ID_CHARS + 1];
        struct srv_session_view v, seen;
        srv_session_create(shared, "0123456789ab", i, id, &v);
        /* Another thread may have dropped it already (64 slots): found
         * or not, the store must stay whole. */
        (void)srv_session_find(shared, id, i, &seen);
        if (i % 3 == 0)
            srv_session_end(shared, v.id_hash);
    }
    return NULL;
}

static void test_threads_create_find_and_end_at_once(void)
{
    CHECK_INT(srv_sessions_new(64, 64, LIFE, &shared), CHARTER_OK);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK_INT(pthread_create(&t[i], NULL, churn, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK(srv_sessions_count(shared) <= 64);
    srv_sessions_free(shared);
}

int main(void)
{
    RUN(test_a_session_is_found_by_its_whole_id_until_it_expires);
    RUN(test_an_ended_session_is_gone);
    RUN(test_one_more_than_the_maximum_drops_the_oldest);
    RUN(test_one_key_holds_at_most_its_share);
    RUN(test_expired_sessions_make_room);
    RUN(test_threads_create_find_and_end_at_once);
    return TEST_DONE();
}
