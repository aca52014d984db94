#!/usr/bin/env bash
# Installs what retool needs, only what is missing. Idempotent.
#   scripts/install-deps.sh           packages to build and run (scripts/deps-build.txt)
#   scripts/install-deps.sh --test    also the packages the tests need (scripts/deps-test.txt) and the npm packages
#                                     in tests/node/package.json
#   scripts/install-deps.sh --long    also what the slow checks need (scripts/deps-long.txt); implies --test
# Works as root, or through sudo; says what it installs; fails with a clear message otherwise.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
want_test=0
want_long=0
for arg in "$@"; do
    case "$arg" in
    --test) want_test=1 ;;
    --long)
        want_test=1
        want_long=1
        ;;
    -h | --help)
        sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "install-deps: unknown option '$arg' (try --test, --long or --help)" >&2
        exit 2
        ;;
    esac
done

read_list() { grep -v '^[[:space:]]*#' "$1" | sed 's/[[:space:]]//g' | grep -v '^$'; }

lists=("$here/deps-build.txt")
[ "$want_test" = 1 ] && lists+=("$here/deps-test.txt")
[ "$want_long" = 1 ] && lists+=("$here/deps-long.txt")

missing=()
for list in "${lists[@]}"; do
    while read -r pkg; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done < <(read_list "$list")
done

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        sudo_cmd=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo_cmd=(sudo)
    else
        echo "install-deps: these Debian packages are missing: ${missing[*]}" >&2
        echo "install-deps: run this script as root or with sudo rights (passwordless), or install them yourself" >&2
        exit 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-deps: apt-get not found; retool's install script supports Debian and Ubuntu." >&2
        echo "install-deps: install these packages by hand: ${missing[*]}" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -q
    "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "install-deps: all Debian packages present"
fi

if [ "$want_test" = 1 ] && [ -f "$root/tests/node/package.json" ]; then
    if [ ! -f "$root/tests/node/node_modules/.retool-installed" ] ||
        [ "$root/tests/node/package.json" -nt "$root/tests/node/node_modules/.retool-installed" ]; then
        echo "install-deps: installing npm packages for the tests into tests/node/node_modules"
        (cd "$root/tests/node" && npm install --no-audit --no-fund --loglevel=error)
        touch "$root/tests/node/node_modules/.retool-installed"
    else
        echo "install-deps: npm packages for the tests present"
    fi
fi
