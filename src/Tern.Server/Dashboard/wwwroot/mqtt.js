// A small MQTT 3.1.1 client over WebSocket for the dashboard's WebSocket client page: CONNECT,
// SUBSCRIBE, PUBLISH at QoS 0 and 1 (and PUBACK for what it receives at QoS 1), PINGREQ while idle,
// DISCONNECT. Packets are built and read byte by byte as the MQTT 3.1.1 specification lays them out;
// one WebSocket message may carry several packets, or part of one.
'use strict';

(() => {
  const CONNECT = 1;
  const CONNACK = 2;
  const PUBLISH = 3;
  const PUBACK = 4;
  const SUBSCRIBE = 8;
  const SUBACK = 9;
  const PINGREQ = 12;
  const PINGRESP = 13;
  const DISCONNECT = 14;

  // CONNACK return codes of MQTT 3.1.1 (section 3.2.2.3).
  const CONNACK_CODES = [
    'accepted',
    'unacceptable protocol version',
    'client identifier rejected',
    'server unavailable',
    'bad user name or password',
    'not authorized',
  ];

  const utf8 = new TextEncoder();
  const fromUtf8 = new TextDecoder();

  function lengthBytes(length) {
    const bytes = [];
    do {
      let digit = length % 128;
      length = Math.floor(length / 128);
      if (length > 0) {
        digit |= 0x80;
      }

      bytes.push(digit);
    } while (length > 0);
    return bytes;
  }

  // A string as MQTT writes it: two bytes of length, then UTF-8.
  function string(text) {
    const bytes = utf8.encode(text);
    if (bytes.length > 65535) {
      throw new Error('A topic, client id, user name or password is longer than 65,535 bytes.');
    }

    return [bytes.length >> 8, bytes.length & 0xff, ...bytes];
  }

  function packet(type, flags, body) {
    return new Uint8Array([(type << 4) | flags, ...lengthBytes(body.length), ...body]);
  }

  /** Builds the packets this client sends. */
  const encode = {
    connect({ clientId, username, password, keepAlive, cleanSession }) {
      let flags = cleanSession ? 0x02 : 0;
      const payload = [...string(clientId)];
      if (username) {
        flags |= 0x80;
        payload.push(...string(username));
        if (password) {
          flags |= 0x40;
          payload.push(...string(password));
        }
      }

      const header = [...string('MQTT'), 4, flags, keepAlive >> 8, keepAlive & 0xff];
      return packet(CONNECT, 0, [...header, ...payload]);
    },
    subscribe(packetId, topic, qos) {
      return packet(SUBSCRIBE, 0x02, [packetId >> 8, packetId & 0xff, ...string(topic), qos]);
    },
    publish(topic, payload, qos, retain, packetId) {
      const body = [...string(topic)];
      if (qos > 0) {
        body.push(packetId >> 8, packetId & 0xff);
      }

      body.push(...payload);
      return packet(PUBLISH, (qos << 1) | (retain ? 1 : 0), body);
    },
    puback: (packetId) => packet(PUBACK, 0, [packetId >> 8, packetId & 0xff]),
    pingreq: () => packet(PINGREQ, 0, []),
    disconnect: () => packet(DISCONNECT, 0, []),
  };

  /** Splits a byte stream into packets: { type, flags, body }. */
  class Decoder {
    constructor() {
      this.buffer = new Uint8Array(0);
    }

    push(chunk) {
      const joined = new Uint8Array(this.buffer.length + chunk.length);
      joined.set(this.buffer);
      joined.set(chunk, this.buffer.length);
      this.buffer = joined;
      const packets = [];
      for (;;) {
        if (this.buffer.length < 2) {
          break;
        }

        let length = 0;
        let multiplier = 1;
        let i = 1;
        let complete = false;
        while (i < this.buffer.length && i <= 4) {
          const digit = this.buffer[i++];
          length += (digit & 0x7f) * multiplier;
          multiplier *= 128;
          if ((digit & 0x80) === 0) {
            complete = true;
            break;
          }
        }

        if (!complete) {
          if (i > 4) {
            throw new Error('Malformed remaining length from the broker.');
          }

          break;
        }

        if (this.buffer.length < i + length) {
          break;
        }

        packets.push({ type: this.buffer[0] >> 4, flags: this.buffer[0] & 0x0f, body: this.buffer.slice(i, i + length) });
        this.buffer = this.buffer.slice(i + length);
      }

      return packets;
    }
  }

  /**
   * One connection to the broker's WebSocket listener. Callbacks: onConnect(sessionPresent),
   * onMessage({ topic, payload, qos, retain }), onClose(reason).
   */
  class MqttClient {
    constructor(url, options) {
      this.url = url;
      this.options = { keepAlive: 60, cleanSession: true, ...options };
      this.nextId = 1;
      this.pending = new Map();
      this.decoder = new Decoder();
      this.connected = false;
      this.onConnect = () => {};
      this.onMessage = () => {};
      this.onClose = () => {};
    }

    connect() {
      // 'mqtt' is the subprotocol MQTT over WebSocket asks for (MQTT 3.1.1, section 6).
      const socket = new WebSocket(this.url, ['mqtt']);
      socket.binaryType = 'arraybuffer';
      this.socket = socket;
      socket.addEventListener('open', () => socket.send(encode.connect(this.options)));
      socket.addEventListener('message', (event) => this.receive(new Uint8Array(event.data)));
      socket.addEventListener('close', (event) => this.closed(this.closeReason ?? (event.reason || `the connection closed (WebSocket code ${event.code})`)));
      socket.addEventListener('error', () => { this.closeReason ??= `cannot connect to ${this.url}`; });
    }

    subscribe(topic, qos) {
      return this.request((id) => encode.subscribe(id, topic, qos));
    }

    // QoS 0 resolves once sent; QoS 1 once the broker's PUBACK arrives.
    publish(topic, text, qos, retain) {
      const payload = utf8.encode(text);
      if (qos === 0) {
        this.send(encode.publish(topic, payload, 0, retain, 0));
        return Promise.resolve();
      }

      return this.request((id) => encode.publish(topic, payload, qos, retain, id));
    }

    disconnect() {
      if (this.socket && this.socket.readyState === WebSocket.OPEN) {
        this.send(encode.disconnect());
        this.closeReason = 'disconnected';
        this.socket.close(1000);
      }
    }

    request(build) {
      const id = this.nextId;
      this.nextId = this.nextId === 65535 ? 1 : this.nextId + 1;
      return new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        this.send(build(id));
      });
    }

    send(bytes) {
      if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
        throw new Error('Not connected.');
      }

      this.socket.send(bytes);
      this.lastSent = Date.now();
    }

    receive(bytes) {
      let packets;
      try {
        packets = this.decoder.push(bytes);
      } catch (error) {
        this.closeReason = error.message;
        this.socket.close();
        return;
      }

      for (const p of packets) {
        this.handle(p);
      }
    }

    handle({ type, flags, body }) {
      const id = body.length >= 2 ? (body[0] << 8) | body[1] : 0;
      switch (type) {
        case CONNACK:
          if (body[1] !== 0) {
            this.closeReason = `the broker refused the connection: ${CONNACK_CODES[body[1]] ?? 'code ' + body[1]}`;
            this.socket.close();
            return;
          }

          this.connected = true;
          this.startPings();
          this.onConnect((body[0] & 1) === 1);
          break;
        case PUBLISH: {
          const qos = (flags >> 1) & 3;
          const topicLength = id;
          const topic = fromUtf8.decode(body.slice(2, 2 + topicLength));
          let offset = 2 + topicLength;
          if (qos > 0) {
            const packetId = (body[offset] << 8) | body[offset + 1];
            offset += 2;
            this.send(encode.puback(packetId));
          }

          this.onMessage({ topic, payload: body.slice(offset), qos, retain: (flags & 1) === 1 });
          break;
        }

        case PUBACK:
          this.settle(id, null);
          break;
        case SUBACK:
          // 0x80 in the return codes: the broker refused the subscription.
          this.settle(id, body[2] === 0x80 ? new Error('the broker refused the subscription') : null, body[2]);
          break;
        case PINGRESP:
          break;
        default:
          break;
      }
    }

    settle(id, error, value) {
      const waiting = this.pending.get(id);
      if (waiting) {
        this.pending.delete(id);
        if (error) {
          waiting.reject(error);
        } else {
          waiting.resolve(value);
        }
      }
    }

    // A PINGREQ when nothing was sent for half the keep alive, so the broker never times us out.
    startPings() {
      const keepAlive = this.options.keepAlive;
      if (!keepAlive) {
        return;
      }

      this.pinger = setInterval(() => {
        if (Date.now() - (this.lastSent ?? 0) >= (keepAlive * 1000) / 2 && this.socket.readyState === WebSocket.OPEN) {
          this.send(encode.pingreq());
        }
      }, Math.max(1000, (keepAlive * 1000) / 4));
    }

    closed(reason) {
      clearInterval(this.pinger);
      this.connected = false;
      for (const waiting of this.pending.values()) {
        waiting.reject(new Error(reason));
      }

      this.pending.clear();
      this.onClose(reason);
    }
  }

  window.TernMqtt = { MqttClient, Decoder, encode };
})();
