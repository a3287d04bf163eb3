// Replayed decoding steps (docs/concepts.md, "Replayed decoding steps") against every step through
// tfjs's engine: GPT-2 124M (random weights) decoding greedily after a prompt, the two decoders
// (`{ replay: false }` and the default) alternating in blocks of steps in one process, so that
// the machine's changing speed falls on both. Each block: a fresh prefill, 3 untimed steps (the
// replaying decoder's first two trace, the third replays), then --steps timed ones; the figure
// is each decoder's median step per block, and the ratio of their medians over the blocks.
// Not part of `npm run bench` (a comparison within the library, for judging the replay).
//
//   npm run build && node bench/replay.mjs [--weights f32|int8|q4] [--context 64] [--blocks 6] [--steps 40]
import { initBackend, key, uniform, gpt2, sample, quant } from '../dist/index.js'
import { argmax, median, opt } from './util.mjs'

const weights = opt('weights', 'int8')
if (!['f32', 'int8', 'q4'].includes(weights)) throw new Error(`--weights must be f32, int8 or q4, not ${weights}`)
const context = Number(opt('context', '64'))
const blocks = Number(opt('blocks', '6'))
const steps = Number(opt('steps', '40'))
await initBackend('wasm')
const config = gpt2.GPT2_PRESETS.gpt2
const params = gpt2.gpt2(config).init(key(1))
const p = weights === 'f32' ? params : quant.quantize(gpt2.gpt2Shapes(config), params, weights)
const decoders = { engine: sample.gpt2Decoder(config, p, { replay: false }), replay: sample.gpt2Decoder(config, p) }
const prompt = Array.from(uniform(key(3), context, 0, config.vocab_size), Math.floor)
const medians = { engine: [], replay: [] }
for (let b = 0; b < blocks; b++) {
  for (const name of b % 2 === 0 ? ['engine', 'replay'] : ['replay', 'engine']) {
    const d = decoders[name]
    let out = await d.prefill([prompt])
    const times = []
    for (let s = 0; s < 3 + steps; s++) {
      const t0 = performance.now()
      const next = await d.step(out.cache, [argmax(out.logits[0])])
      if (s >= 3) times.push(performance.now() - t0)
      d.release(out.cache)
      out = next
    }
    d.release(out.cache)
    medians[name].push(median(times))
  }
}
const show = (xs) => xs.map((x) => x.toFixed(2)).join(' ')
console.log(`GPT-2 124M ${weights}, ${context}-token prompt, ${blocks} blocks of ${steps} steps (wasm, Node ${process.versions.node})`)
console.log(`  median step per block, through the engine (ms): ${show(medians.engine)}`)
console.log(`  median step per block, replayed (ms):           ${show(medians.replay)}`)
console.log(`  engine ÷ replay, medians over the blocks: ${(median(medians.engine) / median(medians.replay)).toFixed(3)}×`)
