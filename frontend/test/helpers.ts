import type { Dtype, WireArray } from "../src/wire";

export function arr(values: number[], dtype: Dtype = "f8", shape?: number[]): WireArray {
  const C = { f8: Float64Array, f4: Float32Array, i4: Int32Array, u1: Uint8Array, i2: Int16Array, u2: Uint16Array, u4: Uint32Array, i1: Int8Array } as Record<string, { from(v: number[]): ArrayBufferView }>;
  if (dtype === "i8") {
    const b = BigInt64Array.from(values.map((v) => BigInt(v)));
    return { dtype, shape: shape ?? [values.length], data: new Uint8Array(b.buffer) };
  }
  const t = C[dtype].from(values);
  return { dtype, shape: shape ?? [values.length], data: new Uint8Array(t.buffer, t.byteOffset, t.byteLength) };
}

/** The same bytes at an odd offset inside a bigger buffer (as msgpack hands them out). */
export function unaligned(a: WireArray): WireArray {
  const buf = new Uint8Array(a.data.byteLength + 3);
  buf.set(a.data, 3);
  return { ...a, data: buf.subarray(3) };
}
