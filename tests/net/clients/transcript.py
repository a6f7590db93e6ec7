"""What the differential tests share: the reference observations of a real broker, either read
from its saved transcript or taken now from a running one (`--live`), or taken and saved
(`--record`); and mqlab's observations of the same sequence."""
import json


def reference(flags, transcript, installed, start_peer, observe, name, install_hint):
    """(observations, label) to compare with, or None when there is nothing more to do (recorded,
    or the peer is not installed for --record / --live)."""
    if "--record" not in flags and "--live" not in flags:
        with open(transcript) as f:
            return json.load(f), name
    if not installed():
        print(f"SKIPPED: {name} is not installed ({install_hint})")
        return None
    peer = start_peer()
    try:
        observed = observe(peer.port)
    finally:
        peer.stop()
    if "--record" in flags:
        with open(transcript, "w") as f:
            json.dump(observed, f, indent=1)
            f.write("\n")
        print(f"recorded {len(observed)} steps to {transcript}")
        return None
    return observed, f"{name} (live)"


def observe_mqlab(broker, observe):
    """mqlab's observations: the broker given, stopped afterwards."""
    try:
        return observe(broker.port)
    finally:
        broker.stop()
