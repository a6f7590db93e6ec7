"""One operation sequence run with stomp.py against a STOMP broker, each step's observable result
recorded (the frames that came back, with the headers that do not vary from run to run, the
ERROR messages, whether the connection survived), and compared with ActiveMQ 5.17's. ActiveMQ's
observations are saved in activemq_transcript.json, so ctest needs no ActiveMQ; `--record`
regenerates them from Debian's activemq package, `--live` compares both now.

  stomp_differential.py MQLAB_BINARY            compare mqlab with the saved transcript (ctest)
  stomp_differential.py MQLAB_BINARY --live     start ActiveMQ too and compare both live
  stomp_differential.py MQLAB_BINARY --record   run against ActiveMQ and save its transcript

A step where mqlab differs on purpose is listed in KNOWN with the reason (the README repeats
the list); any other difference fails the test.
"""
import json
import os
import sys
import threading
import time

import stomp

from activemq_peer import ActiveMQ, installed
from mqlab_broker import Broker
from transcript import observe_mqlab, reference

HERE = os.path.dirname(os.path.abspath(__file__))
TRANSCRIPT = os.path.join(HERE, "activemq_transcript.json")
WAIT = 3  # seconds a frame may take
# Headers whose values differ between runs or brokers by nature.
VARYING = {"message-id", "timestamp", "session", "server", "ack", "expires"}

KNOWN = {
    "bad selector": "ActiveMQ's ERROR message header is the selector itself (the parser's complaint is in its "
                    "stack-trace body); mqlab's says what is wrong and at which column. Both refuse the "
                    "subscription and keep the connection.",
}


class Inbox(stomp.ConnectionListener):
    def __init__(self):
        self.cond = threading.Condition()
        self.frames = []
        self.disconnected = False

    def _add(self, kind, frame):
        with self.cond:
            self.frames.append((kind, frame))
            self.cond.notify_all()

    def on_message(self, frame):
        self._add("MESSAGE", frame)

    def on_error(self, frame):
        self._add("ERROR", frame)

    def on_receipt(self, frame):
        self._add("RECEIPT", frame)

    def on_disconnected(self):
        with self.cond:
            self.disconnected = True
            self.cond.notify_all()


class Client:
    """A stomp.py connection and everything it received, as comparable observations."""

    def __init__(self, port, version=stomp.Connection12, client_id=None, **kwargs):
        self.conn = version([("127.0.0.1", port)], **kwargs)
        self.inbox = Inbox()
        self.conn.set_listener("inbox", self.inbox)
        self.conn.connect("guest", "guest", wait=True, headers={"client-id": client_id} if client_id else {})
        self.synced = 0

    def sync(self):
        """Waits until the broker has handled everything sent so far (a receipt comes back)."""
        self.synced += 1
        receipt = f"sync-{self.synced}"
        self.conn.send_frame("BEGIN", {"transaction": receipt, "receipt": receipt})
        self.conn.send_frame("ABORT", {"transaction": receipt})
        self._wait(lambda: any(k == "RECEIPT" and f.headers.get("receipt-id") == receipt for k, f in self.inbox.frames))
        with self.inbox.cond:
            self.inbox.frames = [(k, f) for k, f in self.inbox.frames if f.headers.get("receipt-id") != receipt]

    def _wait(self, done, timeout=WAIT):
        with self.inbox.cond:
            self.inbox.cond.wait_for(lambda: done() or self.inbox.disconnected, timeout)

    def take(self, count=1, settle=0.3):
        """The next `count` frames (waiting for them), then whatever else arrives within `settle` s."""
        self._wait(lambda: len(self.inbox.frames) >= count)
        time.sleep(settle)
        with self.inbox.cond:
            taken, self.inbox.frames = self.inbox.frames, []
        return [describe(kind, f) for kind, f in taken]

    def messages(self, count):
        """The next `count` MESSAGE frames as stomp.py gave them, waited for (dispatch is asynchronous)."""
        def messages_in():
            return [f for k, f in self.inbox.frames if k == "MESSAGE"]
        self._wait(lambda: len(messages_in()) >= count)
        with self.inbox.cond:
            got = messages_in()[:count]
            self.inbox.frames = [(k, f) for k, f in self.inbox.frames if not any(f is g for g in got)]
        return got

    def raw(self, command, headers, body=""):
        self.conn.send_frame(command, headers, body)

    def alive(self):
        """Whether the connection still answers (a SEND with a receipt)."""
        if self.inbox.disconnected or not self.conn.is_connected():
            return False
        try:
            self.raw("SEND", {"destination": "/queue/diff.ping", "receipt": "alive"}, "ping")
        except Exception:  # noqa: BLE001 - a closed socket is the observation
            return False
        self._wait(lambda: any(f.headers.get("receipt-id") == "alive" for _, f in self.inbox.frames))
        with self.inbox.cond:
            ok = any(f.headers.get("receipt-id") == "alive" for _, f in self.inbox.frames)
            self.inbox.frames = [(k, f) for k, f in self.inbox.frames if f.headers.get("receipt-id") != "alive"]
        return ok

    def close(self):
        try:
            if self.conn.is_connected():
                self.conn.disconnect()
        except Exception:  # noqa: BLE001 - already gone
            pass


