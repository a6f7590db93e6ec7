"""The work of scripts/fidelity.sh: runs mqlab max-rate and mqlab run in both modes, prints the table.
With --check, the shortened version ctest runs (scripts/fidelity-check.sh): scenario (a) only, at
30% and 45% of the lower of the two maxima, shorter runs, a coarser search and wider targets."""
import glob
import json
import os
import subprocess
import sys

MQLAB = os.environ.get("MQLAB", "build/bin/mqlab")
LOADS = [0.3, 0.6, 0.9, 1.0]
NET_SEARCHES = 2  # net mode's maximum is the highest of this many searches (see max_rate)
FULL_TARGETS = {"max_rate": 0.15, "consumed": None, "p50": 0.20, "p99": 0.30, "cpu": None}
TARGET_RABBITMQ = 0.20
# The check guards against a model or a server gone wrong, not for the targets: its runs are
# 2 s, its search coarse, and both the calibration and net mode swing from run to run (at 30%
# load the client thread is already saturated in both modes, so the latencies follow every
# microsecond of its costs: predicted e2e p50 220-312 us from three calibrations of one hour,
# measured 156-207 us), and net mode's maximum on this VM with them (560 000/s found by one
# search, an hour after 1 200 000/s kept up for 2 s). Each load is measured three times, the
# medians compared: consumed rate within 10%; the node's CPU (which decides the maximum) within
# 25% (the simulated thread is near 100% from 20% load on, net mode's 90-99%; before reads were
# priced it was 53% against 93%); maximum within a factor of 2; p50 within a factor of 3; p99
# not checked (net mode's is the machine's stalls: 118 ms once). The second load is 45% of the
# predicted maximum, not 60%: with the prediction above net mode's own maximum, 60% is near
# that, and there one stall leaves a backlog net mode does not work off in 2 s (two runs of
# three at 576 000/s, in one check). And the loads are shares of the lower of the two maxima,
# whose miss has its own target: predicted 960 000/s against 600 000/s measured (inside the
# factor of 2), 45% of the prediction was 72% of net mode's maximum, where the median of three
# 2-second runs fell behind (e2e p50 9.3 ms), while the next check predicted 640 000/s.
CHECK_LOADS = [0.3, 0.45]
CHECK_TARGETS = {"max_rate": ("factor", 2), "consumed": 0.10, "p50": ("factor", 3), "p99": None, "cpu": 0.25}


