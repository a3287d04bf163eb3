// Seed notebook §3: the names, the character vocabulary, encoding and batching.
//   npm run build && node examples/02-dataset.mjs [names.txt]   (default: the embedded corpus)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { data, viz } from 'minigpt-fp'

const file = process.argv[2]
const names = file ? data.parseNames(readFileSync(file, 'utf8')) : data.defaultNames()
console.log(
  `${names.length} names${file ? ` from ${file}` : ' (embedded corpus, @faker-js/faker first names)'}; every 500th:`,
  names
    .filter((_, i) => i % 500 === 0)
    .slice(0, 10)
    .join(', '),
)

const vocab = data.buildVocab(names)
console.log(`vocabulary: ${vocab.tokens.length} tokens =`, vocab.tokens.slice(0, 12).join(' '), '…')

const lengths = names.map((n) => data.chars(n).length)
console.log(`lengths: min ${Math.min(...lengths)}, max ${Math.max(...lengths)}, mean ${(lengths.reduce((a, b) => a + b) / lengths.length).toFixed(1)}`)

// SOS + name + EOS, inputs and targets shifted by one (the seed pads to 27; batches here pad
// to their own longest example, which the causal mask makes exact).
const ex = data.encodeExample(vocab, names[0], 25)
console.log(`\n"${names[0]}" → input ${JSON.stringify(ex.input)}\n${' '.repeat(names[0].length + 5)}target ${JSON.stringify(ex.target)}`)
console.log('decoded back:', data.decodeIds(vocab, ex.target))
const b = data.padBatch(
  names.slice(0, 4).map((n) => data.encodeExample(vocab, n, 25)),
  vocab.pad,
)
console.log(`a batch of 4: [${b.size}, ${b.length}] padded to its longest, ${b.tokens} predicted tokens`)

mkdirSync('out', { recursive: true })
writeFileSync('out/name-lengths.svg', viz.histogram(lengths, { binWidth: 1, title: 'Name lengths', xLabel: 'characters', yLabel: 'names' }))
console.log('histogram written to out/name-lengths.svg')
