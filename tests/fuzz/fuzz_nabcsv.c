/* libFuzzer target: NAB CSV files, data and results (tk_nab_parse_csv,
 * lib/nab.c). Properties: TK_OK gives n >= 1 rows with finite values (and
 * finite scores when there is a score column); anything else is TK_EINVAL
 * with a message naming the input; never a crash, leak or UB. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ticketctl/common.h"
#include "ticketctl/nab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    tk_nab_series s;
    char err[512] = "";
    int rc = tk_nab_parse_csv((const char *)data, size, "fuzz.csv", &s, err, sizeof err);
    if (rc != TK_OK) {
        if (rc != TK_EINVAL && rc != TK_ENOMEM)
            abort();
        if (rc == TK_EINVAL && strncmp(err, "fuzz.csv", 8) != 0)
            abort(); /* the message must say which file */
        return 0;
    }
    if (s.n == 0 || !s.ts || !s.value)
        abort();
    for (size_t i = 0; i < s.n; i++)
        if (!isfinite(s.value[i]) || (s.score && !isfinite(s.score[i])))
            abort();
    tk_nab_series_free(&s);
    return 0;
}
