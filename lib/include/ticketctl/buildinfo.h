/* What this binary is: version, commit, build type, compiler, and the
 * version of every library it was built against and runs with. For
 * `ticketctl version`, the results JSON's "machine" and the Prometheus
 * build-info metric. */
#ifndef TICKETCTL_BUILDINFO_H
#define TICKETCTL_BUILDINFO_H

#include <jansson.h>
#include <stdio.h>

/* "0.1.0" (CMake project version); static storage. */
const char *tk_build_version(void);
/* `git describe --always --dirty` at configure time, or "unknown"; static. */
const char *tk_build_commit(void);
/* "Release", "Debug+asan", ... (CMAKE_BUILD_TYPE and sanitizers); static. */
const char *tk_build_type(void);
/* "gcc 12.2.0" or "clang 14.0.6"; static. */
const char *tk_build_compiler(void);

/* One linked library: the version its headers/pkg-config said at build
 * time, and the one the loaded shared library reports (NULL when the
 * library has no runtime version call). Static storage. */
typedef struct tk_build_lib {
    const char *name;
    const char *built;
    const char *runtime;
} tk_build_lib;

/* The libraries, in a fixed order; *n receives their count. */
const tk_build_lib *tk_build_libs(size_t *n);

/* {"version", "commit", "build_type", "compiler", "libraries": {name:
 * {"built", "runtime"}}}: a new reference (caller decrefs), NULL on OOM. */
json_t *tk_build_json(void);

/* The same as human-readable lines. */
void tk_build_print(FILE *f);

#endif
