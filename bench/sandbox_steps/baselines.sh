#!/bin/bash
# The per-process baselines of docs/SANDBOX.md ("Where a run's time goes"): mean wall time per run of N runs each.
N=${N:-200}
t() { local s e; s=$(date +%s%N); for ((i=0;i<N;i++)); do "$@" >/dev/null; done; e=$(date +%s%N); echo "$(( (e-s)/N/1000 )) us  $*"; }
t /usr/bin/true
t unshare -m /usr/bin/true
t unshare -m -i /usr/bin/true
t unshare -m -p -f --mount-proc /usr/bin/true
N=50 t /usr/bin/python3 -c 'print(1)'
N=50 t /usr/bin/python3 -S -c 'print(1)'
