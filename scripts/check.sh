#!/usr/bin/env bash
# make check: build (plain and ASan+UBSan), start a throwaway PostgreSQL, run every
# test against the sanitized binaries, stop the cluster. prove prints the summary.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
echo "== build"
make -s -j2 all >/dev/null || { echo "build failed"; exit 1; }
echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
make -s -j2 san >/dev/null || { echo "sanitizer build failed"; exit 1; }

PGDIR=${CHECK_PGDIR:-$ROOT/build/pg-check}
bash scripts/pgtmp.sh stop "$PGDIR" >/dev/null 2>&1
rm -rf "$PGDIR"
echo "== start PostgreSQL under $PGDIR"
env_lines=$(bash scripts/pgtmp.sh start "$PGDIR") || { echo "cannot start PostgreSQL"; exit 1; }
eval "$env_lines"
trap 'bash scripts/pgtmp.sh stop "$PGDIR"' EXIT

export RAILD=$ROOT/build/san-bin/raild
export RAILSIM=$ROOT/build/san-bin/railsim
export RAILTOP=$ROOT/build/san-bin/railtop
export RT_LOGDIR=${RT_LOGDIR:-$ROOT/build/test-logs}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp:print_suppressions=0
export TZ=UTC LANG=C.UTF-8 LC_ALL=C.UTF-8
# secrets are sealed at rest, as production requires (a raild without a key refuses to start
# once the database holds production secrets); one key for every process of the run
RAILD_SECRETS_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
export RAILD_SECRETS_KEY
rm -rf "$RT_LOGDIR"; mkdir -p "$RT_LOGDIR"

echo "== migrate"
"$RAILD" migrate >/dev/null || { echo "migrate failed"; exit 1; }
# Sepolia and Amoy have no well-known USDT: the tests name a token, as a deployment must
# (the same addresses as tests/lib/rt.py's RAILS)
"$RAILD" admin set-rail --env sandbox --rail ethereum:usdt --network sepolia \
  --contract 0xaa8e23fb1079ea71e0a56f48a2aa51851d8433d0 >/dev/null || { echo "set-rail failed"; exit 1; }
"$RAILD" admin set-rail --env sandbox --rail polygon:usdt --network polygon-amoy \
  --contract 0x1616d425cd540b256475cbfb604586c8598ec0fb >/dev/null || { echo "set-rail failed"; exit 1; }

# TESTS="tests/api/10_payments.py ..." runs a subset
if [ -n "${TESTS:-}" ]; then
  read -r -a tests <<<"$TESTS"
else
  tests=(build/san-tests/*)
  for t in tests/*/*.py tests/*/*.sh; do
    [ -x "$t" ] && tests+=("$t")
  done
fi
# Tests that bring their own database (a cluster or a database of their own: the chain
# tests, the storm, the demo, the restart and unsealed-secrets tests) run in a second prove
# beside the rest: the suite mostly waits (about a third of a core on average), and this
# way the two longest waiting parts overlap. They share no rows with the others.
own_db=" tests/chain/10_watch.py tests/chain/20_restart.py tests/chain/30_faults.py tests/chain/40_tron.py
  tests/chain/50_console.py tests/chain/60_payouts.py tests/storm/10_storm.py tests/sim/30_demo.py
  tests/webhooks/85_db_restart.py tests/webhooks/55_unsealed_production.py "
own_db=" $(echo $own_db) "          # one space between names, and around them
shared=(); apart=()
for t in "${tests[@]}"; do
  if [ -z "${CHECK_SERIAL:-}" ] && [[ $own_db == *" $t "* ]]; then apart+=("$t"); else shared+=("$t"); fi
done
echo "== run ${#tests[@]} test files (${#apart[@]} with their own database alongside)"
rc_apart=0
if [ ${#apart[@]} -gt 0 ]; then
  prove -f ${PROVE_FLAGS:-} "${apart[@]}" >"$RT_LOGDIR/prove-own-db.out" 2>&1 &
  apart_pid=$!
fi
rc=0
: >"$RT_LOGDIR/prove-shared.out"
if [ ${#shared[@]} -gt 0 ]; then
  prove -f ${PROVE_FLAGS:-} "${shared[@]}" 2>&1 | tee "$RT_LOGDIR/prove-shared.out"
  rc=${PIPESTATUS[0]}
fi
if [ ${#apart[@]} -gt 0 ]; then
  wait "$apart_pid" || rc_apart=$?
  echo "== the tests with their own database"
  cat "$RT_LOGDIR/prove-own-db.out"
fi
# one summary line for the whole run
python3 - "$RT_LOGDIR/prove-shared.out" "$RT_LOGDIR/prove-own-db.out" <<'PY'
import os, re, sys
files = tests = 0
failed = []
for path in sys.argv[1:]:
    text = open(path, errors="replace").read() if os.path.exists(path) else ""
    m = re.search(r"Files=(\d+), Tests=(\d+)", text)
    if m:
        files += int(m.group(1)); tests += int(m.group(2))
    failed += re.findall(r"^(\S+)\s+\(Wstat:", text, re.M)
print("== check: %d test files, %d tests; %d passed, %d failed%s" % (
    files, tests, files - len(failed), len(failed), (": " + " ".join(failed)) if failed else ""))
PY
exit $(( rc || rc_apart ))
