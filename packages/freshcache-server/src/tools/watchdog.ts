import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import type { Writable } from 'node:stream';

/**
 * The watchdog's script. It reads orders from its stdin, a pipe whose other end only `up` holds,
 * and when that pipe closes (`up` exited, however it died, SIGKILL included) it signals every
 * process group still watched and deletes the folders. Linux's PR_SET_PDEATHSIG is not reachable
 * from Node, and a shell this small survives whatever kills its parent. It ignores the terminal's
 * signals: a Ctrl-C is `up`'s to handle, in order. (`kill -s SIG -- -GROUP`: the one form dash
 * and bash both read as a process group.)
 */
const SCRIPT = `
trap '' INT TERM HUP QUIT
watched=''
dirs=''
while read -r order a b; do
  case "$order" in
    watch) watched="$watched $a:$b" ;;
    forget) left=''; for entry in $watched; do [ "\${entry%%:*}" = "$a" ] || left="$left $entry"; done; watched=$left ;;
    dir) dirs="$dirs
$a\${b:+ $b}" ;;
  esac
done
for entry in $watched; do
  group=\${entry%%:*}
  kill -s CONT -- "-$group" 2>/dev/null
  kill -s "\${entry#*:}" -- "-$group" 2>/dev/null
done
[ -n "$watched" ] && sleep 1
printf '%s\\n' "$dirs" | while IFS= read -r dir; do [ -n "$dir" ] && rm -rf -- "$dir"; done
exit 0
`;

export interface Watchdog {
  /** Signal this process group (a detached child's pid) if `up` dies. KILL by default; QUIT lets PostgreSQL stop its backends. */
  watch(group: number, signal?: 'KILL' | 'QUIT'): void;
  /** The group has been stopped (or will be restarted under a new pid). */
  forget(group: number): void;
  /** Delete this folder once the watched groups are signalled. */
  removeOnExit(dir: string): void;
  /** Ends the watchdog: whatever is still watched is signalled. */
  close(): Promise<void>;
}

/** Starts the watchdog shell, in a process group of its own so that the terminal's Ctrl-C never reaches it. */
export function startWatchdog(): Watchdog {
  const child: ChildProcessByStdio<Writable, null, null> = spawn('/bin/sh', ['-c', SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  // Not waited for by this process's event loop: it is meant to outlive it.
  child.unref();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const send = (line: string) => {
    if (!child.stdin.writable) return;
    child.stdin.write(`${line}\n`);
  };
  return {
    watch: (group, signal = 'KILL') => send(`watch ${group} ${signal}`),
    forget: (group) => send(`forget ${group}`),
    removeOnExit: (dir) => {
      if (dir.includes('\n')) throw new Error(`a folder name with a line break: ${JSON.stringify(dir)}`);
      send(`dir ${dir}`);
    },
    close: async () => {
      // Held again, so that this process waits for the watchdog's clean-up instead of exiting first.
      child.ref();
      child.stdin.end();
      await exited;
    },
  };
}
