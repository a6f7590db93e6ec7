"""Debian's activemq 5.17 as a peer for the differential test and the side-by-side benchmark: a
broker with only a STOMP connector on a loopback port chosen by the caller, its data in a
temporary directory, run as this user (not the package's service) and stopped by its PID.

  activemq_peer.py PORT [OPTIONS]   runs one in the foreground until SIGTERM or SIGINT (for
                                    scripts); OPTIONS go on the connector's URI, e.g.
                                    transport.tcpNoDelay=true
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from mqlab_broker import free_port

JAR = "/usr/share/activemq/bin/activemq.jar"
CONFIG = "/etc/activemq/instances-available/main"


def installed():
    return os.path.exists(JAR)


class ActiveMQ:
    """Debian's activemq 5.17 with only a STOMP connector on a loopback port chosen here, its data in
    a temporary directory; run as this user and stopped by its PID."""

    def __init__(self, port=None, options=""):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="mqlab-activemq-")
        conf = os.path.join(self.dir, "conf")
        os.makedirs(conf)
        shutil.copy(os.path.join(CONFIG, "log4j2.properties"), conf)
        with open(os.path.join(CONFIG, "activemq.xml")) as f:
            xml = f.read().replace('<transportConnector name="openwire" uri="tcp://127.0.0.1:61616"/>',
                                   f'<transportConnector name="stomp" uri="stomp://127.0.0.1:{self.port}'
                                   f'{"?" + options if options else ""}"/>')
        with open(os.path.join(conf, "activemq.xml"), "w") as f:
            f.write(xml)
        opens = [f"--add-opens=java.base/{p}=ALL-UNNAMED" for p in
                 ("java.lang", "java.util", "java.net", "java.security", "java.util.concurrent", "java.util.concurrent.atomic")]
        self.proc = subprocess.Popen(
            ["java", "-Xms256M", "-Xmx512M", "-Djava.awt.headless=true", f"-Djava.io.tmpdir={self.dir}", *opens,
             f"-Dactivemq.classpath={conf}", "-Dactivemq.home=/usr/share/activemq", f"-Dactivemq.base={self.dir}",
             f"-Dactivemq.conf={conf}", f"-Dactivemq.data={self.dir}/data", "-jar", JAR,
             "start", f"xbean:file:{conf}/activemq.xml"],
            cwd=self.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for _ in range(600):  # at most 60 s: a JVM starts slowly
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("activemq did not start within 60 s")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def main():
    peer = ActiveMQ(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "")
    done = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: done.append(True))
    print(f"activemq listening on 127.0.0.1:{peer.port}", flush=True)
    while not done and peer.proc.poll() is None:
        time.sleep(0.2)
    peer.stop()


if __name__ == "__main__":
    main()
