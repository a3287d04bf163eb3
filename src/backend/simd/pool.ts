/**
 * A pool of threads for the library's own WebAssembly kernels, over a shared memory.
 *
 * tfjs-wasm's threaded build keeps its heap in a shared `WebAssembly.Memory` and runs XNNPACK
 * on its own pthreads, but the library's kernels (kernels.wat, quant.wat) are called from the
 * thread that runs tfjs: one core. A pool puts the other cores to work on them: each worker
 * (worker_threads in Node, a Web Worker in a cross-origin-isolated page) instantiates the same
 * compiled modules on the same memory, and a job, `fn(...args, start, end, slot)`, has its index
 * range [0, count) cut into chunks that the caller and the workers claim one at a time; `slot`
 * is the chunk's index (0 … chunks − 1, {@link poolSlots} of them), so that a kernel that needs
 * scratch memory takes slot `slot` of it and no two threads share one. Every index is computed
 * by the same code whoever claims it, so the results do not depend on the thread count or on
 * who was fastest: a kernel only has to write disjoint outputs for disjoint ranges.
 *
 * The handshake is a small control block of int32s (a page of a shared WebAssembly memory of
 * its own, its fields grouped on 64-byte cache lines so that publishing a job does not take
 * away, store by store, the line an idle worker spins on):
 * - the caller writes the job (function, arguments, count, chunk size, its tag), resets the
 *   chunk counter and bumps the sequence number; workers that went to sleep are woken with
 *   `Atomics.notify` (only when some did);
 * - everyone claims chunks with a compare-and-swap on the counter, which carries the job's tag,
 *   and reads the job only after a claim whose tag is the current job's, so a worker that wakes
 *   late works on the current job or on none (the job cannot change while a claim of it is
 *   unfinished: the caller waits for every chunk). A worker reads a job's function and
 *   arguments once, on its first claim of it, and keeps them for its other chunks; the caller
 *   runs chunks too, then spins until the chunks others claimed are done;
 * - an idle worker spins for `spinMs` watching the sequence number, then sleeps in
 *   `Atomics.wait`: a decoding step's ~50 kernel calls find it spinning (microseconds to start),
 *   and an idle process keeps no core busy. A job may ask for no spinning after it (`linger`
 *   false): its workers sleep as soon as it is done.
 * A worker that is slow to start or descheduled costs the caller nothing but its claimed chunk:
 * the caller takes the chunks nobody took. Until the workers have started, jobs run on the caller.
 * The workers are unref'd in Node: they never keep a process alive.
 */

/**
 * Indices into the control block (int32), in groups of a 64-byte cache line each (the block
 * is page-aligned: `controlBlock`). SEQ, which idle workers spin on, is alone: the
 * caller's writes while it publishes a job do not take that line from them store by store. The
 * chunk counter, the count of chunks done and the job's description share the next line: a
 * worker's first claim of a job (its compare-and-swap on NEXT) brings the description with it,
 * where a line of its own would cost one more transfer between cores before the worker starts.
 * Then the rarely-written bookkeeping, the arguments, which a worker reads once a job, and the
 * chunks' bounds, which it reads at each chunk it claims.
 */
const LINE = 16
const SEQ = 0 // job sequence number: workers watch it
const NEXT = LINE // (tag << 8) | next unclaimed chunk
const DONE = LINE + 1 // chunks finished in the current job
const FN = LINE + 2 // module index << 16 | function index
const ARGC = LINE + 3
const CHUNKS = LINE + 4
const TAG = LINE + 5 // the current job's tag (23 bits)
const FAILED = LINE + 6 // a worker's call threw during the current job
const SLEEPERS = 2 * LINE // workers asleep in Atomics.wait on SEQ
const READY = 2 * LINE + 1 // workers that have instantiated the modules
const STOP = 2 * LINE + 2
const LINGER = 2 * LINE + 3 // 0: the last job asked its workers to sleep when done, not spin
/** The job's arguments, float64 (every wasm i32 and f32 is exact in one), from this byte. */
const ARGS_BYTE = 3 * 4 * LINE
/** The most arguments a job may have, besides start, end and slot. */
export const MAX_POOL_ARGS = 24
/** Where the job's chunk bounds start (int32 index: after the arguments): chunk c is [bounds[c], bounds[c + 1]). */
const BOUNDS = (ARGS_BYTE + 8 * MAX_POOL_ARGS) / 4
/**
 * A shared buffer for the control block whose 64-byte lines are the cache's: one page of a
 * shared WebAssembly memory, which starts at a page boundary (a SharedArrayBuffer of its own
 * starts wherever the allocator puts it, often in the middle of a line).
 */
