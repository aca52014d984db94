/* Internal to reward/: the documented list of units dropped after a number ("5 cm" -> "5"). */
#ifndef RETOOL_REWARD_UNITS_H
#define RETOOL_REWARD_UNITS_H

/* The unit words (lower case, NULL-terminated); docs/REWARD.md prints the same list. */
extern const char *const reward_unit_words[];

/* Drops trailing unit words that follow a number ("18 dollars", "12 cm^2", "3 square feet", "60 miles per hour",
 * "5cm"), and turns a trailing " percent" into "%". s has single spaces (collapsed); frees s, NULL on failure. */
char *reward_units_strip(char *s);

#endif