def describe(kind, frame):
    headers = {k: v for k, v in frame.headers.items() if k not in VARYING}
    if kind == "ERROR":
        return {"ERROR": headers.get("message"), "receipt-id": headers.get("receipt-id")}
    if kind == "RECEIPT":
        return {"RECEIPT": headers.get("receipt-id")}
    return {"MESSAGE": frame.body, "headers": dict(sorted(headers.items()))}


def drain(port, destination):
    """Every message waiting in a queue, by a fresh auto-ack subscriber."""
    c = Client(port)
    c.conn.subscribe(destination, id="drain")
    got = [m["MESSAGE"] for m in c.take(0, settle=0.5)]
    c.close()
    return got


def steps(port):
    """Yields (name, observation)."""
    c = Client(port)
    c.raw("SEND", {"receipt": "r1"}, "x")
    yield "SEND without destination: error, receipt-id, connection survives", [c.take(), c.alive()]

    c.raw("SEND", {"destination": "diff.bare"}, "to a bare name")
    yield "a bare destination name is a queue", drain(port, "/queue/diff.bare")

    c.conn.subscribe("/queue/diff.headers", id="h")
    c.sync()
    c.conn.send("/queue/diff.headers", "mapped", headers={
        "persistent": "true", "priority": "7", "correlation-id": "c-1", "reply-to": "/topic/diff.replies",
        "type": "invoice", "region": "eu:west", "number": "42"})
    c.raw("SEND", {"destination": "/queue/diff.headers"}, "no content-length")
    yield "headers become JMS headers and properties, content-length makes bytes", c.take(2)
    c.conn.unsubscribe("h")

    for p in (1, 9, 4):
        c.conn.send("/queue/diff.prio", f"priority {p}", headers={"priority": str(p)})
    c.sync()
    yield "priorities do not reorder a queue (prioritizedMessages=false)", drain(port, "/queue/diff.prio")

    c.conn.send("/queue/diff.stale", "expired", headers={"expires": str(int(time.time() * 1000) - 60_000)})
    c.conn.send("/queue/diff.stale", "fresh")
    c.sync()
    yield "an expired message is not delivered", drain(port, "/queue/diff.stale")

    c.conn.subscribe("/queue/diff.cars", id="red", headers={"selector": "color = 'red'"})
    c.sync()
    c.conn.send("/queue/diff.cars", "blue car", headers={"color": "blue"})
    c.conn.send("/queue/diff.cars", "red car", headers={"color": "red"})
    yield "a selector filters", c.take(1)
    c.conn.unsubscribe("red")
    c.conn.subscribe("/queue/diff.cars", id="bad", headers={"selector": "color = = 'red'", "receipt": "bad-sel"})
    yield "bad selector", [c.take(1), c.alive()]

    ack_second_of_three(c, "/queue/diff.client", "client", "c")
    yield "client ack is cumulative; the rest returns redelivered", drain_with_flags(port, "/queue/diff.client")
    ack_second_of_three(c, "/queue/diff.individual", "client-individual", "i")
    yield "client-individual acks one; the others return redelivered", drain_with_flags(port, "/queue/diff.individual")

    c.raw("ACK", {"id": "no-such-ack", "receipt": "bad-ack"})
    yield "ACK of an unknown id", [c.take(1), c.alive()]

    c.conn.subscribe("/queue/diff.nack", id="n", ack="client-individual")
    c.conn.send("/queue/diff.nack", "persistent poison", headers={"persistent": "true"})
    c.conn.send("/queue/diff.nack", "transient poison")
    for f in c.messages(2):
        c.conn.nack(f.headers["ack"])
    c.conn.unsubscribe("n")
    c.sync()
    yield "NACK: the persistent message is in the DLQ, the other is gone, none is redelivered", [
        drain(port, "/queue/ActiveMQ.DLQ"), drain(port, "/queue/diff.nack")]

    tx = c.conn.begin()
    c.conn.send("/queue/diff.tx", "aborted", transaction=tx)
    c.conn.abort(tx)
    tx = c.conn.begin()
    c.conn.send("/queue/diff.tx", "committed", transaction=tx)
    before = drain(port, "/queue/diff.tx")
    c.conn.commit(tx)
    c.sync()
    yield "transactional sends appear at commit only", [before, drain(port, "/queue/diff.tx")]
    c.raw("COMMIT", {"transaction": "never-begun"})
    c.raw("BEGIN", {"transaction": "twice"})
    c.raw("BEGIN", {"transaction": "twice"})
    c.raw("ABORT", {"transaction": "twice"})
    yield "transaction errors", [c.take(2), c.alive()]

    for i in range(2):
        c.conn.send("/queue/diff.browse", f"b{i}")
    c.conn.subscribe("/queue/diff.browse", id="look", headers={"browser": "true"})
    yield "a browser sees the queue then an end marker", c.take(3)
    yield "the browsed messages are still there", drain(port, "/queue/diff.browse")

    c.conn.subscribe("/queue/diff.prefetch", id="pf", ack="client-individual", headers={"activemq.prefetchSize": "1"})
    for i in range(3):
        c.conn.send("/queue/diff.prefetch", f"p{i}")
    yield "prefetchSize 1 holds one unacknowledged message", [m["MESSAGE"] for m in c.take(1, settle=0.5)]
    c.conn.unsubscribe("pf")

    a, b = Client(port), Client(port)
    a.conn.subscribe("/queue/diff.groups", id="a")
    b.conn.subscribe("/queue/diff.groups", id="b")
    a.sync()
    b.sync()
    for i in range(6):
        c.conn.send("/queue/diff.groups", f"g{i % 2}-{i}", headers={"JMSXGroupID": f"g{i % 2}"})
    got_a = [m["MESSAGE"] for m in a.take(3)]
    got_b = [m["MESSAGE"] for m in b.take(3)]
    yield "message groups stay on one consumer, in order", sorted([got_a, got_b])
    a.close()
    b.close()

    d = Client(port, client_id="diff-durable")
    d.conn.subscribe("/topic/diff.news", id="d", headers={"activemq.subscriptionName": "news"})
    d.sync()
    twin = None
    try:
        twin = Client(port, client_id="diff-durable")
        yield "a second connection with the same client id", ["connected", twin.take(1, settle=0.5)]
    except Exception as e:  # noqa: BLE001 - stomp.py raises when the CONNECT is refused
        yield "a second connection with the same client id", ["refused", type(e).__name__]
    if twin:
        twin.close()
    d.raw("UNSUBSCRIBE", {"id": "d", "activemq.subscriptionName": "news", "receipt": "busy"})
    yield "removing a durable subscription while its consumer is active", [[f.get("receipt-id") for f in d.take(1)], d.alive()]
    d.close()
    c.conn.send("/topic/diff.news", "kept", headers={"persistent": "true"})
    c.conn.send("/topic/diff.news", "dropped")
    c.sync()
    back = Client(port, client_id="diff-durable")
    back.conn.subscribe("/topic/diff.news", id="d", headers={"activemq.subscriptionName": "news"})
    yield "an offline durable subscriber keeps non-persistent messages too", [m["MESSAGE"] for m in back.take(1)]
    back.conn.unsubscribe("d")
    back.raw("UNSUBSCRIBE", {"id": "d", "activemq.subscriptionName": "news", "receipt": "removed"})
    yield "removing an inactive durable subscription", back.take(1)
    back.raw("UNSUBSCRIBE", {"id": "nothing", "receipt": "none"})
    yield "UNSUBSCRIBE of an unknown id", [back.take(1), back.alive()]
    back.close()

    g1, g2 = Client(port), Client(port)
    g1.conn.subscribe("/queue/Consumer.one.VirtualTopic.diff", id="1")
    g2.conn.subscribe("/queue/Consumer.two.VirtualTopic.diff", id="2")
    g1.sync()
    g2.sync()
    c.conn.send("/topic/VirtualTopic.diff", "to every group")
    yield "a virtual topic reaches each consumer group", [[m["MESSAGE"] for m in g1.take(1)], [m["MESSAGE"] for m in g2.take(1)]]
    g1.close()
    g2.close()

    old = Client(port, version=stomp.Connection10)
    old.raw("NACK", {"message-id": "x", "receipt": "old"})
    yield "NACK in STOMP 1.0", [old.take(1), old.alive()]
    old.close()

    c.raw("FLY", {})
    yield "an unknown command ends the connection", [c.take(1), c.alive()]
    c.close()


