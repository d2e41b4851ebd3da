import type { Serializer } from '../seams/serializer.js';
import { FreshcacheError } from './errors.js';

/**
 * The default serializer: JSON, plus the types JSON loses (Date, BigInt, Buffer, Uint8Array,
 * NaN and ±Infinity, undefined in an array) noted by path in a `$types` list next to the data:
 *
 *   {"value":{"at":"2026-01-01T00:00:00.000Z","n":"9007199254740993"},…,"$types":[["Date","value","at"],["BigInt","value","n"]]}
 *
 * Why this and not a library: a value without such types is written byte for byte as
 * JSON.stringify writes it, which is what freshcache stored before, so entries of older nodes
 * still decode and older nodes read new ones during a rolling upgrade (a Date even reaches them
 * as the ISO string they wrote themselves; `$types` sits beside the entry's fields, where they
 * ignore it). Decoding such a value is one plain JSON.parse: L2 hits decode on every read, and a
 * reviver function would slow every one of them down. superjson wraps every value as
 * `{json, meta}` (no byte compatibility) and knows no Buffer; devalue writes its own non-JSON format.
 *
 * It refuses, with a `bad_request` FreshcacheError naming the path, what it cannot give back:
 * functions, symbols, cycles, Map, Set and typed arrays other than Uint8Array. Like JSON, it writes
 * an object's own enumerable properties (a class instance comes back as a plain object), calls
 * `toJSON`, leaves out properties whose value is undefined, and writes -0 as 0.
 */
export const typedJsonSerializer: Serializer = {
  serialize(value: unknown): string {
    const notes: Note[] = [];
    let data: unknown;
    try {
      data = encode(value, '', [], notes, new Set());
    } catch (error) {
      if (error instanceof RangeError) {
        throw new FreshcacheError('bad_request', 'value cannot be serialized: it is nested too deeply', { cause: error });
      }
      throw error;
    }
    const ownTypesKey = isPlainRecord(data) && Object.hasOwn(data, TYPES);
    if (notes.length === 0 && !ownTypesKey) return JSON.stringify(data);
    if (isPlainRecord(data) && !ownTypesKey) return JSON.stringify({ ...data, [TYPES]: notes });
    // The root is typed itself, an array with typed items, or an object with a `$types` key of its own.
    return JSON.stringify({ [TYPES]: { json: data, types: notes } });
  },

  deserialize(text: string): unknown {
    const parsed: unknown = JSON.parse(text);
    if (!isPlainRecord(parsed) || !Object.hasOwn(parsed, TYPES)) return parsed;
    const { [TYPES]: types, ...rest } = parsed;
    // Rebuilt without `$types` rather than deleted from: a deleted property leaves a slow object.
    if (Array.isArray(types)) return revive(rest, types);
    if (isPlainRecord(types) && Array.isArray(types.types)) return revive(types.json, types.types);
    throw new FreshcacheError('bad_request', 'serialized value has a malformed $types');
  },
};

const TYPES = '$types';

type TypeName = 'Date' | 'BigInt' | 'Buffer' | 'Uint8Array' | 'NaN' | 'Infinity' | '-Infinity' | 'undefined';
/** A typed value: its type, then the path to it (object keys and array indexes). */
type Note = [TypeName, ...(string | number)[]];
type Path = (string | number)[];

/**
 * `value` as JSON.stringify would see it, with typed values replaced by their JSON form and noted.
 * Returns `value` itself when nothing under it changed, so a plain value is written unchanged.
 * `path` is one stack shared by the whole walk (a note copies it).
 */
