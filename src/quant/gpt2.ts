/**
 * GPT-2 with quantized weights, for generation: every Conv1D (c_attn, c_proj, c_fc, mlp's
 * c_proj), the token embedding — which is also the tied head — and the position embedding
 * are {@link QuantizedMatrix} values (int8 per output channel, or q4 in blocks of 32); the
 * LayerNorms and biases stay float32. The graph is models/gpt2's, in evaluation mode:
 *
 *   ids → wte[ids] + wpe[positions]                       (rows read from the quantized tables)
 *       → n_layer × [x + attn(ln_1(x)); x + mlp(ln_2(x))]  (products by the quantized kernels)
 *       → ln_f → logits = x · wteᵀ                         (the tied head: the same int8 wte)
 *
 * Inference only (no dropout, no gradient); a float tree is quantized by {@link quantizeGpt2}
 * or, one tensor at a time without ever holding the float model, by {@link quantizeGpt2From}.
 * The parameter tree mirrors Hugging Face's names, so `h.3.mlp.c_fc.weight` is a quantized
 * matrix of c_fc's weight, stored [out, in] (transposed from Conv1D's [in, out]).
 */
import * as tf from '@tensorflow/tfjs-core'
import { checkShape } from '../core/errors.js'
import { scoped } from '../core/scope.js'
import { causalMask } from '../mask/index.js'
import { geluErf, geluTanh } from '../nn/activation.js'
import { attendCached, cacheLength, extendCache, mergeHeads, splitHeads, type KVCache } from '../nn/attention.js'
import { normalize, type LayerNormParams } from '../nn/norm.js'
import { innerDim, type Gpt2Config } from '../models/gpt2/config.js'
import type { Gpt2Params } from '../models/gpt2/model.js'
import { disposeQuantTree, downloadQuantized, quantizedDense, quantizedLookup, quantizedMatmul, uploadQuantized, type QuantLinear, type QuantizedMatrix } from './matrix.js'
import { dequantizeRows, quantizeRows, transposeValues, type QuantFormat } from './quantize.js'

/** One quantized transformer block (Hugging Face's names). */
export interface QuantGpt2Block {
  readonly ln_1: LayerNormParams
  readonly attn: { readonly c_attn: QuantLinear; readonly c_proj: QuantLinear }
  readonly ln_2: LayerNormParams
  readonly mlp: { readonly c_fc: QuantLinear; readonly c_proj: QuantLinear }
}

/** GPT-2's parameters with quantized matrices. */
export interface QuantGpt2Params {
  readonly format: QuantFormat
  readonly wte: QuantizedMatrix
  readonly wpe: QuantizedMatrix
  readonly h: readonly QuantGpt2Block[]
  readonly ln_f: LayerNormParams
}

/** Where {@link quantizeGpt2From} reads a float tensor: its values for a Hugging Face name and shape (Conv1D weights [in, out]). */
export type FloatSource = (name: string, shape: readonly number[]) => Float32Array

/** The names and shapes of a config's tensors, in the order {@link quantizeGpt2From} reads them. */
export const gpt2TensorShapes = (c: Gpt2Config): readonly (readonly [string, readonly number[]])[] => {
  const e = c.n_embd
  const inner = innerDim(c)
  const out: [string, number[]][] = [
    ['wte.weight', [c.vocab_size, e]],
    ['wpe.weight', [c.n_positions, e]],
  ]
  for (let i = 0; i < c.n_layer; i++) {
    const h = `h.${i}`
    out.push(
      [`${h}.ln_1.weight`, [e]],
      [`${h}.ln_1.bias`, [e]],
      [`${h}.attn.c_attn.weight`, [e, 3 * e]],
      [`${h}.attn.c_attn.bias`, [3 * e]],
      [`${h}.attn.c_proj.weight`, [e, e]],
      [`${h}.attn.c_proj.bias`, [e]],
      [`${h}.ln_2.weight`, [e]],
      [`${h}.ln_2.bias`, [e]],
      [`${h}.mlp.c_fc.weight`, [e, inner]],
      [`${h}.mlp.c_fc.bias`, [inner]],
      [`${h}.mlp.c_proj.weight`, [inner, e]],
      [`${h}.mlp.c_proj.bias`, [e]],
    )
  }
  out.push(['ln_f.weight', [e]], ['ln_f.bias', [e]])
  return out
}