def ack_second_of_three(c, queue, mode, prefix):
    """Messages prefix0..prefix2 to a subscription in `mode`; the second is acknowledged, then it ends."""
    c.conn.subscribe(queue, id="acks", ack=mode)
    for i in range(3):
        c.conn.send(queue, f"{prefix}{i}")
    frames = c.messages(3)
    c.conn.ack(frames[1].headers["ack"])
    c.conn.unsubscribe("acks")
    c.sync()


def drain_with_flags(port, destination):
    c = Client(port)
    c.conn.subscribe(destination, id="drain")
    got = [(m["MESSAGE"], m["headers"].get("redelivered", "false")) for m in c.take(0, settle=0.5)]
    c.close()
    return got


def observe(port):
    return [{"step": name, "observed": json.loads(json.dumps(obs, default=str))}
            for name, obs in steps(port) if obs is not None]


def compare(reference, ours, label):
    unexpected = 0
    for ref, got in zip(reference, ours):
        if ref == got:
            print(f"same       {ref['step']}")
            continue
        known = KNOWN.get(ref["step"])
        print(f"{'KNOWN' if known else 'DIFFERENT':10} {ref['step']}\n  {label}: {json.dumps(ref['observed'])}\n"
              f"  mqlab:    {json.dumps(got['observed'])}" + (f"\n  why: {known}" if known else ""))
        unexpected += 0 if known else 1
    if len(reference) != len(ours):
        unexpected += 1
        print(f"DIFFERENT  number of steps: {label} {len(reference)}, mqlab {len(ours)}")
    return unexpected


def main():
    binary, flags = sys.argv[1], sys.argv[2:]
    ref = reference(flags, TRANSCRIPT, installed, ActiveMQ, observe, "activemq",
                    "scripts/install-deps.sh --bench installs it")
    if ref is None:
        return 0
    expected, label = ref
    ours = observe_mqlab(Broker(binary, stomp=True), observe)
    unexpected = compare(expected, ours, label)
    same = sum(1 for r, o in zip(expected, ours) if r == o)
    print(f"{same} of {len(expected)} steps observed the same as ActiveMQ 5.17; "
          f"{len(expected) - same - unexpected} known differences, {unexpected} unexpected")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
