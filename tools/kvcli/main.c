/*
 * main.c — kvcli's main(): on Windows, binary standard streams and a UTF-8
 * argv, then cli_main() (commands.c), which does the rest.
 *
 * Only what kvcli the program needs and fuzz_cli must not have is here;
 * the command table, the parser and dispatch are in kvcli_core (see
 * commands.c for why).  Elsewhere kvcli is plain C11 plus kv.h; on Windows
 * utf8_argv() rebuilds argv as UTF-8 from the UTF-16 command line (the C
 * runtime's argv is in the ANSI code page, and kv takes UTF-8).
 */
#ifdef _WIN32
#  include <fcntl.h>
#  include <io.h>
#  include <stdlib.h>
#  include <windows.h> /* utf8_argv */
#  include <shellapi.h>
#endif

#include "cli.h"

#ifdef _WIN32
/* Rebuilds argv as UTF-8 from the UTF-16 command line, so that keys, values
 * and store paths reach kv as the UTF-8 it takes.  The strings live until
 * exit.  Returns the C runtime's argv if anything fails. */
static char **utf8_argv(int *argc, char **argv)
{
    int n, i;
    wchar_t **w = CommandLineToArgvW(GetCommandLineW(), &n);
    char **out = w ? calloc((size_t)n + 1, sizeof *out) : NULL;

    for (i = 0; out && i < n; i++) {
        int len = WideCharToMultiByte(CP_UTF8, 0, w[i], -1, NULL, 0, NULL, NULL);
        if (len <= 0 || (out[i] = malloc((size_t)len)) == NULL)
            return argv;
        WideCharToMultiByte(CP_UTF8, 0, w[i], -1, out[i], len, NULL, NULL);
    }
    if (!out)
        return argv;
    LocalFree(w);
    *argc = n;
    return out;
}
#endif

int main(int argc, char **argv)
{
#ifdef _WIN32
    /* Values are bytes: no CRLF translation on the standard streams (nor on
     * stderr, so messages end in '\n' as on other systems). */
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
    _setmode(_fileno(stderr), _O_BINARY);
    argv = utf8_argv(&argc, argv);
#endif
    return cli_main(argc, argv);
}
