#include "reward/units.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const reward_unit_words[] = {
    /* length */ "mm",
    "cm",
    "m",
    "km",
    "meter",
    "meters",
    "metre",
    "metres",
    "centimeter",
    "centimeters",
    "millimeter",
    "millimeters",
    "kilometer",
    "kilometers",
    "in",
    "inch",
    "inches",
    "ft",
    "foot",
    "feet",
    "yd",
    "yard",
    "yards",
    "mi",
    "mile",
    "miles",
    /* area and volume words */ "square",
    "sq",
    "cubic",
    "units",
    "unit",
    /* mass */ "g",
    "gram",
    "grams",
    "kg",
    "kilogram",
    "kilograms",
    "mg",
    "lb",
    "lbs",
    "pound",
    "pounds",
    "oz",
    "ounce",
    "ounces",
    "ton",
    "tons",
    /* capacity */ "l",
    "liter",
    "liters",
    "litre",
    "litres",
    "ml",
    "milliliter",
    "milliliters",
    "gallon",
    "gallons",
    "quart",
    "quarts",
    "cup",
    "cups",
    /* time */ "s",
    "sec",
    "secs",
    "second",
    "seconds",
    "min",
    "mins",
    "minute",
    "minutes",
    "h",
    "hr",
    "hrs",
    "hour",
    "hours",
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    /* speed */ "mph",
    "kph",
    "km/h",
    "m/s",
    "per",
    /* angle */ "degree",
    "degrees",
    "deg",
    "radian",
    "radians",
    "rad",
    /* money */ "dollar",
    "dollars",
    "cent",
    "cents",
    "euro",
    "euros",
    NULL,
};

static int is_unit(const char *w, size_t n) {
    /* "cm^2", "m^{3}", "units^2", "cm²": the power does not change the unit word. */
    const char *pow = memchr(w, '^', n);
    if (pow) {
        const char *p = pow + 1;
        if (!(strcmp(p, "2") == 0 || strcmp(p, "3") == 0 || strcmp(p, "{2}") == 0 || strcmp(p, "{3}") == 0)) return 0;
        n = (size_t)(pow - w);
    } else if (n > 2 && (strcmp(w + n - 2, "\xc2\xb2") == 0 || strcmp(w + n - 2, "\xc2\xb3") == 0)) {
        n -= 2;
    }
    if (n == 0) return 0;
    for (const char *const *u = reward_unit_words; *u; u++)
        if (strlen(*u) == n && strncasecmp(*u, w, n) == 0) return 1;
    return 0;
}

/* Whether what ends at s[end) can carry a unit: a number or a closed group ("5", "2.5", "\frac{1}{2}", "(3)"). */
static int numeric_end(const char *s, size_t end) {
    if (end == 0) return 0;
    char c = s[end - 1];
    return isdigit((unsigned char)c) || c == '}' || c == ')' || c == '.' || c == '%';
}

char *reward_units_strip(char *s) {
    if (!s) return NULL;
    size_t n = strlen(s);
    if (n > 8 && strcasecmp(s + n - 8, " percent") == 0 && numeric_end(s, n - 8)) {
        strcpy(s + n - 8, "%");
        return s;
    }
    for (;;) {
        n = strlen(s);
        size_t sp = n;
        while (sp > 0 && s[sp - 1] != ' ')
            sp--;
        if (sp > 0) {
            /* "<number> <unit>": drop the unit when what is left still ends in a number or another unit word. */
            if (!is_unit(s + sp, n - sp)) break;
            size_t keep = sp - 1;
            size_t prev = keep;
            while (prev > 0 && s[prev - 1] != ' ')
                prev--;
            if (!(numeric_end(s, keep) || is_unit(s + prev, keep - prev))) break;
            s[keep] = '\0';
            continue;
        }
        /* "5cm", "12km": a unit of two letters or more glued to the number. */
        size_t a = n;
        while (a > 0 && (isalpha((unsigned char)s[a - 1]) || s[a - 1] == '^' || s[a - 1] == '/' ||
                         ((s[a - 1] == '2' || s[a - 1] == '3') && a >= 2 && s[a - 2] == '^')))
            a--;
        if (a > 0 && a < n && n - a >= 2 && isdigit((unsigned char)s[a - 1]) && is_unit(s + a, n - a)) {
            s[a] = '\0';
        }
        break;
    }
    return s;
}
