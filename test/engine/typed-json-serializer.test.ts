import { describe, expect, it } from 'vitest';
import { typedJsonSerializer as serializer } from '../../packages/freshcache/src/engine/typed-json-serializer.js';

const roundTrip = (value: unknown) => serializer.deserialize(serializer.serialize(value));

describe('typedJsonSerializer', () => {
  it('writes a plain JSON value byte for byte as JSON.stringify does, and reads JSON as JSON.parse does', () => {
    const values = [{ id: 1, name: 'ünï', list: [1, 'two', null, true, { deep: [] }], empty: {} }, [1, [2, [3]]], 'text', 42, null, true];
    for (const value of values) {
      expect(serializer.serialize(value)).toBe(JSON.stringify(value));
      expect(serializer.deserialize(JSON.stringify(value))).toStrictEqual(value);
    }
    // As JSON: toJSON is called, undefined properties are left out.
    expect(serializer.serialize({ a: undefined, b: { toJSON: () => 'b' } })).toBe('{"b":"b"}');
  });

  it('round-trips Date, BigInt, Buffer, Uint8Array, NaN, ±Infinity and undefined array items, nested anywhere', () => {
    const value = {
      at: new Date('2026-01-02T03:04:05.678Z'),
      invalid: new Date(Number.NaN),
      id: -9_007_199_254_740_993n,
      avatar: Buffer.from([0, 1, 254, 255]),
      bytes: new Uint8Array([7, 8]),
      numbers: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, undefined, 1.5],
      deep: { list: [[{ when: new Date(0), n: 0n, raw: Buffer.alloc(0) }]] },
    };
    const back = roundTrip(value) as typeof value;
    expect(back).toStrictEqual(value);
    expect(Buffer.isBuffer(back.avatar)).toBe(true);
    expect(Buffer.isBuffer(back.bytes)).toBe(false);
    expect(back.numbers).toHaveLength(5);
    expect(3 in back.numbers).toBe(true);
  });

  it('round-trips a typed root, an array with typed items, and an object with a $types key of its own', () => {
    for (const value of [new Date(5), 5n, Buffer.from('x'), undefined, [new Date(1), 2n], { $types: [['Date', 'x']], x: 'not a date' }, { $types: 1, at: new Date(2) }]) {
      expect(roundTrip(value)).toStrictEqual(value);
    }
  });

  it('notes typed values beside the data, so JSON readers that ignore $types see what JSON.stringify would have written', () => {
    const text = serializer.serialize({ value: { at: new Date('2026-01-02T03:04:05.678Z'), n: 7n }, version: 3 });
    const asJson = JSON.parse(text) as Record<string, unknown>;
    expect(asJson.value).toStrictEqual({ at: '2026-01-02T03:04:05.678Z', n: '7' });
    expect(asJson.version).toBe(3);
    expect(Object.keys(asJson)).toEqual(['value', 'version', '$types']);
  });

  it('writes an object shared twice (not a cycle) twice, as JSON does', () => {
    const shared = { at: new Date(1) };
    expect(roundTrip({ a: shared, b: [shared] })).toStrictEqual({ a: { at: new Date(1) }, b: [{ at: new Date(1) }] });
  });

  it('refuses functions, symbols, cycles, Map, Set and other typed arrays with bad_request naming where', () => {
    const cyclic: Record<string, unknown> = { list: [] };
    (cyclic.list as unknown[]).push(cyclic);
    const refused: [unknown, RegExp][] = [
      [{ a: { format: () => 'x' } }, /value\.a\.format is a function/],
      [[Symbol('s')], /value\[0\] is a symbol/],
      [cyclic, /value\.list\[0\] is a cycle/],
      [{ m: new Map([[1, 2]]) }, /value\.m is a Map/],
      [{ s: new Set([1]) }, /value\.s is a Set/],
      [new Float64Array(1), /the value is a Float64Array/],
    ];
    for (const [value, message] of refused) {
      expect(() => serializer.serialize(value)).toThrow(expect.objectContaining({ code: 'bad_request', message: expect.stringMatching(message) }));
    }
  });

  it('refuses a $types path that leaves the value (it never writes through a prototype)', () => {
    const hostile = '{"a":{},"$types":[["Date","a","__proto__","polluted"]]}';
    expect(() => serializer.deserialize(hostile)).toThrow(expect.objectContaining({ code: 'bad_request' }));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(() => serializer.deserialize('{"$types":[["NoSuchType","a"]],"a":1}')).toThrow(expect.objectContaining({ code: 'bad_request' }));
  });
});
