// Seed notebook §6–7: autoregressive generation with a prompt and a temperature.
//   npm run build && node examples/05-generation.mjs [checkpoint=minigpt-demo]   (run `npm run demo` first)
import { initBackend, key, io, sample } from 'minigpt-fp'

await initBackend('wasm')
const dir = process.argv[2] ?? 'minigpt-demo'
const loaded = await io.loadMiniGpt(dir)()
if (loaded._tag === 'Left') {
  console.error(loaded.left.message, '— run `npm run demo` first, or pass a checkpoint folder')
  process.exit(1)
}
const { config, vocab, params } = loaded.right
const model = sample.miniGptDecoder(config, params) // incremental decoding with a key/value cache

const names = async (n, prompt, temperature, seed) => {
  const r = await sample.generateNames(model, vocab, { count: n, prompt, options: { temperature } }, key(seed))
  if (r._tag === 'Left') throw new Error(r.left)
  return r.right.map((x) => x.text).join(', ')
}
console.log('no prompt, T = 1.0:  ', await names(10, '', 1.0, 1))
console.log('prompt "Gwen":       ', await names(5, 'Gwen', 1.0, 2))
console.log('prompt "Mael":       ', await names(5, 'Mael', 1.0, 3))
const [first, again] = [await names(3, '', 1, 7), await names(3, '', 1, 7)]
console.log('\nthe same key gives the same names:', first === again)
for (const t of [0.3, 0.7, 1.0, 1.5, 2.0]) console.log(`T = ${t.toFixed(1)}:`.padEnd(10), await names(6, '', t, 10))
const bad = await sample.generateNames(model, vocab, { count: 1, options: { temperature: 0 } }, key(0))
console.log('\ntemperature 0 is refused:', bad.left)