/**
 * One GPT-2 tensor (a Hugging Face name, values in the checkpoint's layout) in its quantized
 * tree's form: wte/wpe quantized by rows, a Conv1D weight [in, out] transposed and quantized
 * by output channel, a 1-D tensor (LayerNorm, bias) kept float32.
 */
export const quantizeGpt2Tensor = (c: Gpt2Config, format: QuantFormat, name: string, values: Float32Array): QuantizedMatrix | tf.Tensor1D => {
  const shape = new Map(gpt2TensorShapes(c)).get(name)
  if (shape === undefined) throw new RangeError(`quantizeGpt2: ${name} is not a tensor of this config`)
  const size = shape.reduce((a, b) => a * b, 1)
  if (values.length !== size) throw new RangeError(`quantizeGpt2: ${name} has ${values.length} values, expected [${shape.join(', ')}]`)
  if (shape.length === 1) return tf.tensor1d(values)
  const [a, b] = shape
  // A table [rows, cols] is already one row per output channel; a Conv1D [in, out] is not.
  if (name === 'wte.weight' || name === 'wpe.weight') return uploadQuantized(quantizeRows(format, values, a, b))
  return uploadQuantized(quantizeRows(format, transposeValues(values, a, b), b, a))
}

/** A quantized tree from its leaves by name ({@link quantizeGpt2Tensor}'s results), read in {@link gpt2TensorShapes}' order. */
export const assembleQuantGpt2 = (c: Gpt2Config, format: QuantFormat, leaf: (name: string) => QuantizedMatrix | tf.Tensor1D): QuantGpt2Params => {
  const matrix = (name: string): QuantizedMatrix => {
    const m = leaf(name)
    if (m instanceof tf.Tensor) throw new TypeError(`quantizeGpt2: ${name} is not quantized`)
    return m
  }
  const vector = (name: string): tf.Tensor1D => {
    const v = leaf(name)
    if (!(v instanceof tf.Tensor)) throw new TypeError(`quantizeGpt2: ${name} is quantized, expected float32`)
    return v
  }
  const norm = (name: string): LayerNormParams => ({ weight: vector(`${name}.weight`), bias: vector(`${name}.bias`) })
  const conv1d = (name: string): QuantLinear => ({ weight: matrix(`${name}.weight`), bias: vector(`${name}.bias`) })
  const wte = matrix('wte.weight')
  const wpe = matrix('wpe.weight')
  const h = Array.from(
    { length: c.n_layer },
    (_, i): QuantGpt2Block => ({
      ln_1: norm(`h.${i}.ln_1`),
      attn: { c_attn: conv1d(`h.${i}.attn.c_attn`), c_proj: conv1d(`h.${i}.attn.c_proj`) },
      ln_2: norm(`h.${i}.ln_2`),
      mlp: { c_fc: conv1d(`h.${i}.mlp.c_fc`), c_proj: conv1d(`h.${i}.mlp.c_proj`) },
    }),
  )
  return { format, wte, wpe, h, ln_f: norm('ln_f') }
}

/**
 * Quantizes GPT-2 tensor by tensor from `source` (a checkpoint being read, random weights
 * drawn one at a time…): at most one float tensor is alive at once, so a model far larger
 * than its float32 size allows in memory can be quantized. The result belongs to the caller
 * ({@link disposeQuantTree}).
 */
export const quantizeGpt2From = (c: Gpt2Config, format: QuantFormat, source: FloatSource): QuantGpt2Params => {
  const shapes = new Map(gpt2TensorShapes(c))
  return assembleQuantGpt2(c, format, (name) => quantizeGpt2Tensor(c, format, name, source(name, shapes.get(name) ?? [])))
}

/** Quantizes a float GPT-2 tree (left untouched, still the caller's). */
export const quantizeGpt2 = (c: Gpt2Config, params: Gpt2Params, format: QuantFormat): QuantGpt2Params => {
  const at = (name: string): tf.Tensor => {
    const path = name.split('.')
    let node: unknown = params
    for (const k of path) node = (node as Record<string, unknown>)[k]
    return node as tf.Tensor
  }
  return quantizeGpt2From(c, format, (name) => at(name).dataSync() as Float32Array)
}