function encode(value: unknown, key: string, path: Path, notes: Note[], ancestors: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value)) return value;
      notes.push([Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity', ...path]);
      return null;
    case 'bigint':
      notes.push(['BigInt', ...path]);
      return value.toString();
    case 'undefined':
      // Only reached for the root and array items: undefined properties are left out, as JSON does.
      notes.push(['undefined', ...path]);
      return null;
    case 'function':
    case 'symbol':
      throw refuse(`a ${typeof value}`, path);
  }
  if (value === null) return null;
  const object = value as object;
  if (object instanceof Date) {
    notes.push(['Date', ...path]);
    return Number.isNaN(object.getTime()) ? null : object.toISOString();
  }
  if (object instanceof Uint8Array) {
    notes.push([Buffer.isBuffer(object) ? 'Buffer' : 'Uint8Array', ...path]);
    return Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64');
  }
  if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer) throw refuse(`a ${object.constructor.name} (only Buffer and Uint8Array are kept)`, path);
  if (object instanceof Map || object instanceof Set) throw refuse(`a ${object.constructor.name} (JSON would silently write {}; convert it to an object or array)`, path);
  if (typeof (object as { toJSON?: unknown }).toJSON === 'function') {
    return encode((object as { toJSON(key: string): unknown }).toJSON(key), key, path, notes, ancestors);
  }
  if (ancestors.has(object)) throw refuse('a cycle (an object that contains itself)', path);
  ancestors.add(object);
  let copy: unknown[] | Record<string, unknown> | undefined;
  if (Array.isArray(object)) {
    for (let i = 0; i < object.length; i++) {
      const item: unknown = object[i];
      path.push(i);
      const encoded = encode(item, String(i), path, notes, ancestors);
      path.pop();
      if (encoded !== item && copy === undefined) copy = object.slice(0, i);
      (copy as unknown[] | undefined)?.push(encoded);
    }
  } else {
    const record = object as Record<string, unknown>;
    const keys = Object.keys(record);
    for (let i = 0; i < keys.length; i++) {
      const name = keys[i]!;
      const item = record[name];
      if (item === undefined) continue;
      path.push(name);
      const encoded = encode(item, name, path, notes, ancestors);
      path.pop();
      if (encoded !== item && copy === undefined) {
        copy = {};
        for (let j = 0; j < i; j++) if (record[keys[j]!] !== undefined) copy[keys[j]!] = record[keys[j]!];
      }
      if (copy !== undefined) (copy as Record<string, unknown>)[name] = encoded;
    }
  }
  ancestors.delete(object);
  return copy ?? object;
}

/** Puts the typed values noted back into `root` (parsed JSON); returns the root, replaced if it was typed itself. */
function revive(root: unknown, notes: unknown[]): unknown {
  for (const note of notes) {
    if (!Array.isArray(note) || note.length === 0) throw malformed();
    const [type, ...path] = note as [unknown, ...unknown[]];
    if (path.length === 0) {
      root = decode(type, root);
      continue;
    }
    let parent: unknown = root;
    for (let i = 0; i < path.length - 1; i++) parent = child(parent, path[i]);
    const last = path[path.length - 1] as string;
    (parent as Record<string, unknown>)[last] = decode(type, child(parent, last));
  }
  return root;
}

/** Own properties only: a path from the store never reaches a prototype. */
function child(parent: unknown, segment: unknown): unknown {
  if (parent === null || typeof parent !== 'object' || (typeof segment !== 'string' && typeof segment !== 'number') || !Object.hasOwn(parent, segment)) {
    throw malformed();
  }
  return (parent as Record<string, unknown>)[segment];
}

function decode(type: unknown, data: unknown): unknown {
  switch (type) {
    case 'Date':
      return new Date(typeof data === 'string' ? data : Number.NaN);
    case 'BigInt':
      if (typeof data === 'string') return BigInt(data);
      break;
    case 'Buffer':
      if (typeof data === 'string') return Buffer.from(data, 'base64');
      break;
    case 'Uint8Array':
      if (typeof data === 'string') return new Uint8Array(Buffer.from(data, 'base64'));
      break;
    case 'NaN':
      return Number.NaN;
    case 'Infinity':
      return Number.POSITIVE_INFINITY;
    case '-Infinity':
      return Number.NEGATIVE_INFINITY;
    case 'undefined':
      return undefined;
  }
  throw malformed();
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function refuse(what: string, path: Path): FreshcacheError {
  const where = path.length === 0 ? 'the value' : `value${path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('')}`;
  return new FreshcacheError('bad_request', `value cannot be serialized: ${where} is ${what}`);
}

function malformed(): FreshcacheError {
  return new FreshcacheError('bad_request', 'serialized value has a malformed $types');
}
