"""Unmodified stomp.py (Debian's python3-stomp) against `mqlab broker --stomp-port`: what ActiveMQ's
STOMP documentation and its JMS mapping promise, over a real loopback socket, in STOMP 1.0, 1.1
and 1.2."""
import threading
import time
import unittest

import stomp
import stomp.exception

from mqlab_broker import BrokerTestCase, binary_from_argv

BINARY = binary_from_argv()
WAIT = 5  # seconds any expected frame may take


class Inbox(stomp.ConnectionListener):
    """Every MESSAGE, ERROR and RECEIPT a connection gets, waited for with a deadline."""

    def __init__(self):
        self.cond = threading.Condition()
        self.messages, self.errors, self.receipts = [], [], []

    def on_message(self, frame):
        with self.cond:
            self.messages.append(frame)
            self.cond.notify_all()

    def on_error(self, frame):
        with self.cond:
            self.errors.append(frame)
            self.cond.notify_all()

    def on_receipt(self, frame):
        with self.cond:
            self.receipts.append(frame.headers["receipt-id"])
            self.cond.notify_all()

    def wait(self, what, count=1, timeout=WAIT):
        with self.cond:
            self.cond.wait_for(lambda: len(getattr(self, what)) >= count, timeout)
            return list(getattr(self, what))

    def bodies(self):
        return [m.body for m in self.messages]


