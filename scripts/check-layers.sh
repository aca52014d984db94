#!/usr/bin/env bash
# Checks the layering rule of docs/ARCHITECTURE.md: a file in src/LAYER/ includes retool headers only from LAYER and
# the layers below it. Prints each violation as FILE:LINE and exits 1 when there is any.
set -u
layers=(cli pipeline serve train rollout reward sandbox data model tokenizer kernels base) # top to bottom
rank() { for i in "${!layers[@]}"; do [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo -1; }
bad=0
for f in $(find src -name '*.[ch]' | sort); do
    layer=$(echo "$f" | cut -d/ -f2)
    r=$(rank "$layer")
    [ "$r" -ge 0 ] || { echo "$f: unknown layer '$layer'"; bad=1; continue; }
    while IFS=: read -r line inc; do
        dep=$(echo "$inc" | sed -E 's/.*#include "([a-z_]+)\/.*/\1/')
        d=$(rank "$dep")
        if [ "$d" -ge 0 ] && [ "$d" -lt "$r" ]; then
            echo "$f:$line: layer '$layer' includes '$dep', which is above it"
            bad=1
        fi
    done < <(grep -n '#include "[a-z_]*/' "$f")
done
[ "$bad" = 0 ] && echo "layers: every include goes downward"
exit "$bad"
