import * as tf from '@tensorflow/tfjs-core'
import { version_wasm } from '@tensorflow/tfjs-backend-wasm'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import {
  activeWasmBackend,
  asWasmBackend,
  dataFreeTensor,
  engineTensor,
  gradientDepth,
  heapView,
  type KernelCall,
  recordKernelCalls,
  silenceFirstUseBanner,
  TFJS_VERSION,
  wasmMemory,
  withActiveTapeRestored,
} from '../../src/core/tfjs-internals.js'

/** The engine's private state, read here to check the module against the installed tfjs. */
const state = (): { activeTape: unknown; gradientDepth: number } => (tf.engine() as unknown as { state: { activeTape: unknown; gradientDepth: number } }).state

describe('tfjs internals, pinned to the installed tfjs', () => {
  it('were written against the installed tfjs-core and tfjs-backend-wasm (upgrading: recheck this module)', () => {
    expect(tf.version_core).toBe(TFJS_VERSION)
    expect(version_wasm).toBe(TFJS_VERSION)
  })

  describe('on cpu', () => {
    beforeAll(async () => {
      await initBackend('cpu')
    })

    it('gradientDepth is 0 outside gradients and positive inside tf.grads, also where isTapeOn() is false (a customGrad forward pass)', () => {
      expect(gradientDepth()).toBe(0)
      const seen: { depth: number; tapeOn: boolean }[] = []
      const look = () => seen.push({ depth: gradientDepth(), tapeOn: tf.engine().isTapeOn() })
      const op = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
        look()
        save([x])
        return { value: tf.mul(x, 2), gradFunc: (dy: tf.Tensor) => [tf.mul(dy, 2)] }
      }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor
      const g = tf.grad((x: tf.Tensor) => {
        look()
        return tf.sum(op(x))
      })(tf.tensor1d([1, 2]))
      expect(Array.from(g.dataSync())).toEqual([2, 2])
      expect(seen).toEqual([
        { depth: 1, tapeOn: true },
        { depth: 1, tapeOn: false },
      ])
      expect(gradientDepth()).toBe(0)
    })

    it('withActiveTapeRestored keeps the active tape across a gradient computation, which otherwise drops it', () => {
      const saved = state().activeTape
      const tape: unknown[] = []
      try {
        state().activeTape = tape
        withActiveTapeRestored(() => tf.grad((y: tf.Tensor) => tf.sum(tf.mul(y, y)))(tf.scalar(3)))
        expect(state().activeTape).toBe(tape)
        tf.grad((y: tf.Tensor) => tf.sum(y))(tf.scalar(1))
        expect(state().activeTape).not.toBe(tape)
      } finally {
        state().activeTape = saved
      }
    })

    it('dataFreeTensor has a shape, no data and no engine registration', () => {
      const n = tf.memory().numTensors
      const t = dataFreeTensor([3, 4])
      expect(t.shape).toEqual([3, 4])
      expect(t.size).toBe(12)
      expect(tf.memory().numTensors).toBe(n)
      expect(() => t.dataSync()).toThrow()
    })

    it('heapView is undefined on cpu and the wasm backend object is absent', () => {
      const t = tf.tensor1d([1, 2, 3])
      expect(heapView(t)).toBeUndefined()
      expect(activeWasmBackend()).toBeUndefined()
      t.dispose()
    })

    it("silenceFirstUseBanner clears the cpu backend's firstUse flag", () => {
      const b = tf.backend() as unknown as { firstUse?: boolean }
      b.firstUse = true
      silenceFirstUseBanner()
      expect(b.firstUse).toBe(false)
    })
  })

  describe('on wasm', () => {
    beforeAll(async () => {
      await initBackend('wasm')
    })

    it('heapView reads a tensor in place in the wasm memory that wasmMemory returns', () => {
      const backend = activeWasmBackend()
      expect(backend).toBeDefined()
      const memory = wasmMemory(backend!)
      expect(memory).toBeInstanceOf(WebAssembly.Memory)
      const t = tf.tensor1d([1.5, -2, 7])
      const view = heapView(t)!
      expect(Array.from(view)).toEqual([1.5, -2, 7])
      expect(view.buffer).toBe(memory!.buffer)
      expect(view.byteOffset).toBe(backend!.dataIdMap.get(t.dataId)!.memoryOffset)
      expect([typeof backend!.makeOutput, typeof backend!.disposeData, typeof backend!.incRef]).toEqual(['function', 'function', 'function'])
      t.dispose()
    })

    it("reads copy a tensor's values with one set (initBackend installs fastWasmReads): fresh arrays of the dtype, ranges included", () => {
      const backend = tf.backend() as unknown as { readSync: (dataId: tf.DataId, start?: number, end?: number) => unknown }
      const f = tf.tensor1d([1.5, -2, 7, 0.25])
      const i = tf.tensor1d([3, -4, 5], 'int32')
      const b = tf.tensor1d([true, false, true], 'bool')
      const s = tf.tensor1d(['a', 'bc'])
      expect((Object.getPrototypeOf(backend) as { minigptFastReads?: boolean }).minigptFastReads).toBe(true)
      const values = f.dataSync()
      expect(values).toBeInstanceOf(Float32Array)
      expect(Array.from(values)).toEqual([1.5, -2, 7, 0.25])
      // a copy: not a view of the heap, and writing to it leaves the tensor as it was
      expect(values.buffer).not.toBe(wasmMemory(activeWasmBackend()!)!.buffer)
      values[0] = 99
      expect(f.dataSync()[0]).toBe(1.5)
      expect(backend.readSync(f.dataId, 1, 3)).toEqual(new Float32Array([-2, 7]))
      expect(i.dataSync()).toEqual(new Int32Array([3, -4, 5]))
      expect(backend.readSync(i.dataId, 2)).toEqual(new Int32Array([5]))
      expect(b.dataSync()).toEqual(new Uint8Array([1, 0, 1]))
      expect(s.dataSync()).toEqual(['a', 'bc'])
      tf.dispose([f, i, b, s])
    })

    it('the Identity kernel shares data (initBackend installs shareIdentityData): a clone outlives its source', () => {
      const x = tf.tensor1d([4, 5, 6])
      const y = tf.clone(x)
      expect(y.dataId).toBe(x.dataId)
      x.dispose()
      expect(Array.from(y.dataSync())).toEqual([4, 5, 6])
      y.dispose()
    })

    it("recordKernelCalls sees the engine's runKernel calls (outermost ones, with inputs, attributes and outputs) and puts runKernel back; engineTensor tracks a kernel's output", () => {
      const engine = tf.engine()
      const run = engine.runKernel
      const ids = tf.backend().numDataIds()
      const seen: KernelCall[] = []
      const x = tf.tensor1d([1, 2, 3])
      const out = tf.tidy(() =>
        recordKernelCalls(
          () => tf.sum(tf.mul(x, 2)),
          (c) => {
            seen.push(c)
          },
        ),
      )
      expect(seen.map((c) => c.kernel)).toEqual(['Multiply', 'Sum'])
      expect(seen[0]?.inputs.a?.dataId).toBe(x.dataId)
      expect(seen[1]?.attrs).toMatchObject({ keepDims: false })
      expect(seen[1]?.outputs).toEqual([out])
      expect(engine.runKernel).toBe(run)
      expect(Object.hasOwn(engine, 'runKernel')).toBe(false)
      // a kernel's output (here: another reference to a tensor's data, as Reshape makes) made into a
      // tensor of the engine: counted, read, disposed like any, the data freed with its last tensor
      const source = tf.tensor1d([5, 6])
      const tensors = tf.memory().numTensors
      asWasmBackend(tf.backend()).incRef(source.dataId)
      const t = engineTensor({ dataId: source.dataId, shape: [2], dtype: 'float32' }, tf.backend())
      expect([tf.memory().numTensors, t.dataId]).toEqual([tensors + 1, source.dataId])
      source.dispose()
      expect(Array.from(t.dataSync())).toEqual([5, 6])
      t.dispose()
      expect(tf.memory().numTensors).toBe(tensors - 1)
      tf.dispose([x, out])
      expect(tf.backend().numDataIds()).toBe(ids)
    })
  })
})
