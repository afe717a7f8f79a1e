/* ticketctl report: render a bench results JSON as HTML + Markdown. */
#include "commands.h"
#include "ticketctl/report.h"

#include <getopt.h>
#include <stdio.h>

static const struct option longopts[] = {
    {"out-dir", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ticketctl report RESULTS.json [--out-dir DIR]\n"
            "\n"
            "Render a bench results file (docs/RESULTS.md) as a self-contained HTML page\n"
            "(charts of throughput, virtual users and latency over time; step, error and\n"
            "invariant tables) and a Markdown summary. Writes <name>.html and <name>.md\n"
            "beside the JSON, or in DIR, and prints both paths.\n"
            "\n"
            "  -o, --out-dir DIR   write the two files into DIR (must exist)\n"
            "  -h, --help          this help\n");
}

int cmd_report(int argc, char **argv)
{
    const char *out_dir = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out_dir = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "report: %s\n", optind < argc ? "one results file, please" : "missing RESULTS.json");
        usage(stderr);
        return 2;
    }
    char html[8192], md[8192], err[1024];
    if (tk_report_write_files(argv[optind], out_dir, html, sizeof html, md, sizeof md, err, sizeof err) != 0) {
        fprintf(stderr, "report: %s\n", err);
        return 1;
    }
    printf("%s\n%s\n", html, md);
    return 0;
}
