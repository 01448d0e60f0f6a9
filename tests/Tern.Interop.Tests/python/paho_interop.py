#!/usr/bin/python3
"""Interop check of Tern with paho-mqtt (Debian python3-paho-mqtt 1.6.1).

Usage: paho_interop.py PORT
Runs QoS 0/1/2 round trips, retained messages, a will and a persistent session against
127.0.0.1:PORT. Exits 0 when every check passed; otherwise prints each failure and exits 1.
"""
import sys
import threading
import time
import uuid

try:
    import paho.mqtt.client as mqtt
except ImportError:
    print("paho-mqtt is missing: install the Debian package python3-paho-mqtt "
          "(apt-get install -y python3-paho-mqtt)")
    sys.exit(2)

HOST = "127.0.0.1"
TIMEOUT = 10.0
RUN = uuid.uuid4().hex[:8]
failures = []


class Peer:
    """A paho client whose connect, subscribe, publish and message events can be awaited."""

    def __init__(self, name, clean_session=True, protocol=mqtt.MQTTv311, will=None):
        self.name = name
        self.client_id = f"paho-{name}-{RUN}"
        self.client = mqtt.Client(client_id=self.client_id, clean_session=clean_session, protocol=protocol)
        if will is not None:
            self.client.will_set(**will)
        self.connected = threading.Event()
        self.connack = None
        self.lock = threading.Condition()
        self.messages = []
        self.acked = set()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_ack
        self.client.on_publish = self._on_ack
        self.client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, rc):
        self.connack = (flags.get("session present", 0), rc)
        self.connected.set()

    def _on_ack(self, client, userdata, mid, *rest):
        with self.lock:
            self.acked.add(mid)
            self.lock.notify_all()

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, msg.payload, msg.qos, msg.retain))
            self.lock.notify_all()

    def connect(self, port):
        self.client.connect(HOST, port, keepalive=30)
        self.client.loop_start()
        if not self.connected.wait(TIMEOUT):
            raise AssertionError(f"{self.name}: no CONNACK within {TIMEOUT}s")
        if self.connack[1] != 0:
            raise AssertionError(f"{self.name}: CONNACK return code {self.connack[1]}")
        return self.connack

    def _wait_ack(self, mid, what):
        with self.lock:
            if not self.lock.wait_for(lambda: mid in self.acked, TIMEOUT):
                raise AssertionError(f"{self.name}: no acknowledgement of {what} (mid {mid}) within {TIMEOUT}s")

    def subscribe(self, topic, qos):
        rc, mid = self.client.subscribe(topic, qos)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise AssertionError(f"{self.name}: subscribe returned {rc}")
        self._wait_ack(mid, f"SUBSCRIBE {topic}")

    def publish(self, topic, payload, qos, retain=False):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise AssertionError(f"{self.name}: publish returned {info.rc}")
        self._wait_ack(info.mid, f"PUBLISH {topic} q{qos}")

    def wait_message(self, predicate, what):
        with self.lock:
            found = []

            def match():
                for m in self.messages:
                    if predicate(m):
                        found.append(m)
                        return True
                return False

            if not self.lock.wait_for(match, TIMEOUT):
                raise AssertionError(f"{self.name}: did not receive {what} within {TIMEOUT}s; got {self.messages}")
            return found[0]

    def disconnect(self):
        self.client.disconnect()
        self.client.loop_stop()

    def drop(self):
        """Close the socket without DISCONNECT (an abnormal end for the broker)."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()


def check(name):
    def decorator(fn):
        def run(port):
            try:
                fn(port)
                print(f"ok   {name}")
            except Exception as e:  # noqa: BLE001 - every failure is reported
                failures.append(name)
                print(f"FAIL {name}: {e}")
        run.__name__ = fn.__name__
        return run
    return decorator


@check("QoS 0/1/2 round trip")
def qos_round_trip(port):
    sub = Peer("sub")
    pub = Peer("pub")
    sub.connect(port)
    pub.connect(port)
    try:
        for qos in (0, 1, 2):
            topic = f"paho/{RUN}/qos{qos}"
            sub.subscribe(topic, 2)
            pub.publish(topic, f"payload q{qos}".encode(), qos)
            msg = sub.wait_message(lambda m, t=topic: m[0] == t, f"message on {topic}")
            if msg[1] != f"payload q{qos}".encode():
                raise AssertionError(f"payload {msg[1]!r}")
            if msg[2] != qos:
                raise AssertionError(f"{topic}: delivered at QoS {msg[2]}, published at {qos}")
    finally:
        sub.disconnect()
        pub.disconnect()


@check("QoS downgrade to the granted QoS")
def qos_downgrade(port):
    sub = Peer("down")
    sub.connect(port)
    try:
        topic = f"paho/{RUN}/down"
        sub.subscribe(topic, 1)
        sub.publish(topic, b"x", 2)
        msg = sub.wait_message(lambda m: m[0] == topic, "downgraded message")
        if msg[2] != 1:
            raise AssertionError(f"delivered at QoS {msg[2]}, granted 1")
    finally:
        sub.disconnect()


@check("retained message")
def retained(port):
    topic = f"paho/{RUN}/retained"
    pub = Peer("rpub")
    pub.connect(port)
    pub.publish(topic, b"kept", 1, retain=True)
    pub.disconnect()
    late = Peer("late")
    late.connect(port)
    try:
        late.subscribe(topic, 1)
        msg = late.wait_message(lambda m: m[0] == topic, "retained message")
        if msg[1] != b"kept" or not msg[3]:
            raise AssertionError(f"got {msg}, expected b'kept' with retain flag")
        late.publish(topic, b"", 1, retain=True)  # clear it
    finally:
        late.disconnect()


@check("will on abnormal disconnect")
def will(port):
    topic = f"paho/{RUN}/will"
    observer = Peer("observer")
    observer.connect(port)
    victim = Peer("victim", will={"topic": topic, "payload": b"victim gone", "qos": 1, "retain": False})
    victim.connect(port)
    try:
        observer.subscribe(topic, 1)
        victim.drop()
        msg = observer.wait_message(lambda m: m[0] == topic, "will message")
        if msg[1] != b"victim gone" or msg[2] != 1:
            raise AssertionError(f"got {msg}")
    finally:
        observer.disconnect()


@check("persistent session with queued message")
def persistent(port):
    topic = f"paho/{RUN}/persistent"
    first = Peer("persist", clean_session=False)
    first.connect(port)
    first.subscribe(topic, 1)
    first.disconnect()
    pub = Peer("ppub")
    pub.connect(port)
    pub.publish(topic, b"queued", 1)
    pub.disconnect()
    second = Peer("persist", clean_session=False)
    session_present, _ = second.connect(port)
    try:
        if session_present != 1:
            raise AssertionError(f"CONNACK session present {session_present}, expected 1")
        msg = second.wait_message(lambda m: m[0] == topic, "queued message")
        if msg[1] != b"queued":
            raise AssertionError(f"got {msg}")
    finally:
        second.disconnect()
        cleanup = Peer("persist", clean_session=True)
        cleanup.connect(port)
        cleanup.disconnect()


@check("MQTT 3.1 (MQIsdp) round trip")
def mqtt31(port):
    peer = Peer("v31", protocol=mqtt.MQTTv31)
    peer.connect(port)
    try:
        topic = f"paho/{RUN}/v31"
        peer.subscribe(topic, 2)
        peer.publish(topic, b"v31", 2)
        peer.wait_message(lambda m: m[0] == topic and m[1] == b"v31", "3.1 message")
    finally:
        peer.disconnect()


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    port = int(sys.argv[1])
    started = time.monotonic()
    for test in (qos_round_trip, qos_downgrade, retained, will, persistent, mqtt31):
        test(port)
    print(f"{6 - len(failures)} passed, {len(failures)} failed in {time.monotonic() - started:.1f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
