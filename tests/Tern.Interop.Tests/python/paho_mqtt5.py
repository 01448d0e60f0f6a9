#!/usr/bin/python3
"""MQTT 5.0 interop check of Tern with paho-mqtt (Debian python3-paho-mqtt 1.6.1, protocol=MQTTv5).

Usage: paho_mqtt5.py PORT
Checks CONNACK properties, user properties, request/response, subscription identifiers,
no local, session expiry and a will with properties against 127.0.0.1:PORT.
Exits 0 when every check passed; otherwise prints each failure and exits 1.
"""
import sys
import threading
import time
import uuid

try:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    from paho.mqtt.reasoncodes import ReasonCodes
    from paho.mqtt.subscribeoptions import SubscribeOptions
except ImportError:
    print("paho-mqtt is missing: install the Debian package python3-paho-mqtt "
          "(apt-get install -y python3-paho-mqtt)")
    sys.exit(2)

HOST = "127.0.0.1"
TIMEOUT = 10.0
RUN = uuid.uuid4().hex[:8]
failures = []
checks = []


def props(packet_type, **values):
    p = Properties(packet_type)
    for name, value in values.items():
        setattr(p, name, value)
    return p


def prop(properties, name, default=None):
    return getattr(properties, name, default) if properties is not None else default


class Peer:
    """A paho MQTTv5 client whose connect, subscribe, publish and message events can be awaited."""

    def __init__(self, name, client_id=None):
        self.name = name
        self.client_id = f"p5-{name}-{RUN}" if client_id is None else client_id
        self.client = mqtt.Client(client_id=self.client_id, protocol=mqtt.MQTTv5)
        self.connected = threading.Event()
        self.connack = None
        self.lock = threading.Condition()
        self.messages = []
        self.acked = {}
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.connack = (flags.get("session present", 0), reason_code, properties)
        self.connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self.lock:
            self.acked[mid] = [int(rc.value) for rc in reason_codes]
            self.lock.notify_all()

    def _on_publish(self, client, userdata, mid):
        with self.lock:
            self.acked[mid] = True
            self.lock.notify_all()

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.messages.append(msg)
            self.lock.notify_all()

    def connect(self, port, clean_start=True, properties=None, will=None):
        if will is not None:
            self.client.will_set(**will)
        self.client.connect(HOST, port, keepalive=30, clean_start=clean_start, properties=properties)
        self.client.loop_start()
        if not self.connected.wait(TIMEOUT):
            raise AssertionError(f"{self.name}: no CONNACK within {TIMEOUT}s")
        if self.connack[1] != 0:
            raise AssertionError(f"{self.name}: CONNACK reason code {self.connack[1]}")
        return self.connack

    def _wait_ack(self, mid, what):
        with self.lock:
            if not self.lock.wait_for(lambda: mid in self.acked, TIMEOUT):
                raise AssertionError(f"{self.name}: no acknowledgement of {what} (mid {mid}) within {TIMEOUT}s")
            return self.acked[mid]

    def subscribe(self, topic, qos=1, no_local=False, subscription_id=None):
        properties = None
        if subscription_id is not None:
            properties = props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=subscription_id)
        rc, mid = self.client.subscribe(topic, options=SubscribeOptions(qos=qos, noLocal=no_local), properties=properties)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise AssertionError(f"{self.name}: subscribe returned {rc}")
        codes = self._wait_ack(mid, f"SUBSCRIBE {topic}")
        if codes != [qos]:
            raise AssertionError(f"{self.name}: SUBACK {codes} for {topic}, expected [{qos}]")

    def publish(self, topic, payload, qos=1, retain=False, properties=None):
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise AssertionError(f"{self.name}: publish returned {info.rc}")
        if qos > 0:
            self._wait_ack(info.mid, f"PUBLISH {topic} q{qos}")

    def wait_message(self, topic, what):
        with self.lock:
            found = []

            def match():
                for m in self.messages:
                    if m.topic == topic:
                        found.append(m)
                        self.messages.remove(m)
                        return True
                return False

            if not self.lock.wait_for(match, TIMEOUT):
                raise AssertionError(f"{self.name}: did not receive {what} within {TIMEOUT}s; got {[(m.topic, m.payload) for m in self.messages]}")
            return found[0]

    def expect_nothing(self, window=0.3):
        time.sleep(window)  # asserting absence needs a window
        with self.lock:
            if self.messages:
                raise AssertionError(f"{self.name}: expected no message, got {[(m.topic, m.payload) for m in self.messages]}")

    def disconnect(self, properties=None, reasoncode=None):
        self.client.disconnect(reasoncode=reasoncode, properties=properties)
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
                print(f"FAIL {name}: {e!r}")
        run.__name__ = fn.__name__
        checks.append(run)
        return run
    return decorator