const controlBlock = (): SharedArrayBuffer => {
  const buffer = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer
  if (!(buffer instanceof SharedArrayBuffer)) throw new Error('kernel pool: a shared WebAssembly memory without a SharedArrayBuffer')
  return buffer
}

/** Chunk indices take the low 8 bits of NEXT: at most 5 chunks a thread, 8 threads, and one failed claim each past the end. */
const INDEX_BITS = 8
const INDEX_MASK = (1 << INDEX_BITS) - 1
const TAG_MASK = (1 << 23) - 1
/** The most threads a pool may have. */
export const MAX_POOL_THREADS = 8

/** How a job is cut: chunk c covers indices [bounds[c], bounds[c + 1]); one chunk runs whole on the caller. */
interface Split {
  readonly bounds: readonly number[]
}

/**
 * The units (of `grain` indices) the busiest of `threads` threads runs when `units` are cut into
 * chunks of `size` units (the last shorter) and the threads take them in turn: the time the
 * job takes when the threads run at one speed.
 */
const busiest = (units: number, size: number, threads: number): number => {
  const chunks = Math.ceil(units / size)
  const last = units - (chunks - 1) * size
  // with one chunk more than a multiple of the threads, the first thread's last chunk is the short one
  return (chunks - 1) % threads === 0 ? ((chunks - 1) / threads) * size + last : Math.ceil(chunks / threads) * size
}

/**
 * The chunks of a job of `count` indices, in multiples of `grain`, on `threads` threads. First a
 * cut into equal chunks, at most four a thread, cut so that the busiest thread has the least to
 * do (42 units on two threads go as 6 chunks of 7, 21 each, not 7 of 6, where one thread would
 * run 24), and of cuts as good the one with more chunks, so that a thread that starts late takes
 * fewer. Then its last `threads` chunks are each cut in two, the first halves before the second
 * ones (7 7 7 7 7 7 → 7 7 7 7 4 4 3 3): the threads that take chunks in turn run as many indices
 * as before, but the job ends on chunks half as long, so the caller, which waits for the last
 * chunk another thread took, waits half as long for it (measured in a GPT-2 decoding step: the
 * caller's wait at the end of each product is most of what two threads lose to one another).
 */
const split = (count: number, grain: number, threads: number): Split => {
  const units = Math.ceil(count / grain)
  const most = Math.min(units, 4 * threads)
  if (threads < 2 || most < 2) return { bounds: [0, count] }
  let best = Math.ceil(units / most)
  let bestLoad = busiest(units, best, threads)
  for (let c = most - 1; c >= 2; c--) {
    const size = Math.ceil(units / c)
    const load = busiest(units, size, threads)
    if (load < bestLoad) [best, bestLoad] = [size, load]
  }
  const chunks = Math.ceil(units / best)
  const starts = Array.from({ length: chunks }, (_, c) => c * best)
  const last = units - (chunks - 1) * best
  // the tail is cut only where every one of its chunks has two units or more
  if (chunks < threads || last < 2) return { bounds: [...starts, units].map((u) => Math.min(count, u * grain)) }
  const tail = chunks - threads
  const sizes = Array.from({ length: threads }, (_, j) => (j === threads - 1 ? last : best))
  const halves = [...sizes.map((n) => Math.ceil(n / 2)), ...sizes.map((n) => n - Math.ceil(n / 2))]
  const bounds = starts.slice(0, tail + 1)
  for (const h of halves) bounds.push((bounds[bounds.length - 1] as number) + h)
  return { bounds: bounds.map((u) => Math.min(count, u * grain)) }
}

