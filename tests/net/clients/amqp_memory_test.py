"""RabbitMQ's memory alarm in `mqlab broker`, seen by an unmodified pika publisher: past the
high watermark the broker sends connection.blocked and stops reading, so the process's memory
stays near the watermark; once consumers drain the queue it sends connection.unblocked."""
import os
import threading
import time
import unittest

import pika

from mqlab_broker import BrokerTestCase, binary_from_argv

BINARY = binary_from_argv()
WATERMARK = 120_000_000
BODY = b"m" * 65_536


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class MemoryAlarm(BrokerTestCase):
    BINARY = BINARY
    EXTRA = ("--memory-high-watermark", str(WATERMARK))

    def test_publishers_are_blocked_near_the_watermark_and_released_when_drained(self):
        time.sleep(0.3)
        base = rss_bytes(self.broker.proc.pid)
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.broker.port))
        self.addCleanup(lambda: conn.is_open and conn.close())
        events = []
        conn.add_on_connection_blocked_callback(lambda _conn, _frame: events.append("blocked"))
        conn.add_on_connection_unblocked_callback(lambda _conn, _frame: events.append("unblocked"))
        ch = conn.channel()
        ch.queue_declare("hoard")

        def publish():
            # Three times the watermark offered: without the alarm the broker would hold it all.
            # A blocked broker stops reading, so this thread stalls in a write, as a RabbitMQ
            # publisher does, until the queue is drained.
            published, deadline = 0, time.monotonic() + 60
            while "unblocked" not in events and published * len(BODY) < 3 * WATERMARK and time.monotonic() < deadline:
                ch.basic_publish("", "hoard", BODY)
                published += 1
                if published % 20 == 0:
                    conn.process_data_events(0)

        publisher = threading.Thread(target=publish)
        publisher.start()
        self.wait_for_log("memory alarm set")
        time.sleep(0.5)  # what was already in the socket lands
        held = rss_bytes(self.broker.proc.pid)
        self.assertLessEqual(held, base + 1.1 * WATERMARK, f"RSS {held} with base {base}")
        self.assertIn(f"memory high watermark: {WATERMARK} bytes", self.broker.output())

        # A consumer on another connection drains the queue; the alarm clears, the publisher
        # hears connection.unblocked and stops.
        drain = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.broker.port))
        self.addCleanup(lambda: drain.is_open and drain.close())
        dch = drain.channel()
        deadline = time.monotonic() + 30
        while publisher.is_alive() and time.monotonic() < deadline:
            dch.queue_purge("hoard")
            publisher.join(0.2)
        self.assertFalse(publisher.is_alive(), "the publisher never got going again")
        self.assertEqual(events[:1], ["blocked"])
        self.assertEqual(events[-1], "unblocked")
        self.assertIn("memory alarm cleared", self.broker.output())
        # Publishing works again: what the publisher still had on its way, then a new message.
        ch.basic_publish("", "hoard", b"after the alarm")
        conn.process_data_events(0.2)
        bodies = []
        while (got := dch.basic_get("hoard", auto_ack=True))[0] is not None:
            bodies.append(got[2])
        self.assertEqual(bodies[-1:], [b"after the alarm"])
        self.assertTrue(all(b == BODY for b in bodies[:-1]))

    def wait_for_log(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        while text not in self.broker.output():
            self.assertLess(time.monotonic(), deadline, f"no '{text}' in the broker's log")
            time.sleep(0.05)


class DefaultWatermark(BrokerTestCase):
    BINARY = BINARY

    def test_the_default_is_four_tenths_of_physical_memory(self):
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        expected = int(0.4 * physical)
        deadline = time.monotonic() + 10
        while "memory high watermark: " not in (out := self.broker.output()) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("memory high watermark: ", out)
        said = int(out.split("memory high watermark: ")[1].split(" bytes")[0])
        self.assertAlmostEqual(said, expected, delta=physical // 1000)


if __name__ == "__main__":
    unittest.main()
