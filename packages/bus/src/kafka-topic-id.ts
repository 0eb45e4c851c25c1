// A topic's id (KIP-516), read with one Metadata request of our own: kafkajs
// 2.2 speaks Metadata only up to v6, and topic ids came with v10. The id is
// what tells a topic deleted and created again apart from the one before.
import { headerV1, open } from './kafka-wire.ts';

const API_VERSIONS = 18;
const METADATA = 3;
/** Metadata v10 is the first with topic ids; v12 is the newest Kafka 3.x answers. */
const FIRST_WITH_IDS = 10;
const NEWEST = 12;
const NO_ID = '00000000000000000000000000000000';

/**
 * The topic's id as 32 hex digits, or undefined when the broker has none to give
 * (older than Kafka 2.8, or the id is all zeros). Throws when the broker could
 * not be asked or answered an error: the caller retries rather than mistake a
 * passing failure for "no id", which would look like another log.
 */
export async function readTopicId(broker: string, topic: string, clientId: string, timeoutMs = 5_000): Promise<string | undefined> {
  const conn = await open(broker, timeoutMs);
  try {
    const versions = await conn.request(headerV1(API_VERSIONS, 0, 1, clientId), 1);
    const max = metadataMax(versions);
    if (max === undefined || max < FIRST_WITH_IDS) return undefined;
    const version = Math.min(max, NEWEST);
    const answer = await conn.request(Buffer.concat([headerV2(METADATA, version, 2, clientId), metadataBody(topic, version)]), 2);
    const id = topicIdOf(answer, topic);
    return id === NO_ID ? undefined : id;
  } finally {
    conn.close();
  }
}

/** The flexible header: v1's fields, then an empty tagged-field section. */
function headerV2(apiKey: number, version: number, correlation: number, clientId: string): Buffer {
  return Buffer.concat([headerV1(apiKey, version, correlation, clientId), Buffer.from([0])]);
}

function metadataBody(topic: string, version: number): Buffer {
  const name = Buffer.from(topic, 'utf8');
  return Buffer.concat([
    uvarint(2), // one topic (compact arrays count + 1)
    Buffer.alloc(16), // topic id unknown: asked by name
    uvarint(name.length + 1),
    name,
    Buffer.from([0]), // the topic's tagged fields
    // allow_auto_topic_creation, (v10 only: include_cluster_authorized_operations), include_topic_authorized_operations
    Buffer.from(version === 10 ? [0, 0, 0] : [0, 0]),
    Buffer.from([0]), // tagged fields
  ]);
}

function uvarint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** ApiVersions v0: error_code, then [api_key, min, max]. */
function metadataMax(body: Buffer): number | undefined {
  const error = body.readInt16BE(0);
  if (error !== 0) throw new Error(`ApiVersions answered error ${error}`);
  const count = body.readInt32BE(2);
  for (let i = 0, at = 6; i < count; i++, at += 6) {
    if (body.readInt16BE(at) === METADATA) return body.readInt16BE(at + 4);
  }
  return undefined;
}

/** Reads a Metadata v10+ answer up to its first topic's id. */
function topicIdOf(body: Buffer, topic: string): string {
  const r = new Reader(body);
  r.skipTags(); // the response header's
  r.skip(4); // throttle_time_ms
  for (let brokers = r.uvarint() - 1; brokers > 0; brokers--) {
    r.skip(4);
    r.compactString();
    r.skip(4);
    r.compactString();
    r.skipTags();
  }
  r.compactString(); // cluster id
  r.skip(4); // controller id
  if (r.uvarint() - 1 < 1) throw new Error(`Metadata named no topic for ${topic}`);
  const error = r.int16();
  const name = r.compactString();
  // 3 UNKNOWN_TOPIC_OR_PARTITION, 5 LEADER_NOT_AVAILABLE: a topic just created; kafkajs marks them retriable too.
  if (error !== 0)
    throw Object.assign(new Error(`Metadata for ${topic} answered error ${error}`), { retriable: error === 3 || error === 5 });
  if (name !== topic) throw new Error(`Metadata answered for ${name ?? 'no topic'}, not ${topic}`);
  return r.bytes(16).toString('hex');
}

class Reader {
  private at = 0;
  constructor(private readonly b: Buffer) {}
  skip(n: number): void {
    this.at += n;
    if (this.at > this.b.length) throw new Error('Metadata answer cut short');
  }
  int16(): number {
    const v = this.b.readInt16BE(this.at);
    this.at += 2;
    return v;
  }
  bytes(n: number): Buffer {
    const v = this.b.subarray(this.at, this.at + n);
    this.skip(n);
    return v;
  }
  uvarint(): number {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = this.b[this.at++];
      if (byte === undefined || shift > 28) throw new Error('Metadata answer has a bad varint');
      value |= (byte & 0x7f) << shift;
      if (byte < 0x80) return value >>> 0;
    }
  }
  compactString(): string | null {
    const n = this.uvarint();
    return n === 0 ? null : this.bytes(n - 1).toString('utf8');
  }
  skipTags(): void {
    for (let n = this.uvarint(); n > 0; n--) {
      this.uvarint();
      this.skip(this.uvarint());
    }
  }
}
