/**
 * The order of a store's writes. Operations run one after the other, in the order they were
 * queued; values added under a key are written together by the next write, the latest value of
 * a key winning. "Together" is everything added up to the next microtask checkpoint
 * (`queueMicrotask`), plus everything added while an operation runs; `setTimeout(0)` was
 * measured to add about 2 ms per save without batching more.
 *
 * @module
 */

/** A value waiting to be written, with the settlement of everyone who added it. */
export interface Waiting<T> {
  readonly value: T;
  /** Fulfills every `add` of the value. */
  resolve(): void;
  /** Rejects every `add` of the value with `error`. */
  reject(error: unknown): void;
}

/** A queue of writes (see the module documentation). */
export interface WriteQueue<T> {
  /**
   * Adds `value` under `key` to the next write, replacing one added earlier under the same key
   * that is not being written yet; settles as `write` settles it.
   */
  add(key: string, value: T): Promise<void>;
  /** Runs `operation` once the operations queued before it are done. */
  run(operation: () => Promise<void>): Promise<void>;
  /** Queues the write of the values added so far, if any; resolves once it is done. */
  flush(): Promise<void>;
  /** Whether values wait for their write. */
  readonly waiting: boolean;
}

interface Entry<T> {
  value: T;
  resolve: (() => void)[];
  reject: ((error: unknown) => void)[];
}

/**
 * A write queue whose writes call `write` with the values waiting, in the order their keys were
 * first added. `write` settles each of them; a rejection of `write` itself settles none.
 *
 * @example
 * ```ts
 * const queue = createWriteQueue<Job>(async (batch) => {
 *   await saveAll(batch.map((entry) => entry.value));
 *   for (const entry of batch) entry.resolve();
 * });
 * await queue.add(job.id, job);
 * ```
 */
export function createWriteQueue<T>(
  write: (batch: Waiting<T>[]) => Promise<void>,
): WriteQueue<T> {
  let pending = new Map<string, Entry<T>>();
  let scheduled = false;
  /** The chain of operations: each starts after the previous one ended. */
  let tail: Promise<void> = Promise.resolve();

  function run(operation: () => Promise<void>): Promise<void> {
    const result = tail.then(operation);
    tail = result.catch(() => {});
    return result;
  }

  function takePending(): Promise<void> {
    scheduled = false;
    const batch = pending;
    pending = new Map();
    if (batch.size === 0) return Promise.resolve();
    return write([...batch.values()].map((entry) => ({
      value: entry.value,
      resolve: () => entry.resolve.forEach((resolve) => resolve()),
      reject: (error) => entry.reject.forEach((reject) => reject(error)),
    })));
  }

  return {
    add(key, value) {
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      const entry = pending.get(key);
      if (entry) {
        entry.value = value;
        entry.resolve.push(resolve);
        entry.reject.push(reject);
      } else {
        pending.set(key, { value, resolve: [resolve], reject: [reject] });
      }
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(() => {
          if (scheduled) run(takePending);
        });
      }
      return promise;
    },
    run,
    flush: () => run(takePending),
    get waiting() {
      return pending.size > 0;
    },
  };
}
