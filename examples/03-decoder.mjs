// Seed notebook §4: the decoder-only transformer, as a value built from layers.
//   npm run build && node examples/03-decoder.mjs
import * as tf from '@tensorflow/tfjs-core'
import { initBackend, key, tree, EVAL, minigpt } from 'minigpt-fp'

await initBackend('wasm')
const config = minigpt.SEED_CONFIG(81) // embed 64, 4 heads, 3 layers, ff 256, dropout 0.1, max_len 25
const model = minigpt.miniGpt(config)
const params = model.init(key(0))
console.log(`parameters: ${tree.count(params).toLocaleString('en-US')} (the notebook says "~50K"; it is 160,529)`)
console.log("their names are the notebook's PyTorch state_dict names:")
for (const [name, t] of [...tree.flatten(params)].slice(0, 18)) console.log(`  ${name.padEnd(32)} [${t.shape.join(', ')}]`)
console.log('  …')

const ids = tf.tensor2d(
  [
    [1, 20, 35, 40, 2, 0, 0, 0, 0, 0],
    [1, 9, 8, 7, 6, 5, 4, 3, 2, 0],
  ],
  [2, 10],
  'int32',
)
const { logits } = model.apply(params, { ids }, EVAL)
console.log(`\ninput [2, 10] → logits [${logits.shape.join(', ')}] (expected [2, 10, 81])`)

const err = (() => {
  try {
    minigpt.miniGpt({ ...config, num_heads: 5 })
  } catch (e) {
    return e.message
  }
})()
console.log('a bad config is a clear error:', err ?? minigpt.decodeMiniGptConfig({ ...config, num_heads: 5 }).left.problems.join('; '))
