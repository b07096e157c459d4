#!/usr/bin/env bash
# make fuzz: every libFuzzer harness in tests/fuzz for FUZZ_SECONDS (default 60) each,
# built with clang (ASan+UBSan). Starts from the seed corpus in the tree and keeps what it
# learns in build/fuzz/corpus/<harness>; a crash or failed property leaves its input in
# build/fuzz/crashes/<harness>/ (copy it into tests/fuzz/corpus/<harness>/ and it becomes a
# regression test that `make check` replays). FUZZ_ONLY="amount csv" runs a subset.
# The HTTP bodies of every endpoint family are fuzzed against a live raild by
# scripts/fuzz-http.py, run last for the same time.
set -uo pipefail
cd "$(dirname "$0")/.."
SECS=${FUZZ_SECONDS:-60}
CC=${FUZZ_CLANG:-clang}
command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (apt-get install clang libclang-rt-14-dev)"; exit 1; }
SAN="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
echo "== build (clang, libFuzzer, ASan+UBSan)"
make -s -j2 CC="$CC" BUILD=build/fuzz/obj CFLAGS="$SAN -fsanitize=fuzzer-no-link" \
  XFLAGS_EXTRA="-Wno-unknown-warning-option" fuzz-bins >/dev/null || { echo "fuzz: build failed"; exit 1; }
names=${FUZZ_ONLY:-$(ls tests/fuzz/fuzz_*.c | sed 's|tests/fuzz/fuzz_||; s|\.c$||')}
fail=0
summary=()
for n in $names; do
  [ "$n" = http ] && continue          # not a libFuzzer harness: run below
  work=build/fuzz/corpus/$n crashes=build/fuzz/crashes/$n
  mkdir -p "$work" "$crashes"
  before=$(ls "$crashes" | wc -l)      # what earlier runs left there is not this run's finding
  echo "== $n (${SECS}s)"
  log=build/fuzz/$n.log
  # -close_fd_mask=2: the parsers explain rejected input on stderr, millions of times
  build/fuzz/bin/fuzz_$n "$work" "tests/fuzz/corpus/$n" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$crashes/" -close_fd_mask=2 -print_final_stats=1 >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
  found=$(( $(ls "$crashes" | wc -l) - before ))
  line=$(printf '%-12s %12s execs  %-10s %s' "$n" "${execs:-?}" "${cov:-}" "$([ $rc = 0 ] && [ "$found" = 0 ] && echo "no findings" || echo "FINDING: $crashes (rc $rc)")")
  echo "   $line"
  summary+=("$line")
  [ $rc = 0 ] && [ "$found" = 0 ] || { fail=1; tail -30 "$log"; }
done
if [ -z "${FUZZ_ONLY:-}" ] || [[ " $FUZZ_ONLY " == *" http "* ]]; then
  echo "== http (${SECS}s): request bodies of every endpoint family against a live raild"
  make -s -j2 san >/dev/null || { echo "fuzz: sanitizer build failed"; exit 1; }
  line=$(FUZZ_SECONDS=$SECS python3 scripts/fuzz-http.py) && http_ok=1 || http_ok=0
  echo "   $line"
  summary+=("$line")
  [ $http_ok = 1 ] || fail=1
fi
echo "== fuzz summary (${SECS}s each)"
printf '   %s\n' "${summary[@]}"
exit $fail