def mqlab(*args):
    done = subprocess.run([MQLAB, *args], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        sys.exit(f"fidelity: mqlab {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout)


def sim_profile(path):
    """The profile calibrated in the same run (fidelity.sh), so that prediction and measurement
    see the same machine: mqlab broker's for its own scenarios, RabbitMQ's for RabbitMQ's (without
    one, a scenario keeps the profile it names)."""
    profile = os.environ.get("MQLAB_RABBITMQ_PROFILE" if "/rabbitmq/" in path else "MQLAB_FIDELITY_PROFILE")
    return ["--set", f"profile={profile}"] if profile else []


def plan(quick, check):
    """How thorough a comparison is: --quick shortens the runs, --check (ctest's) also the search."""
    short = ["--set", "duration=2s", "--set", "warmup=0.5s"]
    return {
        "resolution": "10%" if check else "5%" if quick else "2%",
        "replications": "2" if quick or check else "3",
        "run": short if quick or check else [],
        "search": short if check else [],
        "loads": CHECK_LOADS if check else LOADS,
        "net_runs": 3 if check else 1,
        "lower_base": check,
        "targets": CHECK_TARGETS if check else FULL_TARGETS,
    }


def max_rate(path, mode, how):
    """The simulation's maximum over replications; net mode's the highest of NET_SEARCHES searches:
    a stall of the machine only ever makes a rate look unsustained, so the highest is the least
    disturbed (one check found 300 000/s where the searches before and after found 520 000-880 000/s)."""
    args = ["max-rate", path, "--mode", mode, "--from", "20000", "--json", "--resolution", how["resolution"], *how["search"]]
    if mode == "sim":
        return mqlab(*args, "--replications", how["replications"], *sim_profile(path))["max_rate"]
    return max(mqlab(*args)["max_rate"] for _ in range(NET_SEARCHES))


def metrics(path, mode, rate, how):
    args = ["run", path, "--mode", mode, "--out", "-", "--json", "--set", f"arrivals.rate={rate:.0f}/s", *how["run"]]
    if mode == "sim":
        args += sim_profile(path)
    m = mqlab(*args)["variants"][0]["metrics"]
    out = {k: m[k]["mean"] for k in ("consume_rate", "e2e.p50", "e2e.p99", "response.p50", "response.p99", "servers.cpu",
                                     "host.cpu") if k in m}
    if "kafka.delivered_rate" in m:  # Kafka's consumers are counted apart from AMQP's
        out["consume_rate"] = m["kafka.delivered_rate"]["mean"]
    return out


def median_metrics(path, rate, how):
    """Net mode's metrics at `rate`, each the median of how["net_runs"] runs."""
    runs = [metrics(path, "net", rate, how) for _ in range(how["net_runs"])]
    return {k: sorted(r[k] for r in runs)[len(runs) // 2] for k in runs[0]}


def error(predicted, measured):
    return predicted / measured - 1 if measured else float("inf")


def holds(predicted, measured, target):
    """A relative target bounds the error; ("factor", f) the ratio either way."""
    if target is None:
        return True
    if isinstance(target, tuple):
        return measured > 0 and 1 / target[1] <= predicted / measured <= target[1]
    return abs(error(predicted, measured)) <= target


def describe(target):
    return f"a factor of {target[1]}" if isinstance(target, tuple) else f"{target * 100:.0f}%"


def cell(predicted, measured, scale, target):
    if predicted is None or measured is None:
        return f"{'-':>28}", True
    e = error(predicted, measured)
    ok = holds(predicted, measured, target)
    return f"{predicted * scale:>9.1f} {measured * scale:>9.1f} {e * 100:>+6.1f}%{'' if ok else '!'}", ok


def scenario(path, how):
    print(f"== {path}")
    targets = how["targets"]
    sim_max, net_max = max_rate(path, "sim", how), max_rate(path, "net", how)
    e = error(sim_max, net_max)
    ok = holds(sim_max, net_max, targets["max_rate"])
    print(f"maximum sustainable rate: predicted {sim_max:.0f}/s, measured {net_max:.0f}/s, {e * 100:+.1f}% "
          f"(target {describe(targets['max_rate'])}){'' if ok else '  MISSED'}")
    print(f"{'load':>5} {'rate/s':>8} | {'consumed/s sim / net':>28} | {'e2e p50 (us)':>28} | {'e2e p99 (us)':>28} | "
          f"{'response p50 (us)':>28} | {'response p99 (us)':>28} | {'servers, % of a core':>28} | {'host, % busy':>28}")
    base = min(sim_max, net_max) if how["lower_base"] else sim_max
    for load in how["loads"]:
        rate = load * base
        sim, net = metrics(path, "sim", rate, how), median_metrics(path, rate, how)
        below_90 = load < 0.9
        row = []
        for key, scale, target in (("consume_rate", 1, "consumed"), ("e2e.p50", 1e6, "p50"), ("e2e.p99", 1e6, "p99"),
                                   ("response.p50", 1e6, "p50"), ("response.p99", 1e6, "p99"),
                                   ("servers.cpu", 100, "cpu"), ("host.cpu", 100, None)):
            text, fine = cell(sim.get(key), net.get(key), scale, targets[target] if target and below_90 else None)
            row.append(text)
            ok = ok and fine
        print(f"{load * 100:>4.0f}% {rate:>8.0f} | " + " | ".join(row))
    print("(each cell: predicted, measured, error; '!' marks a missed target; the CPU columns say where a miss "
          "comes from" + (": the servers' has a target in the check)\n" if targets["cpu"] else " and have no target)\n"))
    return ok


def rabbitmq(how):
    """The simulated rabbitmq-3.10 against rabbitmq-server's maximum sustained rate, found with
    the paced bench client (scripts/bench-max-rate.py's answer, in the environment)."""
    found = os.environ.get("MQLAB_RABBITMQ_MAX_RATE", "").strip()
    if not found:
        print("RabbitMQ: no measurement given (run through scripts/fidelity.sh)")
        return True
    search = json.loads(found)
    measured = search["max_rate"]
    searches = search["searches"]
    path = "bench/fidelity/rabbitmq/publish.yaml"
    predicted = max_rate(path, "sim", how)
    e = error(predicted, measured)
    ok = holds(predicted, measured, TARGET_RABBITMQ)
    print(f"== RabbitMQ 3.10, the bench client paced at rates (scripts/bench-max-rate.py; {path})")
    profile = "calibrated in this run" if os.environ.get("MQLAB_RABBITMQ_PROFILE") else "profile rabbitmq-3.10"
    each = f" (the highest of {len(searches)} searches: {', '.join(f'{r:.0f}' for r in searches)})" if len(searches) > 1 else ""
    print(f"maximum sustained rate: predicted {predicted:.0f}/s ({profile}), measured {measured:.0f}/s{each}, "
          f"{e * 100:+.1f}% (target {describe(TARGET_RABBITMQ)}){'' if ok else '  MISSED'}\n")
    return ok


def main():
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    check = "--check" in flags
    how = plan("--quick" in flags, check)
    paths = [a for a in sys.argv[1:] if not a.startswith("--")]
    paths = paths or (["bench/fidelity/a-one-node.yaml"] if check else sorted(glob.glob("bench/fidelity/*.yaml")))
    held = all([scenario(p, how) for p in paths] + ([] if check else [rabbitmq(how)]))
    print("every target holds" if held else "some targets are missed (marked '!')")
    sys.exit(0 if held else 1)


if __name__ == "__main__":
    main()