/** {@link split}'s cuts already made, by threads, grain and count: a decoding step cuts the same few dozen jobs at every step. */
const cuts = new Map<number, Split>()

/** {@link split}, remembered (for counts below 2^24 and grains below 2^16; others are cut each time). */
const cut = (count: number, grain: number, threads: number): Split => {
  if (count >= 2 ** 24 || grain >= 2 ** 16) return split(count, grain, threads)
  const id = (count * 2 ** 16 + grain) * 16 + threads
  const known = cuts.get(id)
  if (known !== undefined) return known
  const made = split(count, grain, threads)
  if (cuts.size < 4096) cuts.set(id, made)
  return made
}

/**
 * The number of chunks — so of slots, 0 … slots − 1 — of a job of `count` indices in multiples
 * of `grain` on a pool of `threads` threads (1: no pool): what a kernel that keeps a scratch
 * slot per chunk must make room for. Exact when the workers run; a job run whole on the
 * caller (one chunk, or workers not started yet) uses slot 0 only.
 */
export const poolSlots = (count: number, grain: number, threads: number): number => cut(count, grain, threads).bounds.length - 1

/**
 * What a worker runs (Node's `eval` worker and a Web Worker's script alike): instantiate the
 * modules, then claim and run chunks forever. Kept as source text, not a function's
 * `toString()`, so that no bundler or minifier can break it. A job's function and arguments are
 * read once, on its first chunk claimed here (keyed by its tag), into `call`: the function's
 * arguments with room for start, end and slot, which each chunk fills in.
 */
const WORKER_SOURCE = `'use strict';
const run = (d) => {
  const ctl = new Int32Array(d.control);
  const args = new Float64Array(d.control, ${ARGS_BYTE}, ${MAX_POOL_ARGS});
  const fns = d.modules.map((m, i) => {
    const e = new WebAssembly.Instance(m, { env: { memory: d.memory } }).exports;
    return d.names[i].map((n) => e[n]);
  });
  Atomics.add(ctl, ${READY}, 1);
  let seen = Atomics.load(ctl, ${SEQ});
  for (;;) {
    let s = Atomics.load(ctl, ${SEQ});
    if (s === seen) {
      // (a job that asked for no lingering: straight to sleep)
      const until = Atomics.load(ctl, ${LINGER}) === 0 ? 0 : performance.now() + d.spinMs;
      let n = 0;
      while ((s = Atomics.load(ctl, ${SEQ})) === seen) {
        if ((++n & 1023) === 0 && performance.now() > until) {
          Atomics.add(ctl, ${SLEEPERS}, 1);
          Atomics.wait(ctl, ${SEQ}, seen);
          Atomics.sub(ctl, ${SLEEPERS}, 1);
        }
      }
    }
    seen = s;
    if (Atomics.load(ctl, ${STOP}) !== 0) return;
    // the job this worker last read (forgotten on each wake-up: a tag comes round again after 2^23 jobs)
    let jobTag = -1, f, call, argc = 0;
    for (;;) {
      const v = Atomics.load(ctl, ${NEXT});
      if (Atomics.compareExchange(ctl, ${NEXT}, v, v + 1) !== v) continue;
      // The claim is of the current job only if its tag is the job's tag (CHUNKS is written after TAG).
      const c = v & ${INDEX_MASK};
      const tag = v >>> ${INDEX_BITS};
      if (c >= Atomics.load(ctl, ${CHUNKS}) || Atomics.load(ctl, ${TAG}) !== tag) break;
      if (tag !== jobTag) {
        // the job cannot change while this thread holds a claim of it: the caller waits for the chunk
        const fn = Atomics.load(ctl, ${FN});
        f = fns[fn >> 16][fn & 0xffff];
        argc = Atomics.load(ctl, ${ARGC});
        call = new Array(argc + 3);
        for (let i = 0; i < argc; i++) call[i] = args[i];
        jobTag = tag;
      }
      call[argc] = ctl[${BOUNDS} + c];
      call[argc + 1] = ctl[${BOUNDS} + c + 1];
      call[argc + 2] = c;
      try {
        f.apply(undefined, call);
      } catch (e) {
        Atomics.store(ctl, ${FAILED}, 1);
      }
      // the last chunk done wakes a caller that went to sleep waiting for it
      if (Atomics.add(ctl, ${DONE}, 1) + 1 === Atomics.load(ctl, ${CHUNKS})) Atomics.notify(ctl, ${DONE});
    }
  }
};
if (typeof process === 'object' && typeof process.getBuiltinModule === 'function') {
  // Node (an eval worker is CommonJS or, under --input-type=module, a module: no require in the latter)
  const wt = process.getBuiltinModule('node:worker_threads');
  wt.parentPort.postMessage('loaded');
  run(wt.workerData);
} else {
  self.onmessage = (e) => run(e.data);
}
`

