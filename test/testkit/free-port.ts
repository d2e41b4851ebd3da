// The test kit uses the same local servers as `freshcache up`.
export * from '../../packages/freshcache-server/src/tools/free-port.js';
