"""Debian's amqp-tools (built on librabbitmq) and the librabbitmq load client against
`mqlab broker`: what a shell user of RabbitMQ does, with RabbitMQ's documented results."""
import json
import os
import signal
import subprocess
import time
import unittest

from mqlab_broker import BrokerTestCase, binary_from_argv

BINARY = binary_from_argv()
LOAD_CLIENT = BINARY.replace("/mqlab", "/mqlab-amqp-load")


class AmqpToolsAgainstMqlab(BrokerTestCase):
    BINARY = BINARY

    def tool(self, *args, stdin=None):
        r = subprocess.run([args[0], "-u", self.broker.url(), *args[1:]], input=stdin, capture_output=True,
                           text=True, timeout=20)
        return r

    def test_declare_publish_get_and_consume(self):
        r = self.tool("amqp-declare-queue", "-q", "tools.q", "-d")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "tools.q"))
        for i in range(3):
            r = self.tool("amqp-publish", "-r", "tools.q", "-p", "-C", "text/plain", "-b", f"message {i}")
            self.assertEqual(r.returncode, 0, r.stderr)
        r = self.tool("amqp-get", "-q", "tools.q")
        self.assertEqual((r.returncode, r.stdout), (0, "message 0"))
        # amqp-consume runs the command once per message, feeding it the body.
        r = self.tool("amqp-consume", "-q", "tools.q", "-c", "2", "cat")
        self.assertEqual((r.returncode, r.stdout), (0, "message 1message 2"))
        r = self.tool("amqp-get", "-q", "tools.q")
        self.assertNotEqual(r.returncode, 0, "the queue is empty: amqp-get reports it with a failing status")

    def test_publish_through_an_exchange_to_a_bound_queue(self):
        # amqp-consume can declare and bind a queue itself; here it binds to amq.topic.
        consumer = subprocess.Popen(["amqp-consume", "-u", self.broker.url(), "-q", "tools.bound", "-e", "amq.topic",
                                     "-r", "stock.#", "-c", "1", "cat"], stdout=subprocess.PIPE, text=True)
        for _ in range(50):
            r = self.tool("amqp-publish", "-e", "amq.topic", "-r", "stock.nyse.ibm", "-b", "IBM 141.2")
            out = None
            try:
                out, _ = consumer.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                continue
        consumer.kill()
        self.assertEqual(out, "IBM 141.2")

    def test_missing_queue_is_an_error_naming_it(self):
        r = self.tool("amqp-get", "-q", "tools.missing")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("NOT_FOUND", r.stderr)

    def test_librabbitmq_client_in_every_load_mode(self):
        for mode in ("publish", "confirm", "consume"):
            r = subprocess.run([LOAD_CLIENT, "127.0.0.1", str(self.broker.port), mode, "20000"], capture_output=True,
                               text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            result = json.loads(r.stdout)
            self.assertEqual(result["received"], 20000, mode)
            self.assertGreater(result["msgs_per_s"], 0)

    def test_a_paced_publisher_keeps_to_its_rate(self):
        # 3 000 messages at 2 000/s: the last is due at 1.5 s, so the run cannot end sooner
        # however fast the broker, and a broker that keeps up delivers each soon after its due time.
        r = subprocess.run([LOAD_CLIENT, "127.0.0.1", str(self.broker.port), "publish", "3000", "100", "2000"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        result = json.loads(r.stdout)
        self.assertEqual((result["rate"], result["received"]), (2000, 3000))
        self.assertGreaterEqual(result["seconds"], 1.5)
        self.assertLess(result["msgs_per_s"], 2000)
        self.assertLess(result["p50_us"], 100_000)
        self.assertLess(result["end_us"], 100_000)

    def test_a_backlog_that_drained_raises_the_p99_not_the_end(self):
        # The broker stopped (SIGSTOP) for 0.5 s early in a 2 s paced run: the thousand messages
        # due meanwhile wait up to 0.5 s, a third of the run, so the p99 shows the pause; by the
        # end the broker has caught up, and the last messages' latency (end_us, the backlog left
        # when publishing ended) is back to a keeping-up value.
        load = subprocess.Popen([LOAD_CLIENT, "127.0.0.1", str(self.broker.port), "publish", "4000", "100", "2000"],
                                stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)
        os.kill(self.broker.proc.pid, signal.SIGSTOP)
        time.sleep(0.5)
        os.kill(self.broker.proc.pid, signal.SIGCONT)
        out, _ = load.communicate(timeout=60)
        self.assertEqual(load.returncode, 0)
        result = json.loads(out)
        self.assertGreater(result["p99_us"], 300_000)
        self.assertLess(result["end_us"], 100_000)

    def test_the_highest_of_two_searches_is_the_maximum_sustained_rate(self):
        # scripts/bench-max-rate.py, as scripts/fidelity.sh runs it against RabbitMQ: each
        # search doubles the paced client's rate until the broker falls behind, then bisects.
        script = os.path.join(os.path.dirname(__file__), "../../../scripts/bench-max-rate.py")
        r = subprocess.run(["/usr/bin/python3", script, f"127.0.0.1:{self.broker.port}", "--client", LOAD_CLIENT,
                            "--from", "2000", "--seconds", "0.3", "--resolution", "0.5", "--searches", "2"],
                           capture_output=True, text=True, timeout=240)
        self.assertEqual(r.returncode, 0, r.stderr)
        result = json.loads(r.stdout)
        self.assertEqual(len(result["searches"]), 2)
        self.assertEqual(result["max_rate"], max(result["searches"]))
        sustained = {p["rate"] for p in result["probes"] if p["sustained"]}
        beaten = [p["rate"] for p in result["probes"] if not p["sustained"]]
        self.assertTrue(set(result["searches"]) <= sustained, r.stderr)
        self.assertGreaterEqual(len(beaten), 2, r.stderr)  # each search ended on a rate it could not keep up with
        self.assertGreater(result["max_rate"], 2000)

    def test_a_rate_is_refused_outside_publish_mode(self):
        r = subprocess.run([LOAD_CLIENT, "127.0.0.1", str(self.broker.port), "confirm", "10", "100", "2000"],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
