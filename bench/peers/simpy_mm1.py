"""M/M/1 in SimPy 2 (Debian's python3-simpy) for scripts/bench-peers.sh.

Usage: /usr/bin/python3 simpy_mm1.py ARRIVAL_RATE SERVICE_RATE CUSTOMERS
Prints "customers_per_second mean_wait" for the simulated customers.
"""
import random
import sys
import time

from SimPy.Simulation import Process, Resource, activate, hold, initialize, now, release, request, simulate


class Customer(Process):
    def run(self, server, service_rate, waits):
        arrived = now()
        yield request, self, server
        waits.append(now() - arrived)
        yield hold, self, random.expovariate(service_rate)
        yield release, self, server


class Source(Process):
    def run(self, count, arrival_rate, service_rate, server, waits):
        for _ in range(count):
            c = Customer()
            activate(c, c.run(server, service_rate, waits))
            yield hold, self, random.expovariate(arrival_rate)


def main():
    arrival_rate, service_rate, count = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    random.seed(1)
    initialize()
    server = Resource(capacity=1)
    waits = []
    source = Source()
    activate(source, source.run(count, arrival_rate, service_rate, server, waits))
    start = time.perf_counter()
    simulate(until=1e12)
    elapsed = time.perf_counter() - start
    print(f"{count / elapsed:.0f} {sum(waits) / len(waits):.6f}")


if __name__ == "__main__":
    main()
