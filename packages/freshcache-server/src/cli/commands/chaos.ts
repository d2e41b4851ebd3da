import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { CHAOS_ACTIONS } from '../../tools/supervisor.js';
import type { ChaosAction, ServiceStatus } from '../../tools/supervisor.js';
import { UP_STATE_FILE } from './up.js';
import type { UpState } from './up.js';

export const chaosHelp = `freshcache chaos kill|restart|pause|resume <target> [--state FILE]
freshcache chaos list [--state FILE]

Breaks a running \`freshcache up\` on purpose, for demos and fault tests. The target is one of
its processes: control, a node (us-east-1, …), redis, postgres or nginx (\`list\` names them);
under \`up --redis cluster\`, each Redis node is redis-PORT (its port: a failover changes its role).

  kill      SIGKILL, as a crash; up starts it again with backoff
  restart   a clean stop, and up starts it again at once
  pause     SIGSTOP: the process hangs with its connections open (a hung process)
  resume    SIGCONT after pause

  --state FILE   the up.json that up printed (default ~/.freshcache/up.json, the last up started)`;

export async function chaos(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { state: { type: 'string', default: UP_STATE_FILE }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    console.log(chaosHelp);
    return;
  }
  const [action, target, ...extra] = positionals;
  const isAction = CHAOS_ACTIONS.includes(action as ChaosAction);
  if (!(action === 'list' && target === undefined) && !(isAction && target !== undefined && extra.length === 0)) {
    throw new Error(`usage: freshcache chaos ${CHAOS_ACTIONS.join('|')} <target>, or freshcache chaos list`);
  }
  const text = await readFile(values.state, 'utf8').catch(() => {
    throw new Error(`no running freshcache up: ${values.state} does not exist (start one with freshcache up, or pass the --state it printed)`);
  });
  const state = JSON.parse(text) as UpState;
  const headers = { authorization: `Bearer ${state.token}`, 'content-type': 'application/json' };
  const response = await fetch(action === 'list' ? `${state.url}/services` : `${state.url}/chaos`, {
    method: action === 'list' ? 'GET' : 'POST',
    headers,
    ...(action === 'list' ? {} : { body: JSON.stringify({ action, target }) }),
  }).catch(() => {
    throw new Error(`freshcache up (pid ${state.pid}) does not answer at ${state.url}: is it still running?`);
  });
  const body = (await response.json()) as { error?: { message: string }; services?: ServiceStatus[] } & Partial<ServiceStatus>;
  if (!response.ok) throw new Error(body.error?.message ?? `up answered ${response.status}`);
  const line = (s: ServiceStatus) => `${s.name.padEnd(12)} ${s.state.padEnd(10)} pid ${String(s.pid ?? '-').padEnd(8)} restarts ${s.restarts}`;
  if (body.services) for (const service of body.services) console.log(line(service));
  else console.log(`${action}: ${line(body as ServiceStatus)}`);
}
