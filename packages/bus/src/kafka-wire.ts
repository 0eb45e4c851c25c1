// Requests of our own to a Kafka broker, for what kafkajs 2.2 does not ask (kafka-topic-id.ts,
// kafka-offsets.ts): one connection, one request at a time, no TLS or SASL (the bus has neither).
import { connect, type Socket } from 'node:net';

/** The request header v1: api key, version, correlation id, client id. */
export function headerV1(apiKey: number, version: number, correlation: number, clientId: string): Buffer {
  const id = Buffer.from(clientId, 'utf8');
  const b = Buffer.alloc(10);
  b.writeInt16BE(apiKey, 0);
  b.writeInt16BE(version, 2);
  b.writeInt32BE(correlation, 4);
  b.writeInt16BE(id.length, 8);
  return Buffer.concat([b, id]);
}

export interface Connection {
  /** Sends one request; resolves with the answer's body after its correlation id. */
  request(payload: Buffer, correlation: number): Promise<Buffer>;
  close(): void;
}

export function open(broker: string, timeoutMs: number): Promise<Connection> {
  const colon = broker.lastIndexOf(':');
  const host = broker.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const socket: Socket = connect({ host, port: Number(broker.slice(colon + 1)) });
  socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`${broker}: no answer within ${timeoutMs / 1000} s`)));
  let pending = Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () =>
      resolve({
        close: () => socket.destroy(),
        request: (payload, correlation) =>
          new Promise((answer, fail) => {
            const onData = (chunk: Buffer) => {
              pending = Buffer.concat([pending, chunk]);
              if (pending.length < 4 || pending.length < 4 + pending.readInt32BE(0)) return;
              const frame = pending.subarray(4, 4 + pending.readInt32BE(0));
              pending = pending.subarray(4 + frame.length);
              socket.off('data', onData);
              if (frame.readInt32BE(0) !== correlation) return fail(new Error(`${broker}: answer to another request`));
              answer(frame.subarray(4));
            };
            socket.on('data', onData);
            socket.once('error', fail);
            socket.once('close', () => fail(new Error(`${broker} closed the connection`)));
            const size = Buffer.alloc(4);
            size.writeInt32BE(payload.length);
            socket.write(Buffer.concat([size, payload]));
          }),
      }),
    );
  });
}
