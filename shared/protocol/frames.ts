/**
 * A small binary envelope for messages that carry numeric arrays (FarmCPU rounds over NATS): a JSON header plus
 * the raw bytes of every typed array, 8-byte aligned, so Float64Array genotype vectors travel without text
 * conversion and decode as views.
 *
 * Layout: `u32 magic "GGF1"`, `u32 header length H`, H bytes UTF-8 JSON, padding to 8, then the array bodies,
 * each padded to 8. In the JSON a typed array is replaced by `{"$a": index, "t": "f64"|"i32"|"u8", "n": length}`.
 * Little-endian (every platform Node runs on).
 */
import { DistributedError } from '../errors.js';

const MAGIC = 0x31464747; // "GGF1"

type Arr = Float64Array | Int32Array | Uint8Array;
const TAGS = { f64: Float64Array, i32: Int32Array, u8: Uint8Array } as const;
type Tag = keyof typeof TAGS;

function tagOf(a: Arr): Tag {
  if (a instanceof Float64Array) return 'f64';
  if (a instanceof Int32Array) return 'i32';
  return 'u8';
}

const pad8 = (x: number) => (x + 7) & ~7;

/** Encodes a JSON-like value whose leaves may be Float64Array, Int32Array or Uint8Array. */
export function encodeFrame(value: unknown): Uint8Array {
  const arrays: Arr[] = [];
  const json = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Float64Array || v instanceof Int32Array || v instanceof Uint8Array) {
      arrays.push(v);
      return { $a: arrays.length - 1, t: tagOf(v), n: v.length };
    }
    if (typeof v === 'number' && !Number.isFinite(v))
      return { $n: Number.isNaN(v) ? 'NaN' : v > 0 ? 'Inf' : '-Inf' };
    return v;
  });
  const head = Buffer.from(json, 'utf8');
  let size = pad8(8 + head.length);
  const offsets = arrays.map((a) => {
    const o = size;
    size += pad8(a.byteLength);
    return o;
  });
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, head.length, true);
  out.set(head, 8);
  arrays.forEach((a, i) => out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), offsets[i]));
  return out;
}

/** Decodes {@link encodeFrame}'s output; typed arrays are copies (aligned for their element type). */
export function decodeFrame<T>(bytes: Uint8Array): T {
  const bad = (why: string) =>
    new DistributedError('PROTOCOL', `malformed frame: ${why}`, {
      hint: 'run the same gwasgrid version everywhere',
    });
  if (bytes.length < 8) throw bad('too short');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) throw bad('wrong magic');
  const h = dv.getUint32(4, true);
  if (8 + h > bytes.length) throw bad('header past the end');
  const json = Buffer.from(bytes.buffer, bytes.byteOffset + 8, h).toString('utf8');
  // Array descriptors by index; the bodies follow the header in index order.
  const descs: { t: Tag; n: number }[] = [];
  const placeholders: { ref: Record<string, unknown> | unknown[]; key: string | number; index: number }[] =
    [];
  const parsed = JSON.parse(json, function (this: Record<string, unknown>, key, v: unknown) {
    if (v && typeof v === 'object' && '$n' in v) {
      const t = (v as { $n: string }).$n;
      if (t === 'NaN') return NaN;
      if (t === 'Inf') return Infinity;
      if (t === '-Inf') return -Infinity;
      throw bad(`number ${t}`);
    }
    if (v && typeof v === 'object' && '$a' in v) {
      const d = v as { $a: number; t: Tag; n: number };
      if (!TAGS[d.t] || !Number.isInteger(d.$a) || !Number.isInteger(d.n) || d.n < 0)
        throw bad('array descriptor');
      descs[d.$a] = { t: d.t, n: d.n };
      placeholders.push({ ref: this, key: Array.isArray(this) ? Number(key) : key, index: d.$a });
    }
    return v;
  }) as unknown;
  let off = pad8(8 + h);
  const bodies: Arr[] = [];
  for (let i = 0; i < descs.length; i++) {
    const d = descs[i];
    if (!d) throw bad(`array ${i} missing`);
    const Ctor = TAGS[d.t];
    const len = d.n * Ctor.BYTES_PER_ELEMENT;
    if (off + len > bytes.length) throw bad('array past the end');
    const copy = new Uint8Array(len);
    copy.set(bytes.subarray(off, off + len));
    bodies[i] = new Ctor(copy.buffer, 0, d.n);
    off += pad8(len);
  }
  for (const p of placeholders) (p.ref as Record<string | number, unknown>)[p.key] = bodies[p.index];
  // A top-level array value is its own placeholder holder.
  if (parsed && typeof parsed === 'object' && '$a' in parsed)
    return bodies[(parsed as { $a: number }).$a] as T;
  return parsed as T;
}
