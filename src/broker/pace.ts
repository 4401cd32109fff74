/**
 * A bounded pace for broker work that must not arrive all at once (issue 13): at most `concurrency`
 * tasks run at a time and consecutive starts are at least `gapMs` apart. A resumed migration
 * removes the shovels its dead owner left through one Pace, instead of one delete per queue in
 * the same few milliseconds. Tasks start in the order they were handed in; a failing task does not
 * stop the others.
 */
export class Pace {
  private running = 0;
  private lastStart = -Infinity;
  private readonly waiting: Array<() => void> = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly concurrency: number,
    readonly gapMs: number,
  ) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    await new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      this.pump();
    });
    try {
      return await task();
    } finally {
      this.running--;
      this.pump();
    }
  }

  private pump(): void {
    if (this.timer || this.running >= this.concurrency || this.waiting.length === 0) return;
    const wait = this.lastStart + this.gapMs - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, wait);
      return;
    }
    this.running++;
    this.lastStart = Date.now();
    this.waiting.shift()!();
    this.pump();
  }
}
