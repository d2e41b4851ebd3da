/**
 * A one-line progress bar on stderr (stdout stays clean). On a terminal the line is redrawn in
 * place; elsewhere (CI logs) a line is printed only each time another tenth is done, to keep logs short.
 */
export class Progress {
  private lastTenth = -1;
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly scenario: string) {}

  update(fraction: number, label: string): void {
    const clamped = Math.min(1, Math.max(0, fraction));
    const width = 24;
    const filled = Math.round(clamped * width);
    const line = `[${this.scenario}] ${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${String(Math.round(clamped * 100)).padStart(3)}% ${label}`;
    if (this.tty) {
      process.stderr.write(`\r\x1b[2K${line}`);
    } else if (Math.floor(clamped * 10) !== this.lastTenth) {
      this.lastTenth = Math.floor(clamped * 10);
      process.stderr.write(`${line}\n`);
    }
  }

  done(summary: string): void {
    if (this.tty) process.stderr.write('\r\x1b[2K');
    process.stderr.write(`[${this.scenario}] done: ${summary}\n`);
  }
}