/** A function of the pool's modules: its index there, and the caller's own instance of it. */
export interface PoolFunction {
  readonly module: number
  readonly fn: number
  readonly call: (...args: number[]) => unknown
}

/** The threads of a {@link KernelPool} and what they have done. */
export interface KernelPoolStats {
  /** Jobs split over the pool (not counting those run on the caller alone). */
  readonly jobs: number
  /** Chunks the workers ran. */
  readonly workerChunks: number
  /** Milliseconds the caller spent waiting, after its last chunk, for chunks the workers had claimed. */
  readonly waitedMs: number
}

/** A pool of threads running the kernels of some modules over one shared memory. */
export interface KernelPool {
  /** Threads that share a job, the caller's included. */
  readonly threads: number
  /** The function `name` of module `module` (as given to {@link createKernelPool}), with the caller's instance; undefined if there is none. */
  readonly lookup: (module: number, name: string) => PoolFunction | undefined
  /**
   * Runs `f.call(...args, start, end, slot)` for chunks [start, end) covering [0, count), slot
   * being the chunk's index: chunks starting at multiples of `grain`, at most five per thread
   * (the last few shorter: `split`), `poolSlots(count, grain, threads)` of them; `f.call(...args, 0, count, 0)`
   * on the caller when there is one chunk or the workers have not started. Synchronous; throws
   * if a call threw. With `linger` false the workers go to sleep when their part is done instead
   * of spinning for the next job: for a short job between other threads' work (XNNPACK's
   * products), which spinning workers would slow down.
   */
  readonly run: (f: PoolFunction, args: readonly number[], count: number, grain: number, linger?: boolean) => void
  /** Resolves once every worker has started (rejects if one cannot). */
  readonly started: Promise<void>
  /** Whether the workers run (jobs are split) now. */
  readonly running: () => boolean
  /**
   * Whether the workers are likely still spinning after the last job (it ended less than half
   * their spin time ago): handing them a job then costs microseconds, where waking sleeping ones
   * costs tens. A kernel whose job is short splits it only then (attend.ts at a decoding step):
   * right after a decoding step's product, on the pool; not between XNNPACK's products, whose
   * own threads would lose a core to workers that stay spinning after the job.
   */
  readonly awake: () => boolean
  /** Jobs and chunks so far. */
  readonly stats: () => KernelPoolStats
  /** Stops the workers; later jobs run on the caller. */
  readonly close: () => void
}

/** Options of {@link createKernelPool}. */
export interface KernelPoolOptions {
  /** How long an idle worker spins before it sleeps, in ms (default 0.5). */
  readonly spinMs?: number
}

/** How long the caller spins for the chunks others claimed before it sleeps, in ms. */
const WAIT_AFTER_MS = 0.05

