/**
 * A transfer that moves only as fast as its peer lets it: a response the client reads, a request
 * body the client sends. `StallSweeper` reads it and keeps `idleSince`.
 */
export abstract class Transfer {
  /** When it was last seen moving, or not waiting on its peer (`performance.now()`). */
  idleSince = 0;

  /** Whether it moved since the last call. */
  abstract progressed(): boolean;

  /** Whether it waits on its peer now: time it spends waiting on this side is never held against it. */
  abstract waitsOnPeer(): boolean;

  /** It waited on its peer without moving for the whole timeout: end it. Called once, must not throw. */
  abstract expire(): void;
}

/**
 * Ends the transfers whose peer has made no progress for `timeoutMs`. One timer serves them all,
 * ticking only while there are some, rather than a timer per transfer re-armed on every chunk: the
 * hot path is a Set insertion and removal. A stall is noticed between `timeoutMs` and 1¼ times
 * `timeoutMs` after it began.
 */
export class StallSweeper {
  private readonly transfers = new Set<Transfer>();
  private readonly tickMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly timeoutMs: number) {
    this.tickMs = Math.max(50, Math.floor(timeoutMs / 4));
  }

  watch(transfer: Transfer): void {
    transfer.idleSince = performance.now();
    this.transfers.add(transfer);
    // Unreferenced: watching a transfer never keeps the process alive.
    this.timer ??= setInterval(() => this.sweep(), this.tickMs).unref();
  }

  /** The transfer is over; one that expired is already gone. */
  unwatch(transfer: Transfer): void {
    this.transfers.delete(transfer);
    if (this.transfers.size === 0) this.stop();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private sweep(): void {
    const now = performance.now();
    for (const transfer of this.transfers) {
      if (transfer.progressed() || !transfer.waitsOnPeer()) {
        transfer.idleSince = now;
      } else if (now - transfer.idleSince >= this.timeoutMs) {
        this.unwatch(transfer);
        transfer.expire();
      }
    }
  }
}
