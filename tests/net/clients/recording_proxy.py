"""A loopback TCP proxy that keeps what each client sent: the Kafka test of advertised listeners
runs clients through it, and scripts/fuzz-corpus.py turns real client sessions into seeds for
the fuzz targets. Bounded: at most 64 connections and 16 MiB recorded per connection."""
import socket
import threading

MAX_CONNECTIONS = 64
MAX_RECORDED = 16 << 20


class RecordingProxy:
    def __init__(self, target_port):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.sessions = []  # bytearray per connection: what its client sent
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped and len(self.sessions) < MAX_CONNECTIONS:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            server.settimeout(None)
            recorded = bytearray()
            with self.lock:
                self.sessions.append(recorded)
            threading.Thread(target=self._pump, args=(client, server, recorded), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    @staticmethod
    def _pump(source, sink, recorded):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if recorded is not None and len(recorded) < MAX_RECORDED:
                    recorded.extend(data[:MAX_RECORDED - len(recorded)])
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def recorded(self):
        """What each connection's client sent so far, in the order they connected."""
        with self.lock:
            return [bytes(s) for s in self.sessions]

    def stop(self):
        self.stopped = True
        self.listener.close()
