/* Build and library versions (buildinfo.h). Build-time strings come from
 * CMake (project version, git describe, pkg-config module versions);
 * runtime ones from each library's own version call. */
#include "ticketctl/buildinfo.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <mysql.h>
#include <sodium.h>
#include <xxhash.h>
#include <string.h>

#ifndef TK_VERSION_STR
#define TK_VERSION_STR "0.0.0"
#endif
#ifndef TK_COMMIT
#define TK_COMMIT "unknown"
#endif
#ifndef TK_BUILD_TYPE
#define TK_BUILD_TYPE "unknown"
#endif
#ifndef TK_V_LIBEVENT
#define TK_V_LIBEVENT "?"
#endif
#ifndef TK_V_HIREDIS
#define TK_V_HIREDIS "?"
#endif
#ifndef TK_V_LIBMARIADB
#define TK_V_LIBMARIADB "?"
#endif
#ifndef TK_V_RDKAFKA
#define TK_V_RDKAFKA "?"
#endif
#ifndef TK_V_LIBCURL
#define TK_V_LIBCURL "?"
#endif
#ifndef TK_V_JANSSON
#define TK_V_JANSSON "?"
#endif
#ifndef TK_V_LIBJWT
#define TK_V_LIBJWT "?"
#endif
#ifndef TK_V_XXHASH
#define TK_V_XXHASH "?"
#endif
#ifndef TK_V_LIBSODIUM
#define TK_V_LIBSODIUM "?"
#endif

#define STR2(x) #x
#define STR(x) STR2(x)

const char *tk_build_version(void) { return TK_VERSION_STR; }
const char *tk_build_commit(void) { return TK_COMMIT; }
const char *tk_build_type(void) { return TK_BUILD_TYPE; }

const char *tk_build_compiler(void)
{
#if defined(__clang__)
    return "clang " STR(__clang_major__) "." STR(__clang_minor__) "." STR(__clang_patchlevel__);
#elif defined(__GNUC__)
    return "gcc " STR(__GNUC__) "." STR(__GNUC_MINOR__) "." STR(__GNUC_PATCHLEVEL__);
#else
    return "unknown";
#endif
}

enum { L_LIBEVENT, L_HIREDIS, L_MARIADB, L_RDKAFKA, L_CURL, L_JANSSON, L_JWT, L_SODIUM, L_XXHASH, L_N };

const tk_build_lib *tk_build_libs(size_t *n)
{
    static tk_build_lib libs[L_N] = {
        {"libevent", TK_V_LIBEVENT, NULL},    {"hiredis", TK_V_HIREDIS, NULL},
        {"mariadb-connector-c", TK_V_LIBMARIADB, NULL}, {"librdkafka", TK_V_RDKAFKA, NULL},
        {"libcurl", TK_V_LIBCURL, NULL},      {"jansson", TK_V_JANSSON, NULL},
        {"libjwt", TK_V_LIBJWT, NULL},        {"libsodium", TK_V_LIBSODIUM, NULL},
        {"xxhash", TK_V_XXHASH, NULL},
    };
    /* The runtime calls return static strings; filling them every time is
     * idempotent (same pointers), so no once-guard is needed. */
    libs[L_LIBEVENT].runtime = event_get_version();
    libs[L_MARIADB].runtime = mysql_get_client_info();
    libs[L_RDKAFKA].runtime = rd_kafka_version_str();
    libs[L_CURL].runtime = curl_version_info(CURLVERSION_NOW)->version;
    libs[L_SODIUM].runtime = sodium_version_string();
    {
        static char xxv[16];
        unsigned v = XXH_versionNumber(); /* major*10000 + minor*100 + release */
        snprintf(xxv, sizeof xxv, "%u.%u.%u", v / 10000, v / 100 % 100, v % 100);
        libs[L_XXHASH].runtime = xxv;
    }
    /* hiredis 0.14, jansson and libjwt have no runtime version call */
    *n = L_N;
    return libs;
}

json_t *tk_build_json(void)
{
    json_t *libs = json_object();
    size_t n;
    const tk_build_lib *l = tk_build_libs(&n);
    for (size_t i = 0; libs && i < n; i++)
        json_object_set_new(libs, l[i].name,
                            json_pack("{s:s, s:s?}", "built", l[i].built, "runtime", l[i].runtime));
    return json_pack("{s:s, s:s, s:s, s:s, s:o?}", "version", tk_build_version(), "commit", tk_build_commit(),
                     "build_type", tk_build_type(), "compiler", tk_build_compiler(), "libraries", libs);
}

void tk_build_print(FILE *f)
{
    fprintf(f, "ticketctl %s (commit %s, %s build, %s)\n", tk_build_version(), tk_build_commit(), tk_build_type(),
            tk_build_compiler());
    size_t n;
    const tk_build_lib *l = tk_build_libs(&n);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "  %-20s built %s", l[i].name, l[i].built);
        if (l[i].runtime)
            fprintf(f, ", running %s", l[i].runtime);
        fputc('\n', f);
    }
}
