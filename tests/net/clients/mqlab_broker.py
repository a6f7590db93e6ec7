"""Starts `mqlab broker` on a free loopback port for a client test and stops it by its PID.

Used by the real-client tests (run under /usr/bin/python3, where Debian's pika lives)."""
import os
import signal
import socket
import subprocess
import sys
import time
import unittest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refuses(port):
    """True if nothing accepts connections on the loopback port (e.g. a killed node's)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


def free_ports(n):
    """A first port with n - 1 free ports after it (Kafka brokers listen on consecutive ports)."""
    for _ in range(50):
        first = free_port()
        try:
            held = []
            for p in range(first, first + n):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", p))
            return first
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError(f"no {n} consecutive free loopback ports")


class Broker:
    """A broker process bound to 127.0.0.1 on a port chosen here: AMQP (with amqp_nodes set, a
    cluster of that many nodes), or with kafka_brokers set, a Kafka cluster of that many brokers,
    or with stomp set, STOMP only.
    Cluster members listen on consecutive ports; self.port is the first one's. Everything is kept
    in memory unless `extra` names a --data-dir; `port` restarts a broker where one was."""

    def __init__(self, binary, *extra, kafka_brokers=None, amqp_nodes=None, port=None, stomp=False):
        self.port = port or free_ports(kafka_brokers or amqp_nodes or 1)
        if "--data-dir" not in extra:
            extra = (*extra, "--data-dir", "none")
        if stomp:
            listen = ["--stomp-port", str(self.port)]
        elif kafka_brokers is None:
            listen = ["--amqp-port", str(self.port), "--cluster", str(amqp_nodes or 1)]
        else:
            listen = ["--kafka-port", str(self.port), "--cluster", str(kafka_brokers)]
        # Appending: the broker shares this file's offset, so output()'s seek must not move its writes.
        open(f"/tmp/mqlab-broker-{self.port}.log", "w").close()
        self.log = open(f"/tmp/mqlab-broker-{self.port}.log", "a+")
        self.proc = subprocess.Popen([binary, "broker", *listen, "--bind", "127.0.0.1", *extra],
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.PIPE)
        for _ in range(100):  # at most 10 s
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited with {self.proc.returncode}: {self.output()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("broker did not start listening within 10 s")

    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def url(self, user="guest", password="guest", vhost="%2F", node=0):
        return f"amqp://{user}:{password}@127.0.0.1:{self.port + node}/{vhost}"

    def console(self, line, reply, timeout=10):
        """Sends a --console command and waits for `reply` in the broker's output."""
        self.proc.stdin.write(f"{line}\n".encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if reply in self.output():
                return
            time.sleep(0.05)
        raise AssertionError(f"no '{reply}' after '{line}':\n{self.output()}")

    def kill(self):
        """SIGKILL, as a crash or the OOM killer would: no goodbye, nothing flushed by the broker."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def stop(self):
        """SIGTERM, then SIGKILL after 5 s; returns the exit code."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        return self.proc.returncode

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()


def binary_from_argv():
    """The mqlab binary is the first argument; the rest go to unittest."""
    if len(sys.argv) < 2:
        sys.exit("usage: TEST.py PATH/TO/mqlab [unittest args]")
    return sys.argv.pop(1)


class BrokerTestCase(unittest.TestCase):
    """Tests sharing one broker started for the class; its exit code must be 0 at the end."""
    BINARY = None
    KAFKA_BROKERS = None  # a number: a Kafka cluster instead of an AMQP broker
    AMQP_NODES = None     # a number: an AMQP cluster of that many nodes
    STOMP = False         # True: a STOMP server on the JMS core
    EXTRA = ()

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(cls.BINARY, *cls.EXTRA, kafka_brokers=cls.KAFKA_BROKERS, amqp_nodes=cls.AMQP_NODES,
                            stomp=cls.STOMP)

    @classmethod
    def tearDownClass(cls):
        code = cls.broker.stop()
        assert code == 0, f"broker exited with {code}:\n{cls.broker.output()}"
