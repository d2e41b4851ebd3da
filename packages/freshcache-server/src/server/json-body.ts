/**
 * A response body as JSON. Cached values come back typed from every tier (an int8 read as a
 * BigInt, say), and JSON has no BigInt: it is written as a decimal string, as pg returns an int8
 * by default, rather than failing the request. Dates and Buffers use their own toJSON.
 */
export function jsonBody(value: unknown): string {
  return JSON.stringify(value, bigintAsString);
}

function bigintAsString(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
