/**
 * Between tfjs tensors and safetensors entries: the one place where tensors are read out of
 * or put into files. Values are float32 on the device; files may hold F16/BF16 (converted on
 * load) and are written as F32.
 */
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { toFloat32, type Safetensors, type TensorInput } from './safetensors.js'

/** Float dtypes a model file may store (converted to float32 on load). */
export const FLOAT_DTYPES: ReadonlySet<string> = new Set(['F32', 'F16', 'BF16', 'F64'])

/** A tensor as an F32 (or I32) entry to write, its values read synchronously from the device. */
export const tensorToInput = (name: string, t: tf.Tensor): TensorInput =>
  t.dtype === 'int32' ? { name, dtype: 'I32', shape: t.shape, data: t.dataSync() as Int32Array } : { name, dtype: 'F32', shape: t.shape, data: t.dataSync() as Float32Array }

/** The entries of a parsed file whose names pass `keep`, as tensors by name (float dtypes only). */
export const floatTensors = (file: Safetensors, keep: (name: string) => boolean = () => true): E.Either<string, Map<string, tf.Tensor>> => {
  const out = new Map<string, tf.Tensor>()
  for (const [name, entry] of file.tensors) {
    if (!keep(name)) continue
    if (!FLOAT_DTYPES.has(entry.dtype)) {
      tf.dispose([...out.values()])
      return E.left(`tensor "${name}" has dtype ${entry.dtype}; a model file must hold F32, F16, BF16 or F64 weights`)
    }
    out.set(name, tf.tensor(toFloat32(entry), [...entry.shape], 'float32'))
  }
  return E.right(out)
}