/** Frees a quantized tree's tensors. */
export const disposeQuantGpt2 = (p: QuantGpt2Params): void => disposeQuantTree(p)

const activation = (c: Gpt2Config) => (c.activation_function === 'gelu' ? geluErf : c.activation_function === 'relu' ? tf.relu : geluTanh)

const qdense = quantizedDense

/** Output of {@link quantGpt2}: the last position's logits [batch, 1, vocab] and the extended caches. */
export interface QuantGpt2Output {
  readonly logits: tf.Tensor3D
  readonly cache: readonly KVCache[]
}

/**
 * The quantized GPT-2 forward pass for decoding: ids [batch, length] after the positions in
 * `cache` → the last position's logits and the caches extended by `ids`.
 */
export const quantGpt2 = (c: Gpt2Config) => {
  const eps = c.layer_norm_epsilon ?? 1e-5
  const act = activation(c)
  const e = c.n_embd
  return (p: QuantGpt2Params, ids: tf.Tensor2D, cache?: readonly KVCache[]): QuantGpt2Output => {
    checkShape('gpt2', 'ids', ids.shape, [null, null])
    const [b, t] = ids.shape
    const past = cacheLength(cache?.[0])
    if (past + t > c.n_positions) throw new RangeError(`gpt2: ${past + t} positions exceed n_positions=${c.n_positions}`)
    let x = tf.add(quantizedLookup(p.wte, ids), quantizedLookup(p.wpe, tf.range(past, past + t, 1, 'int32'))) as tf.Tensor3D
    const mask = t === 1 ? undefined : causalMask(t, past + t)
    const caches: KVCache[] = []
    // Each layer in its own scope, as nn/block.ts's stack does: a prefill chunk holds one
    // layer's intermediates at a time (wasm's heap never shrinks).
    p.h.forEach((l, i) => {
      const out = scoped(() => {
        const [q, k, v] = tf.split(qdense(normalize(x, l.ln_1.weight, l.ln_1.bias, eps), l.attn.c_attn), 3, -1).map((z) => splitHeads(z, c.n_head))
        const kv = extendCache(cache?.[i], k, v)
        const a = qdense(mergeHeads(attendCached(q, kv, mask).output as tf.Tensor4D), l.attn.c_proj)
        const x1 = tf.add(x, a)
        return { kv, x: tf.add(x1, qdense(act(qdense(normalize(x1, l.ln_2.weight, l.ln_2.bias, eps), l.mlp.c_fc)), l.mlp.c_proj)) as tf.Tensor3D }
      })
      caches.push(out.kv)
      x = out.x
    })
    const last = t === 1 ? x : tf.slice(x, [0, t - 1, 0], [b, 1, e])
    const hidden = normalize(last, p.ln_f.weight, p.ln_f.bias, eps)
    const logits = tf.reshape(quantizedMatmul(tf.reshape(hidden, [b, e]) as tf.Tensor2D, p.wte), [b, 1, c.vocab_size]) as tf.Tensor3D
    return { logits, cache: caches }
  }
}

/**
 * The float GPT-2 tree a quantized one stands for (every matrix dequantized, Conv1D weights
 * back to [in, out]): what the quantized model computes up to its activations' int16
 * rounding. For tests and error analysis; it allocates the whole float model.
 */
export const dequantizeGpt2 = (p: QuantGpt2Params): Gpt2Params => {
  const full = (m: QuantizedMatrix) => tf.tensor2d(dequantizeRows(downloadQuantized(m)), [m.rows, m.cols])
  const conv = (l: QuantLinear) => ({ weight: tf.tidy(() => tf.transpose(full(l.weight)) as tf.Tensor2D), bias: tf.clone(l.bias) })
  const norm = (n: LayerNormParams) => ({ weight: tf.clone(n.weight), bias: tf.clone(n.bias) })
  return {
    wte: { weight: full(p.wte) },
    wpe: { weight: full(p.wpe) },
    h: p.h.map((l) => ({
      ln_1: norm(l.ln_1),
      attn: { c_attn: conv(l.attn.c_attn), c_proj: conv(l.attn.c_proj) },
      ln_2: norm(l.ln_2),
      mlp: { c_fc: conv(l.mlp.c_fc), c_proj: conv(l.mlp.c_proj) },
    })),
    ln_f: norm(p.ln_f),
  }
}
