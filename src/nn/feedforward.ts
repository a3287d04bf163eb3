/**
 * The position-wise feed-forward block of the seed notebook: Linear → GELU → Dropout →
 * Linear → Dropout, as a `sequential` whose parameters flatten to `net.0.*` and `net.3.*`
 * like PyTorch's nn.Sequential.
 */
import type * as tf from '@tensorflow/tfjs-core'
import { compose, sequential } from '../core/layer.js'
import { gelu } from './activation.js'
import { dropout } from './dropout.js'
import { linear } from './linear.js'

/** The seed's FeedForward(embed_dim, ff_dim, dropout): parameters `{ net: [lin, {}, {}, lin, {}] }`, rank-preserving. */
export const feedForward = (embedDim: number, ffDim: number, rate: number) =>
  compose({ net: sequential(linear(embedDim, ffDim), gelu('erf'), dropout(rate), linear(ffDim, embedDim), dropout(rate)) }, ({ net }, x: tf.Tensor3D) => net(x))
