import * as tf from '@tensorflow/tfjs-core'
import { describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { selectColumns, selectColumnsOf, selectRows, selectRowsOf } from '../../src/backend/rows.js'
import { recordKernelCalls } from '../../src/core/tfjs-internals.js'

describe('selectRows', () => {
  it.each(['cpu', 'wasm'])('on %s copies the chosen rows (in order, repeats allowed) as tf.gather does', async (backend) => {
    await initBackend(backend)
    const t = tf.tensor4d(
      Float32Array.from({ length: 5 * 2 * 3 * 4 }, (_, i) => i * 0.5 - 7),
      [5, 2, 3, 4],
    )
    for (const rows of [[4, 0, 2], [1, 1, 1, 1], [3], [0, 1, 2, 3, 4]]) {
      const got = selectRows(t, rows)
      const want = tf.gather(t, rows, 0)
      expect(got.shape).toEqual(want.shape)
      expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()))
      tf.dispose([got, want])
    }
    const ints = tf.tensor2d(
      [
        [1, 2],
        [3, 4],
      ],
      [2, 2],
      'int32',
    )
    const picked = selectRows(ints, [1, 0, 1])
    expect(picked.dtype).toBe('int32')
    expect(picked.arraySync()).toEqual([
      [3, 4],
      [1, 2],
      [3, 4],
    ])
    expect(() => selectRows(ints, [2])).toThrow('selectRows: row 2 is outside [0, 2)')
    tf.dispose([t, ints, picked])
  })
})

describe('selectColumns', () => {
  it.each(['cpu', 'wasm'])('on %s gives the chosen columns as rows (in order, repeats allowed): rows of the transpose', async (backend) => {
    await initBackend(backend)
    const t = tf.tensor2d(
      Float32Array.from({ length: 3 * 7 }, (_, i) => i * 0.25 - 2),
      [3, 7],
    )
    for (const cols of [[6, 0, 2], [1, 1, 1], [3], [0, 1, 2, 3, 4, 5, 6]]) {
      const got = selectColumns(t, cols)
      const want = tf.tidy(() => tf.gather(tf.transpose(t), cols, 0))
      expect(got.shape).toEqual([cols.length, 3])
      expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()))
      tf.dispose([got, want])
    }
    const ints = tf.tensor2d(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      [2, 3],
      'int32',
    )
    const picked = selectColumns(ints, [2, 0])
    expect(picked.dtype).toBe('int32')
    expect(picked.arraySync()).toEqual([
      [3, 6],
      [1, 4],
    ])
    expect(() => selectColumns(ints, [3])).toThrow('selectColumns: column 3 is outside [0, 3)')
    expect(() => selectColumns(ints, [-1])).toThrow('selectColumns: column -1 is outside [0, 3)')
    tf.dispose([t, ints, picked])
  })
})

describe('selectRowsOf and selectColumnsOf (the ids as an int32 tensor)', () => {
  it.each(['cpu', 'wasm'])('on %s give selectRows and selectColumns of the ids’ values, checked the same way; on wasm by one kernel call on the ids tensor', async (backend) => {
    await initBackend(backend)
    const t = tf.tensor2d(
      Float32Array.from({ length: 5 * 7 }, (_, i) => i * 0.25 - 2),
      [5, 7],
    )
    for (const ids of [[4, 0, 2], [1, 1, 1], [3], [0, 1, 2, 3, 4]]) {
      const idsT = tf.tensor2d([ids], [1, ids.length], 'int32') // a step's ids: [batch, length]
      let kernels: string[] = []
      const [rows, cols] = tf.tidy(() =>
        recordKernelCalls(
          () => [selectRowsOf(t, idsT), selectColumnsOf(t, idsT)],
          (c) => kernels.push(c.kernel),
        ),
      )
      const [wantRows, wantCols] = [selectRows(t, ids), selectColumns(t, ids)]
      expect([rows.shape, cols.shape]).toEqual([wantRows.shape, wantCols.shape])
      expect([Array.from(rows.dataSync()), Array.from(cols.dataSync())]).toEqual([Array.from(wantRows.dataSync()), Array.from(wantCols.dataSync())])
      // no tensor of the ids' values made on the host: the kernels read the ids tensor (reshaped flat)
      if (backend === 'wasm') expect(kernels).toEqual(['Reshape', 'MinigptGatherRows', 'Reshape', 'MinigptGatherColumns'])
      kernels = []
      tf.dispose([idsT, rows, cols, wantRows, wantCols])
    }
    const bad = tf.tensor1d([0, 7], 'int32')
    expect(() => selectColumnsOf(t, bad)).toThrow('selectColumns: column 7 is outside [0, 7)')
    expect(() => selectRowsOf(t, bad)).toThrow('selectRows: row 7 is outside [0, 5)')
    tf.dispose([t, bad])
  })
})