@check("CONNACK properties: assigned client id, limits, response information")
def connack_properties(port):
    peer = Peer("assigned", client_id="")
    _, _, p = peer.connect(port, properties=props(PacketTypes.CONNECT, RequestResponseInformation=1))
    try:
        assigned = prop(p, "AssignedClientIdentifier")
        if not assigned:
            raise AssertionError(f"no AssignedClientIdentifier in {p}")
        if prop(p, "ReceiveMaximum") != 1024 or prop(p, "TopicAliasMaximum") != 10:
            raise AssertionError(f"ReceiveMaximum/TopicAliasMaximum wrong in {p}")
        if prop(p, "MaximumPacketSize") != 1048576:
            raise AssertionError(f"MaximumPacketSize wrong in {p}")
        if prop(p, "ResponseInformation") != f"response/{assigned}":
            raise AssertionError(f"ResponseInformation {prop(p, 'ResponseInformation')!r}, expected 'response/{assigned}'")
    finally:
        peer.disconnect()


@check("user properties forwarded in order")
def user_properties(port):
    topic = f"paho5/{RUN}/user"
    sub = Peer("usub")
    pub = Peer("upub")
    sub.connect(port)
    pub.connect(port)
    try:
        sub.subscribe(topic)
        sent = [("b", "1"), ("a", "2"), ("b", "3")]
        pub.publish(topic, b"props", properties=props(PacketTypes.PUBLISH, UserProperty=sent))
        msg = sub.wait_message(topic, "message with user properties")
        got = prop(msg.properties, "UserProperty")
        if got != sent:
            raise AssertionError(f"user properties {got}, sent {sent}")
    finally:
        sub.disconnect()
        pub.disconnect()


@check("request/response: response topic, correlation data, content type")
def request_response(port):
    requests = f"paho5/{RUN}/requests"
    replies = f"paho5/{RUN}/replies"
    responder = Peer("responder")
    requester = Peer("requester")
    responder.connect(port)
    requester.connect(port)
    try:
        responder.subscribe(requests)
        requester.subscribe(replies)
        requester.publish(requests, b"2+2?", properties=props(
            PacketTypes.PUBLISH, ResponseTopic=replies, CorrelationData=b"\x00corr\xff", ContentType="text/plain"))
        req = responder.wait_message(requests, "request")
        rp = req.properties
        if prop(rp, "ResponseTopic") != replies or prop(rp, "CorrelationData") != b"\x00corr\xff" or prop(rp, "ContentType") != "text/plain":
            raise AssertionError(f"request properties {rp}")
        responder.publish(prop(rp, "ResponseTopic"), b"4", properties=props(PacketTypes.PUBLISH, CorrelationData=prop(rp, "CorrelationData")))
        reply = requester.wait_message(replies, "reply")
        if reply.payload != b"4" or prop(reply.properties, "CorrelationData") != b"\x00corr\xff":
            raise AssertionError(f"reply {reply.payload!r} {reply.properties}")
    finally:
        responder.disconnect()
        requester.disconnect()