/** Whether this thread may block in Atomics.wait (a browser's main thread may not). */
const mayWait = (): boolean => {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0)
    return true
  } catch {
    return false
  }
}

/** A started worker, whichever kind. */
interface PoolWorker {
  readonly stop: () => void
}

/** Node's worker_threads, when this is Node (found without an import statement, which bundlers would follow). */
const nodeWorkerThreads = (): typeof import('node:worker_threads') | undefined => {
  const p = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process
  if (p?.versions?.node === undefined || typeof p.getBuiltinModule !== 'function') return undefined
  return p.getBuiltinModule('node:worker_threads') as typeof import('node:worker_threads')
}

/** Starts one worker on `data`; calls `ready` when it has loaded, `failed` if it cannot start. */
const startWorker = (data: Record<string, unknown>, ready: () => void, failed: (e: unknown) => void): PoolWorker | null => {
  const wt = nodeWorkerThreads()
  if (wt !== undefined) {
    const w = new wt.Worker(WORKER_SOURCE, { eval: true, workerData: data })
    w.unref()
    w.once('message', ready)
    w.once('error', failed)
    return { stop: () => void w.terminate() }
  }
  const WorkerCtor = (globalThis as { Worker?: new (url: string) => Worker }).Worker
  if (WorkerCtor === undefined || typeof Blob === 'undefined' || typeof URL.createObjectURL !== 'function') return null
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }))
  const w = new WorkerCtor(url)
  URL.revokeObjectURL(url)
  w.onerror = (e) => failed(e)
  w.postMessage(data)
  ready() // a Web Worker reports nothing back: READY in the control block says when it runs
  return { stop: () => w.terminate() }
}

const functionNames = (m: WebAssembly.Module): string[] =>
  WebAssembly.Module.exports(m)
    .filter((e) => e.kind === 'function')
    .map((e) => e.name)

/**
 * A pool of `threads` threads (the caller and `threads` − 1 workers) for the functions of
 * `modules` (compiled to import `memory`), or null where there can be none: fewer than two
 * threads, a memory that is not shared, or no way to start a worker here.
 */
