/* The dashboard's page (src/serve/dash/: HTML, CSS, JavaScript), embedded into the binary byte for byte. The
 * Makefile rebuilds this file when one of them changes. */
#include <string.h>

#include "serve/dash_internal.h"

#define DASH_ASSET(sym, file)                                                                                          \
    __asm__(".section .rodata\n.globl " #sym "\n" #sym ":\n.incbin \"src/serve/dash/" file "\"\n.globl " #sym          \
            "_end\n" #sym "_end:\n.byte 0\n.previous\n");                                                              \
    extern const char sym[], sym##_end[];

DASH_ASSET(dash_index_html, "index.html")
DASH_ASSET(dash_login_html, "login.html")
DASH_ASSET(dash_unauthorized_html, "unauthorized.html")
DASH_ASSET(dash_app_js, "app.js")
DASH_ASSET(dash_app_css, "app.css")

const char *dash_asset(const char *name, size_t *len, const char **type) {
    static const struct {
        const char *name, *start, *end, *type;
    } assets[] = {
        {"index.html", dash_index_html, dash_index_html_end, "text/html; charset=utf-8"},
        {"login.html", dash_login_html, dash_login_html_end, "text/html; charset=utf-8"},
        {"unauthorized.html", dash_unauthorized_html, dash_unauthorized_html_end, "text/html; charset=utf-8"},
        {"app.js", dash_app_js, dash_app_js_end, "text/javascript; charset=utf-8"},
        {"app.css", dash_app_css, dash_app_css_end, "text/css; charset=utf-8"},
    };
    for (size_t i = 0; i < sizeof assets / sizeof assets[0]; i++) {
        if (strcmp(name, assets[i].name)) continue;
        *len = (size_t)(assets[i].end - assets[i].start);
        *type = assets[i].type;
        return assets[i].start;
    }
    return NULL;
}
