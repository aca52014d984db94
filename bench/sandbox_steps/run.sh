#!/bin/bash
# Per-step times of one sandboxed run (docs/SANDBOX.md, "Where a run's time goes"). As root (perf tracepoints), from
# the repository root after `make build/retool`: starts `retool sandbox serve` with one light worker, sends print(1)
# back to back under a system-wide syscall trace, prints the per-step medians and p90s, stops the server.
# Usage: bench/sandbox_steps/run.sh [N_REQUESTS] [--faults]   (--faults also counts user page faults: slower)
set -e
N=${1:-300}
D=$(mktemp -d /tmp/sandbox-steps-XXXXXX)
EV="-e raw_syscalls:sys_enter -e raw_syscalls:sys_exit -e sched:sched_process_fork -e sched:sched_process_exit"
[ "$2" = --faults ] && EV="$EV -e exceptions:page_fault_user"
build/retool sandbox serve --host 127.0.0.1 --port 0 --workers 1 --light-workers 1 >"$D/serve.out" 2>&1 &
SRV=$!
trap 'kill -TERM $SRV; wait $SRV; rm -rf "$D"' EXIT
for _ in $(seq 50); do grep -q listening "$D/serve.out" && break; sleep 0.1; done
PORT=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$D/serve.out")
D0=$(dirname "$0")
/usr/bin/python3 "$D0/client.py" "$PORT" 50 2>/dev/null >/dev/null # warm-up
# The light worker: the server's python3 child with the smaller resident set.
W=$(ps --ppid $SRV -o rss=,pid= | sort -n | head -1 | awk '{print $2}')
perf record -a -q -o "$D/perf.data" $EV -- /usr/bin/python3 "$D0/client.py" "$PORT" "$N" 2>/dev/null
perf script -i "$D/perf.data" --ns -F comm,pid,tid,time,event,trace 2>/dev/null >"$D/perf.txt"
/usr/bin/python3 "$D0/parse.py" "$D/perf.txt" "$W"
