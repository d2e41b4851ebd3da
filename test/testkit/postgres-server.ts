// The test kit uses the same local servers as `freshcache up`.
export * from '../../src/tools/local-postgres.js';
