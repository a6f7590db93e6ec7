#!/usr/bin/env python3
"""What an idle connection costs `mqlab broker`: starts it on free loopback ports, opens N
connections to the AMQP port and N to the Kafka port that never send a byte, and prints the
growth of the broker's resident memory per connection (from /proc). Usage:
  scripts/bench-idle-connections.py build/bin/mqlab [N]   (N defaults to 5000; needs 2N+ descriptors)
The broker is stopped by its PID at the end; it listens on 127.0.0.1 only."""
import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resident_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    binary, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    amqp, kafka = free_port(), free_port()
    broker = subprocess.Popen([binary, "broker", "--data-dir", "none", "--amqp-port", str(amqp), "--kafka-port", str(kafka), "--log-level", "error"])
    try:
        time.sleep(1.0)
        held = []
        for name, port in (("AMQP", amqp), ("Kafka", kafka)):
            before = resident_kib(broker.pid)
            held += [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]
            time.sleep(1.0)  # well inside AMQP's 10 s handshake timeout
            print(f"{name}: {n} idle connections, {(resident_kib(broker.pid) - before) / n:.1f} KiB each")
        for s in held:
            s.close()
    finally:
        broker.terminate()
        broker.wait(timeout=10)


if __name__ == "__main__":
    main()
