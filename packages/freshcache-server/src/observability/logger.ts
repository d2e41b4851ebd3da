import { pino } from 'pino';
import type { Logger } from 'pino';

export type { Logger };

/** Structured JSON logs. `silent` in tests unless FRESHCACHE_LOG_LEVEL says otherwise. */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  const level = options.level ?? process.env.FRESHCACHE_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info');
  return pino({ name: options.name ?? 'freshcache', level });
}
