#!/usr/bin/env bash
# Runs mqlab's DES kernel side by side with its peers in one invocation and prints ratios:
#   - the hold model (population 1000 / 10000 / 100000) against ns-3's Map, Heap and Calendar
#     schedulers (Debian libns3-dev), same event count and the same generator and exponential
#     sampler (mqlab's sim/random.cc, compiled into the ns-3 program) on both sides;
#   - an M/M/1 station at rho = 0.9 against SimPy 2 (Debian python3-simpy), customers per wall second.
# Usage: scripts/bench-peers.sh [EVENTS] [CUSTOMERS]     (defaults 5000000 and 300000)
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-5000000}
customers=${2:-300000}
bash scripts/install-deps.sh --bench
[[ -x build/bin/mqlab-bench ]] || make build >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

g++ -O3 -std=c++17 -I. -I/usr/include -o "$work/ns3_hold" bench/peers/ns3_hold.cc sim/random.cc -lns3-core

echo "== Hold model: events per second (each fired event schedules one at now + Exp(1 ms)) =="
build/bin/mqlab-bench --benchmark_filter='BM_HoldModel' --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true --benchmark_format=json > "$work/mqlab.json" 2>/dev/null
printf "%-12s %14s %14s %14s %14s %10s\n" population mqlab ns3-Map ns3-Heap ns3-Calendar ratio
for pop in 1000 10000 100000; do
  ours=$(/usr/bin/python3 - "$work/mqlab.json" "$pop" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
for b in data["benchmarks"]:
    if b["name"] == f"BM_HoldModel/{sys.argv[2]}_median":
        print(int(b["items_per_second"]))
PY
)
  best=0
  row=()
  for sched in ns3::MapScheduler ns3::HeapScheduler ns3::CalendarScheduler; do
    rate=$("$work/ns3_hold" "$sched" "$pop" "$events")
    row+=("$rate")
    (( rate > best )) && best=$rate
  done
  printf "%-12s %14s %14s %14s %14s %9.1fx\n" "$pop" "$ours" "${row[@]}" "$(echo "$ours / $best" | bc -l)"
done

echo
echo "== M/M/1 at rho = 0.9 ($customers customers): customers simulated per wall second =="
simpy=$(/usr/bin/python3 bench/peers/simpy_mm1.py 90 100 "$customers")
simpy_rate=${simpy%% *}
mq_customers=$((customers * 20))
start=$(date +%s.%N)
build/bin/mqlab station --arrival-rate 90 --service-rate 100 --customers "$mq_customers" --warmup 0 \
  --replications 1 --quiet --json > "$work/station.json"
end=$(date +%s.%N)
mq_rate=$(echo "$mq_customers / ($end - $start)" | bc -l)
printf "%-12s %14s %14s %10s\n" "" mqlab SimPy ratio
printf "%-12s %14.0f %14s %9.1fx\n" "M/M/1" "$mq_rate" "$simpy_rate" "$(echo "$mq_rate / $simpy_rate" | bc -l)"
echo "(mqlab: whole 'mqlab station' process wall time for $mq_customers customers; SimPy: simulate() only)"
