"""The work of scripts/fidelity.sh: runs mqlab max-rate and mqlab run in both modes, prints the table."""
import glob
import json
import os
import subprocess
import sys

MQLAB = "build/bin/mqlab"
LOADS = [0.3, 0.6, 0.9, 1.0]
TARGET_MAX_RATE, TARGET_P50, TARGET_P99 = 0.15, 0.20, 0.30
TARGET_RABBITMQ = 0.20


def mqlab(*args):
    done = subprocess.run([MQLAB, *args], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        sys.exit(f"fidelity: mqlab {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout)


def sim_profile(path):
    """For mqlab's own scenarios, the profile calibrated just before (fidelity.sh), so that
    prediction and measurement see the same machine; RabbitMQ's keeps its own."""
    profile = os.environ.get("MQLAB_FIDELITY_PROFILE")
    return ["--set", f"profile={profile}"] if profile and "/rabbitmq/" not in path else []


def max_rate(path, mode, quick):
    args = ["max-rate", path, "--mode", mode, "--from", "20000", "--json", "--resolution", "5%" if quick else "2%"]
    if mode == "sim":
        args += ["--replications", "2" if quick else "3", *sim_profile(path)]
    return mqlab(*args)["max_rate"]


def metrics(path, mode, rate, quick):
    args = ["run", path, "--mode", mode, "--out", "-", "--json", "--set", f"arrivals.rate={rate:.0f}/s"]
    if quick:
        args += ["--set", "duration=2s", "--set", "warmup=0.5s"]
    if mode == "sim":
        args += sim_profile(path)
    m = mqlab(*args)["variants"][0]["metrics"]
    out = {k: m[k]["mean"] for k in ("consume_rate", "e2e.p50", "e2e.p99", "response.p50", "response.p99", "servers.cpu",
                                     "host.cpu") if k in m}
    if "kafka.delivered_rate" in m:  # Kafka's consumers are counted apart from AMQP's
        out["consume_rate"] = m["kafka.delivered_rate"]["mean"]
    return out


def error(predicted, measured):
    return predicted / measured - 1 if measured else float("inf")


def cell(predicted, measured, scale, target):
    if predicted is None or measured is None:
        return f"{'-':>28}", True
    e = error(predicted, measured)
    ok = target is None or abs(e) <= target
    return f"{predicted * scale:>9.1f} {measured * scale:>9.1f} {e * 100:>+6.1f}%{'' if ok else '!'}", ok


def scenario(path, quick):
    print(f"== {path}")
    sim_max, net_max = max_rate(path, "sim", quick), max_rate(path, "net", quick)
    e = error(sim_max, net_max)
    ok = abs(e) <= TARGET_MAX_RATE
    print(f"maximum sustainable rate: predicted {sim_max:.0f}/s, measured {net_max:.0f}/s, {e * 100:+.1f}% "
          f"(target {TARGET_MAX_RATE * 100:.0f}%){'' if ok else '  MISSED'}")
    print(f"{'load':>5} {'rate/s':>8} | {'consumed/s sim / net':>28} | {'e2e p50 (us)':>28} | {'e2e p99 (us)':>28} | "
          f"{'response p50 (us)':>28} | {'response p99 (us)':>28} | {'servers, % of a core':>28} | {'host, % busy':>28}")
    for load in LOADS:
        rate = load * sim_max
        sim, net = metrics(path, "sim", rate, quick), metrics(path, "net", rate, quick)
        below_90 = load < 0.9
        row = []
        for key, scale, target in (("consume_rate", 1, None), ("e2e.p50", 1e6, TARGET_P50), ("e2e.p99", 1e6, TARGET_P99),
                                   ("response.p50", 1e6, TARGET_P50), ("response.p99", 1e6, TARGET_P99),
                                   ("servers.cpu", 100, None), ("host.cpu", 100, None)):
            text, fine = cell(sim.get(key), net.get(key), scale, target if below_90 else None)
            row.append(text)
            ok = ok and fine
        print(f"{load * 100:>4.0f}% {rate:>8.0f} | " + " | ".join(row))
    print("(each cell: predicted, measured, error; '!' marks a missed target; the CPU columns say where a miss "
          "comes from and have no target)\n")
    return ok


def rabbitmq(quick):
    """The simulated rabbitmq-3.10 against the bench client's runs on rabbitmq-server (in the environment)."""
    runs = sorted(json.loads(line)["msgs_per_s"] for line in os.environ.get("MQLAB_RABBITMQ_PUBLISH", "").splitlines())
    if not runs:
        print("RabbitMQ: no bench runs given (run through scripts/fidelity.sh)")
        return True
    measured = runs[len(runs) // 2]
    path = "bench/fidelity/rabbitmq/publish.yaml"
    predicted = max_rate(path, "sim", quick)
    e = error(predicted, measured)
    ok = abs(e) <= TARGET_RABBITMQ
    print(f"== RabbitMQ 3.10, scripts/bench-rabbitmq.sh's publish mode ({path})")
    print(f"maximum publish rate: predicted {predicted:.0f}/s (profile rabbitmq-3.10), measured {measured:.0f}/s "
          f"(median of {runs}), {e * 100:+.1f}% (target {TARGET_RABBITMQ * 100:.0f}%){'' if ok else '  MISSED'}\n")
    return ok


def main():
    quick = "--quick" in sys.argv[1:]
    paths = [a for a in sys.argv[1:] if a != "--quick"] or sorted(glob.glob("bench/fidelity/*.yaml"))
    held = all([scenario(p, quick) for p in paths] + [rabbitmq(quick)])
    print("every target holds" if held else "some targets are missed (marked '!')")
    sys.exit(0 if held else 1)


if __name__ == "__main__":
    main()