export const createKernelPool = (memory: WebAssembly.Memory, modules: readonly WebAssembly.Module[], threads: number, options: KernelPoolOptions = {}): KernelPool | null => {
  if (threads > MAX_POOL_THREADS) throw new RangeError(`kernel pool: ${threads} threads, at most ${MAX_POOL_THREADS}`)
  if (threads < 2 || typeof SharedArrayBuffer === 'undefined' || !(memory.buffer instanceof SharedArrayBuffer)) return null
  const control = controlBlock()
  const ctl = new Int32Array(control)
  const argv = new Float64Array(control, ARGS_BYTE, MAX_POOL_ARGS)
  const names = modules.map(functionNames)
  const own = modules.map((m) => new WebAssembly.Instance(m, { env: { memory } }).exports as Record<string, (...a: number[]) => unknown>)
  const workers: PoolWorker[] = []
  const waits: Promise<void>[] = []
  const spinMs = options.spinMs ?? 0.5
  const data = { memory, modules, names, control, spinMs }
  for (let i = 1; i < threads; i++) {
    let settle: [() => void, (e: unknown) => void] = [() => undefined, () => undefined]
    waits.push(
      new Promise<void>((resolve, reject) => {
        settle = [resolve, reject]
      }),
    )
    const w = startWorker(data, settle[0], settle[1])
    if (w === null) {
      workers.forEach((x) => x.stop())
      return null
    }
    workers.push(w)
  }
  const started = Promise.all(waits).then(async () => {
    // Each worker counts itself in READY once its instances exist.
    while (Atomics.load(ctl, READY) < workers.length) await new Promise((r) => setTimeout(r, 1))
  })
  started.catch(() => undefined)
  const canWait = mayWait()
  let closed = false
  let tag = 0
  let jobs = 0
  let workerChunks = 0
  let waitedMs = 0
  let lastEnd = Number.NEGATIVE_INFINITY

  const lookup = (module: number, name: string): PoolFunction | undefined => {
    const fn = names[module]?.indexOf(name) ?? -1
    const call = own[module]?.[name]
    return fn < 0 || call === undefined ? undefined : { module, fn, call }
  }

  const running = (): boolean => !closed && Atomics.load(ctl, READY) >= workers.length

  const run = (f: PoolFunction, args: readonly number[], count: number, grain: number, linger = true): void => {
    const { bounds } = cut(count, grain, threads)
    const n = bounds.length - 1
    if (n < 2 || !running()) {
      f.call(...args, 0, count, 0)
      return
    }
    if (args.length > MAX_POOL_ARGS) throw new RangeError(`kernel pool: ${args.length} arguments, at most ${MAX_POOL_ARGS}`)
    argv.set(args)
    Atomics.store(ctl, FN, (f.module << 16) | f.fn)
    Atomics.store(ctl, ARGC, args.length)
    ctl.set(bounds, BOUNDS)
    tag = (tag + 1) & TAG_MASK
    Atomics.store(ctl, TAG, tag)
    Atomics.store(ctl, CHUNKS, n)
    Atomics.store(ctl, DONE, 0)
    Atomics.store(ctl, FAILED, 0)
    Atomics.store(ctl, LINGER, linger ? 1 : 0)
    Atomics.store(ctl, NEXT, tag << INDEX_BITS)
    Atomics.add(ctl, SEQ, 1)
    if (Atomics.load(ctl, SLEEPERS) > 0) Atomics.notify(ctl, SEQ)
    let mine = 0
    let error: unknown
    // the call's arguments, start, end and slot filled in chunk by chunk (as the workers do): no array a chunk
    const call = [...args, 0, 0, 0]
    const at = args.length
    for (;;) {
      const v = Atomics.load(ctl, NEXT)
      if (Atomics.compareExchange(ctl, NEXT, v, v + 1) !== v) continue
      const c = v & INDEX_MASK
      if (c >= n) break // (the caller's claims are always the current job's)
      // After a failure the caller still claims what is left (without running it), so that the job ends.
      if (error === undefined) {
        try {
          call[at] = bounds[c] as number
          call[at + 1] = bounds[c + 1] as number
          call[at + 2] = c
          Reflect.apply(f.call, undefined, call)
        } catch (e) {
          error = e
        }
      }
      mine++
      Atomics.add(ctl, DONE, 1)
    }
    // The chunks others claimed: spin a little, then (where this thread may block) sleep until the
    // last one is done, so that a worker the system has descheduled gets this core back.
    const t0 = performance.now()
    for (let i = 1, d = Atomics.load(ctl, DONE); d < n; i++, d = Atomics.load(ctl, DONE)) {
      if ((i & 0xff) !== 0) continue
      const waited = performance.now() - t0
      if (waited > 60_000) throw new Error('kernel pool: a worker did not finish its chunk within a minute')
      if (canWait && waited > WAIT_AFTER_MS) Atomics.wait(ctl, DONE, d, 1)
    }
    const end = performance.now()
    jobs++
    workerChunks += n - mine
    waitedMs += end - t0
    lastEnd = linger ? end : Number.NEGATIVE_INFINITY
    if (error !== undefined) throw error
    if (Atomics.load(ctl, FAILED) !== 0) throw new Error('kernel pool: a kernel call failed on a worker thread')
  }

  const close = (): void => {
    if (closed) return
    closed = true
    Atomics.store(ctl, STOP, 1)
    Atomics.add(ctl, SEQ, 1)
    Atomics.notify(ctl, SEQ)
    workers.forEach((w) => w.stop())
  }

  const awake = (): boolean => running() && performance.now() - lastEnd < spinMs / 2

  return { threads, lookup, run, started, running, awake, stats: () => ({ jobs, workerChunks, waitedMs }), close }
}
