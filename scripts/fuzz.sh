#!/usr/bin/env bash
# Runs each libFuzzer target of fuzz/ for SECONDS, from its seed corpus (fuzz/corpus/TARGET,
# real client sessions written by scripts/fuzz-corpus.py; the scenario target starts from
# scenarios/). New inputs go to a scratch folder; a crash, leak, hang (10 s) or sanitizer report
# leaves its input in results/fuzz/ and fails the run. Usage: scripts/fuzz.sh BUILD SECONDS
set -euo pipefail
cd "$(dirname "$0")/.."
build=$1
seconds=$2
out=results/fuzz
mkdir -p "$out"
status=0
for target in amqp_connection kafka_connection stomp_connection record_batch peer_protocol scenario; do
  work=$(mktemp -d)
  seeds=()
  [[ -d fuzz/corpus/$target ]] && seeds+=("fuzz/corpus/$target")
  [[ $target == scenario ]] && seeds+=(scenarios)
  echo "fuzz-$target: $seconds s from ${seeds[*]:-nothing}"
  if "$build/bin/fuzz-$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$out/$target-" "$work" "${seeds[@]}" > "$out/$target.log" 2>&1; then
    grep -E 'DONE' "$out/$target.log" | tail -1 || true
  else
    status=1
    echo "fuzz-$target FAILED (input and log in $out/):"
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$out/$target.log" | head -20
  fi
  rm -rf "$work"
done
exit $status
