#!/usr/bin/env node
// A launcher that exists before the build, so that npm links the `freshcache` command at install
// (in this workspace, `npm ci` runs before `npm run build`); the command itself is built.
await import('../dist/cli/main.js');
