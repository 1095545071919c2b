/**
 * maxThreads / acceptCount for one connector: at most `maxThreads` requests are processed at
 * once, up to `acceptCount` more wait in line, and beyond that a request is answered 503
 * straight away — what a Tomcat connector does when its pool and accept queue are full.
 */
export class RequestLimiter {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  rejected = 0;

  constructor(
    readonly maxThreads: number,
    readonly acceptCount: number,
  ) {}

  get active(): number {
    return this.inFlight;
  }
  get queued(): number {
    return this.waiting.length;
  }

  /** true: go ahead now; a Promise: wait for a slot; false: the queue is full (answer 503). */
  acquire(): true | false | Promise<void> {
    if (this.inFlight < this.maxThreads) {
      this.inFlight++;
      return true;
    }
    if (this.waiting.length >= this.acceptCount) {
      this.rejected++;
      return false;
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter, so inFlight stays the same.
    if (next) next();
    else this.inFlight--;
  }
}