class StompAgainstMqlab(BrokerTestCase):
    BINARY = BINARY
    STOMP = True
    EXTRA = ("--user", "guest:guest", "--user", "app:secret", "--prioritized-messages", "/queue/urgent-first",
             "--stomp-heart-beat-grace", "3")

    def connect(self, version=stomp.Connection12, client_id=None, heartbeats=(0, 0), login=("app", "secret")):
        beats = {} if version is stomp.Connection10 else {"heartbeats": heartbeats}  # heart-beats came in 1.1
        conn = version([("127.0.0.1", self.broker.port)], **beats)
        inbox = Inbox()
        conn.set_listener("inbox", inbox)
        headers = {"client-id": client_id} if client_id else {}
        conn.connect(*login, wait=True, headers=headers)
        self.addCleanup(lambda: conn.is_connected() and conn.disconnect())
        return conn, inbox

    def settle(self, conn):
        """Waits until the server has handled everything sent so far on `conn` (a receipt)."""
        inbox = conn.get_listener("inbox")
        receipt = f"sync-{time.monotonic_ns()}"
        conn.send_frame("BEGIN", {"transaction": receipt, "receipt": receipt})
        conn.send_frame("ABORT", {"transaction": receipt})
        deadline = time.monotonic() + WAIT
        while receipt not in inbox.receipts and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertIn(receipt, inbox.receipts)

    def test_every_version_connects_and_a_queue_gives_each_message_to_one_consumer(self):
        for version, name in ((stomp.Connection10, "1.0"), (stomp.Connection11, "1.1"), (stomp.Connection12, "1.2")):
            with self.subTest(version=name):
                queue = f"/queue/work-{name}"
                a, got_a = self.connect(version)
                b, got_b = self.connect(version)
                a.subscribe(queue, id="a", ack="auto")
                b.subscribe(queue, id="b", ack="auto")
                self.settle(a)
                self.settle(b)
                for i in range(10):
                    a.send(queue, f"job {i}")
                got_a.wait("messages", 5)
                got_b.wait("messages", 5)
                self.assertEqual(sorted(got_a.bodies() + got_b.bodies()), sorted(f"job {i}" for i in range(10)))
                self.assertEqual(len(got_a.messages), 5)  # round-robin between the two consumers

    def test_jms_headers_and_custom_properties_round_trip(self):
        conn, inbox = self.connect()
        conn.subscribe("/queue/headers", id="h")
        expires = int(time.time() * 1000) + 60_000
        conn.send("/queue/headers", "payload", headers={
            "persistent": "true", "priority": "7", "correlation-id": "req-1", "reply-to": "/queue/replies",
            "type": "invoice", "expires": str(expires), "region": "eu:west"})
        (m,) = inbox.wait("messages")
        h = m.headers
        self.assertEqual(m.body, "payload")
        self.assertEqual((h["persistent"], h["priority"], h["correlation-id"], h["reply-to"], h["type"]),
                         ("true", "7", "req-1", "/queue/replies", "invoice"))
        self.assertEqual(h["expires"], str(expires))
        self.assertEqual(h["region"], "eu:west")  # escaped on the wire, a JMS property in the broker
        self.assertEqual(h["destination"], "/queue/headers")
        self.assertTrue(h["message-id"].startswith("ID:"))
        self.assertTrue(int(h["timestamp"]) > 0)

    def test_a_topic_reaches_every_subscriber_and_a_virtual_topic_is_a_queue_per_group(self):
        conn, inbox = self.connect()
        other, other_inbox = self.connect()
        conn.subscribe("/topic/prices", id="1")
        other.subscribe("/topic/prices", id="2")
        g1, g1_inbox = self.connect()
        g2, g2_inbox = self.connect()
        g1.subscribe("/queue/Consumer.billing.VirtualTopic.orders", id="v1")
        g1.subscribe("/queue/Consumer.billing.VirtualTopic.orders", id="v2")
        g2.subscribe("/queue/Consumer.shipping.VirtualTopic.orders", id="v3")
        for c in (conn, other, g1, g2):
            self.settle(c)
        conn.send("/topic/prices", "101")
        for i in range(4):
            conn.send("/topic/VirtualTopic.orders", f"order {i}")
        self.assertEqual(inbox.wait("messages")[0].body, "101")
        self.assertEqual(other_inbox.wait("messages")[0].body, "101")
        self.assertEqual(len(g1_inbox.wait("messages", 4)), 4)  # the billing group shares the orders
        self.assertEqual(sorted(m.headers["subscription"] for m in g1_inbox.messages), ["v1", "v1", "v2", "v2"])
        self.assertEqual(len(g2_inbox.wait("messages", 4)), 4)  # and shipping gets them all too

    def test_selectors_filter_and_a_bad_one_is_an_error_the_connection_survives(self):
        conn, inbox = self.connect()
        conn.subscribe("/queue/cars", id="red", headers={"selector": "color = 'red'"})
        conn.subscribe("/queue/cars", id="bad", headers={"selector": "color = = 'red'"})
        errors = inbox.wait("errors")
        self.assertIn("InvalidSelectorException", errors[0].headers["message"])
        conn.send("/queue/cars", "blue car", headers={"color": "blue"})
        conn.send("/queue/cars", "red car", headers={"color": "red"})
        self.assertEqual(inbox.wait("messages")[0].body, "red car")
        time.sleep(0.2)
        self.assertEqual(inbox.bodies(), ["red car"])
        self.assertTrue(conn.is_connected())

    def test_a_durable_subscription_keeps_messages_while_its_client_is_away(self):
        sub = {"activemq.subscriptionName": "all-news"}
        conn, inbox = self.connect(client_id="reader")
        conn.subscribe("/topic/news", id="d", headers=sub)
        self.settle(conn)
        twin = stomp.Connection12([("127.0.0.1", self.broker.port)])
        twin_inbox = Inbox()
        twin.set_listener("inbox", twin_inbox)
        twin.connect("app", "secret", wait=False, headers={"client-id": "reader"})
        self.assertIn("reader", twin_inbox.wait("errors")[0].headers["message"])  # the client id is taken
        conn.disconnect()
        publisher, _ = self.connect()
        publisher.send("/topic/news", "kept", headers={"persistent": "true"})
        publisher.send("/topic/news", "kept too")  # non-persistent: kept while the broker runs, as ActiveMQ does
        self.settle(publisher)
        back, back_inbox = self.connect(client_id="reader")
        back.subscribe("/topic/news", id="d", headers=sub)
        back_inbox.wait("messages", 2)
        self.assertEqual(back_inbox.bodies(), ["kept", "kept too"])
        back.unsubscribe("d")
        back.unsubscribe("d", headers={**sub, "receipt": "gone"})
        back_inbox.wait("receipts")
        publisher.send("/topic/news", "after unsubscribe", headers={"persistent": "true"})
        self.settle(publisher)
        again, again_inbox = self.connect(client_id="reader2")
        again.subscribe("/topic/news", id="d", headers=sub)
        self.settle(again)
        self.assertEqual(again_inbox.bodies(), [])

    def test_client_ack_is_cumulative_client_individual_is_not_and_unacked_messages_return(self):
        conn, inbox = self.connect()
        conn.subscribe("/queue/acks", id="s", ack="client")
        for i in range(3):
            conn.send("/queue/acks", str(i))
        messages = inbox.wait("messages", 3)
        conn.ack(messages[1].headers["ack"])  # settles 0 and 1
        conn.disconnect()  # 2 was never acknowledged: it returns, redelivered
        again, again_inbox = self.connect()
        again.subscribe("/queue/acks", id="s", ack="client-individual")
        (m,) = again_inbox.wait("messages")
        self.assertEqual((m.body, m.headers.get("redelivered")), ("2", "true"))
        again.send("/queue/acks", "3")
        again.send("/queue/acks", "4")
        later = again_inbox.wait("messages", 3)
        again.ack(later[2].headers["ack"])  # only "4"
        again.disconnect()
        third, third_inbox = self.connect()
        third.subscribe("/queue/acks", id="s")
        self.assertEqual(sorted(m.body for m in third_inbox.wait("messages", 2)), ["2", "3"])

    def test_nack_sends_a_persistent_message_to_the_dead_letter_queue(self):
        conn, inbox = self.connect()
        conn.subscribe("/queue/poison", id="p", ack="client-individual")
        conn.send("/queue/poison", "cannot parse", headers={"persistent": "true"})
        (m,) = inbox.wait("messages")
        conn.nack(m.headers["ack"])
        dlq, dlq_inbox = self.connect()
        dlq.subscribe("/queue/ActiveMQ.DLQ", id="dlq")
        (dead,) = dlq_inbox.wait("messages")
        self.assertEqual(dead.body, "cannot parse")
        self.assertIn("dlqDeliveryFailureCause", dead.headers)

    def test_prefetch_size_bounds_what_a_consumer_holds_unacknowledged(self):
        conn, inbox = self.connect()
        conn.subscribe("/queue/slow", id="s", ack="client-individual", headers={"activemq.prefetchSize": "1"})
        for i in range(3):
            conn.send("/queue/slow", str(i))
        inbox.wait("messages")
        time.sleep(0.3)
        self.assertEqual(inbox.bodies(), ["0"])  # the others wait for room
        conn.ack(inbox.messages[0].headers["ack"])
        inbox.wait("messages", 2)
        self.assertEqual(inbox.bodies(), ["0", "1"])

    def test_a_transaction_holds_sends_and_acks_until_commit(self):
        conn, inbox = self.connect()
        conn.subscribe("/queue/tx-in", id="in", ack="client-individual")
        conn.send("/queue/tx-in", "job")
        (job,) = inbox.wait("messages")
        watcher, watched = self.connect()
        watcher.subscribe("/queue/tx-out", id="out")
        tx = conn.begin()
        conn.ack(job.headers["ack"], transaction=tx)
        conn.send("/queue/tx-out", "result", transaction=tx)
        time.sleep(0.2)
        self.assertEqual(watched.bodies(), [])
        conn.abort(tx)
        time.sleep(0.2)
        self.assertEqual(watched.bodies(), [])
        tx = conn.begin()
        conn.ack(job.headers["ack"], transaction=tx)  # valid again after the abort
        conn.send("/queue/tx-out", "result", transaction=tx)
        conn.commit(tx)
        self.assertEqual(watched.wait("messages")[0].body, "result")
        conn.send_frame("COMMIT", {"transaction": "never-begun"})
        self.assertEqual(inbox.wait("errors")[0].headers["message"], "Invalid transaction id: never-begun")

    def test_a_browser_sees_the_queue_without_taking_it(self):
        conn, inbox = self.connect()
        for i in range(3):
            conn.send("/queue/browsed", str(i))
        conn.subscribe("/queue/browsed", id="look", headers={"browser": "true"})
        seen = inbox.wait("messages", 4)
        self.assertEqual([m.body for m in seen[:3]], ["0", "1", "2"])
        self.assertEqual(seen[3].headers.get("browser"), "end")
        conn.subscribe("/queue/browsed", id="take")
        self.assertEqual(len(inbox.wait("messages", 7)), 7)  # all three are still there

    def test_message_groups_keep_each_group_on_one_consumer(self):
        a, got_a = self.connect()
        b, got_b = self.connect()
        a.subscribe("/queue/grouped", id="a")
        b.subscribe("/queue/grouped", id="b")
        self.settle(a)
        self.settle(b)
        for i in range(6):
            a.send("/queue/grouped", f"{i % 2}:{i}", headers={"JMSXGroupID": f"customer-{i % 2}"})
        got_a.wait("messages", 3)
        got_b.wait("messages", 3)
        for inbox in (got_a, got_b):
            groups = {m.headers["JMSXGroupID"] for m in inbox.messages}
            self.assertEqual(len(groups), 1)
            self.assertEqual(inbox.bodies(), sorted(inbox.bodies(), key=lambda s: int(s.split(":")[1])))

    def test_priorities_reorder_only_a_queue_switched_to_it_and_expired_messages_are_not_delivered(self):
        conn, inbox = self.connect()
        conn.send("/queue/fifo", "low", headers={"priority": "1"})
        conn.send("/queue/fifo", "high", headers={"priority": "9"})
        conn.send("/queue/fifo", "stale", headers={"expires": str(int(time.time() * 1000) - 1000)})
        conn.subscribe("/queue/fifo", id="f")
        inbox.wait("messages", 2)
        time.sleep(0.2)
        self.assertEqual(inbox.bodies(), ["low", "high"])  # prioritizedMessages=false, as ActiveMQ's default
        conn.send("/queue/urgent-first", "low", headers={"priority": "1"})
        conn.send("/queue/urgent-first", "high", headers={"priority": "9"})
        self.settle(conn)
        conn.subscribe("/queue/urgent-first", id="u")
        inbox.wait("messages", 4)
        self.assertEqual(inbox.bodies()[2:], ["high", "low"])  # switched on for this queue only

    def test_errors_carry_activemqs_messages_and_receipts(self):
        conn, inbox = self.connect()
        conn.send_frame("SEND", {"receipt": "r-1"}, "no destination")
        error = inbox.wait("errors")[0]
        self.assertEqual(error.headers["message"], "SEND received without a Destination specified!")
        self.assertEqual(error.headers["receipt-id"], "r-1")
        conn.send("/queue/ok", "fine", headers={"receipt": "r-2"})
        self.assertIn("r-2", inbox.wait("receipts"))
        self.assertTrue(conn.is_connected())

    def test_logins_follow_the_brokers_users(self):
        with self.assertRaises(stomp.exception.ConnectFailedException):
            conn = stomp.Connection12([("127.0.0.1", self.broker.port)])
            conn.connect("app", "wrong", wait=True)
        guest, _ = self.connect(login=())  # no login: the guest user, allowed from loopback
        self.assertTrue(guest.is_connected())

    def test_heart_beats_keep_an_idle_connection_alive(self):
        # The client beats every second and the broker drops it after 3 s of silence (its grace
        # is 3 intervals here, not ActiveMQ's 1.5); the broker owes a beat every 2 s, which
        # stomp.py waits 3 s for. 3.5 s pass idle, so without beats either side would give up;
        # with them a loaded machine (ctest beside calibration probes) has 2 s of slack each way.
        conn, inbox = self.connect(heartbeats=(1000, 2000))
        time.sleep(3.5)
        conn.send("/queue/alive", "still here", headers={"receipt": "beat"})
        self.assertIn("beat", inbox.wait("receipts"))


if __name__ == "__main__":
    unittest.main()