@check("subscription identifier and no local")
def subscription_id_no_local(port):
    topic = f"paho5/{RUN}/sid"
    peer = Peer("sid")
    other = Peer("sidother")
    peer.connect(port)
    other.connect(port)
    try:
        peer.subscribe(topic, no_local=True, subscription_id=42)
        peer.publish(topic, b"mine")
        other.publish(topic, b"theirs")
        msg = peer.wait_message(topic, "message from the other client")
        if msg.payload != b"theirs":
            raise AssertionError(f"received {msg.payload!r} first; no local must suppress b'mine'")
        ids = prop(msg.properties, "SubscriptionIdentifier")
        if ids != [42]:
            raise AssertionError(f"SubscriptionIdentifier {ids}, expected [42]")
        peer.expect_nothing()
    finally:
        peer.disconnect()
        other.disconnect()


@check("session expiry: queued message after reconnect; DISCONNECT expiry 0 ends it")
def session_expiry(port):
    topic = f"paho5/{RUN}/session"
    client_id = f"p5-persist-{RUN}"
    first = Peer("persist", client_id=client_id)
    first.connect(port, clean_start=False, properties=props(PacketTypes.CONNECT, SessionExpiryInterval=60))
    first.subscribe(topic)
    first.disconnect()
    pub = Peer("spub")
    pub.connect(port)
    pub.publish(topic, b"queued")
    pub.disconnect()
    # The will (DISCONNECT reason 0x04 asks for it) tells the observer that the broker has handled
    # the DISCONNECT: a new connection sent after the client closed could otherwise be handled first.
    ended = f"paho5/{RUN}/session-ended"
    observer = Peer("ended-observer")
    observer.connect(port)
    observer.subscribe(ended)
    second = Peer("persist", client_id=client_id)
    session_present, _, _ = second.connect(port, clean_start=False, properties=props(PacketTypes.CONNECT, SessionExpiryInterval=60),
                                           will={"topic": ended, "payload": b"ended", "qos": 1, "retain": False})
    try:
        if session_present != 1:
            raise AssertionError(f"session present {session_present}, expected 1")
        msg = second.wait_message(topic, "queued message")
        if msg.payload != b"queued":
            raise AssertionError(f"got {msg.payload!r}")
    finally:
        second.disconnect(properties=props(PacketTypes.DISCONNECT, SessionExpiryInterval=0),
                          reasoncode=ReasonCodes(PacketTypes.DISCONNECT, "Disconnect with will message"))
    try:
        observer.wait_message(ended, "the will sent when the broker handled DISCONNECT")
    finally:
        observer.disconnect()
    third = Peer("persist", client_id=client_id)
    session_present, _, _ = third.connect(port, clean_start=False)
    third.disconnect()
    if session_present != 0:
        raise AssertionError("DISCONNECT with session expiry 0 must end the session; session present was 1")


@check("will with properties")
def will_properties(port):
    topic = f"paho5/{RUN}/will"
    observer = Peer("observer")
    observer.connect(port)
    victim = Peer("victim")
    will_props = props(PacketTypes.WILLMESSAGE, ContentType="text/plain", UserProperty=[("why", "crash")], ResponseTopic="r/t")
    victim.connect(port, will={"topic": topic, "payload": b"gone", "qos": 1, "retain": False, "properties": will_props})
    try:
        observer.subscribe(topic)
        victim.drop()
        msg = observer.wait_message(topic, "will message")
        p = msg.properties
        if msg.payload != b"gone" or prop(p, "ContentType") != "text/plain" or prop(p, "UserProperty") != [("why", "crash")] or prop(p, "ResponseTopic") != "r/t":
            raise AssertionError(f"will {msg.payload!r} with {p}")
    finally:
        observer.disconnect()


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    port = int(sys.argv[1])
    started = time.monotonic()
    for run in checks:
        run(port)
    print(f"{len(checks) - len(failures)} passed, {len(failures)} failed in {time.monotonic() - started:.1f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
