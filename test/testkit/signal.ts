/**
 * A condition a test waits for, re-checked each time the code under test calls `notify()`:
 * waiting on the event itself, never on a sleep. `until` fails after `guardMs` instead of hanging.
 */
export function signal() {
  let waiters: (() => void)[] = [];
  return {
    notify() {
      for (const w of waiters) w();
      waiters = [];
    },
    async until(done: () => boolean | Promise<boolean>, guardMs = 20_000) {
      const deadline = Date.now() + guardMs;
      while (!(await done())) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error('condition not reached in time');
        await new Promise<void>((resolve, reject) => {
          const guard = setTimeout(() => reject(new Error('condition not reached in time')), left);
          waiters.push(() => {
            clearTimeout(guard);
            resolve();
          });
        });
      }
    },
  };
}
