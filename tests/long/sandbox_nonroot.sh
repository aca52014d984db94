#!/usr/bin/env bash
# The adversarial suite (tests/sandbox/test_adversarial.c) run by an ordinary user: uid 65534, no capabilities, its
# own uid the only one mapped into the sandbox (so the code is uid 0 of its user namespace) and no cgroup it may
# write (the pool starts with --allow-weaker-isolation's three names, as such a user must). Every hostile program must
# still be contained. Needs root (to become uid 65534) and a host that lets an ordinary user create user namespaces;
# says so and passes where it cannot run (docs/SANDBOX.md, "Hosts").
set -eu
make --no-print-directory -j2 build/tests/test_sandbox >/dev/null
if [ "$(id -u)" != 0 ]; then echo "skipped: not root (cannot become uid 65534)"; exit 0; fi
as_nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
if ! $as_nobody unshare -U -r -m -p -f --mount-proc true 2>/dev/null; then
    echo "skipped: this host does not let uid 65534 create user, mount and pid namespaces"
    exit 0
fi
dir=$(mktemp -d /tmp/retool-adv-nobody-XXXXXX)
trap 'rm -rf "$dir"' EXIT
chmod 1777 "$dir"
bin=$(readlink -f build/tests/test_sandbox)
# A writable working and temporary directory of its own; every adversarial test as that user.
(cd "$dir" && TMPDIR="$dir" $as_nobody "$bin" --jobs 1 --filter 'adversarial/*') 2>&1 | grep -v ' WARN ' | tail -20
status=${PIPESTATUS[0]}
exit "$status"
