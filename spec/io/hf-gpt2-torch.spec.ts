/**
 * A folder written by saveGpt2Folder, loaded by the PyTorch reference's strict loader
 * (bench/pytorch/gpt2_ref.py `load_hf_state`, safetensors_io.py, gpt2_tokenizer.py) under
 * `/usr/bin/python3`: the same logits, the same causal-LM loss and gradients, the same token
 * ids. Skipped, saying why, where that interpreter has no torch.
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { valueAndGrad } from '../../src/core/grad.js'
import { key } from '../../src/core/key.js'
import { EVAL } from '../../src/core/layer.js'
import * as tree from '../../src/core/tree.js'
import { loadGpt2Folder, saveGpt2Folder } from '../../src/io/hf-gpt2.js'
import type { Gpt2Config } from '../../src/models/gpt2/config.js'
import { gpt2, type Gpt2Params } from '../../src/models/gpt2/model.js'
import { gpt2LmLoss, lmBatch } from '../../src/models/gpt2/task.js'

const PYTHON = '/usr/bin/python3'

const torchVersion = ((): string | undefined => {
  try {
    return execFileSync(PYTHON, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return undefined
  }
})()

// Loads the folder strictly, runs the reference forward/backward in eval mode, tokenizes.
const SCRIPT = `
import json, sys
sys.path.insert(0, 'bench/pytorch')
import torch
from gpt2_ref import GPT2Config, GPT2LMHeadModel, load_hf_state, lm_loss
from gpt2_tokenizer import GPT2Tokenizer
from safetensors_io import load_file
d, req = sys.argv[1], json.loads(sys.argv[2])
cfg = GPT2Config.from_dict(json.load(open(d + '/config.json')))
tensors, meta = load_file(d + '/model.safetensors')
model = load_hf_state(GPT2LMHeadModel(cfg), tensors).eval()
ids = torch.tensor(req['ids'])
logits, _ = model(ids)
loss = lm_loss(logits, ids)
loss.backward()
tok = GPT2Tokenizer.from_files(d + '/vocab.json', d + '/merges.txt')
print(json.dumps({
  'metadata': meta,
  'logits': logits.tolist(),
  'loss': loss.item(),
  'grads': {n[len('transformer.'):]: p.grad.flatten()[:64].tolist() for n, p in model.named_parameters()},
  'ids': [tok.encode(t) for t in req['texts']],
}))
`

interface Reference {
  readonly metadata: Record<string, string>
  readonly logits: number[][][]
  readonly loss: number
  readonly grads: Record<string, number[]>
  readonly ids: number[][]
}

const reference = (dir: string, ids: number[][], texts: string[]): Reference =>
  JSON.parse(execFileSync(PYTHON, ['-c', SCRIPT, dir, JSON.stringify({ ids, texts })], { encoding: 'utf8', maxBuffer: 64 << 20 })) as Reference

const TEXTS = ["The wizard named Gandalf didn't stop.", 'Éowyn  and 中文 🐉', '']

describe.skipIf(torchVersion === undefined)(
  torchVersion === undefined
    ? `SKIPPED: ${PYTHON} cannot import torch and numpy (apt-get install python3-torch)`
    : `saved folders load in the PyTorch reference (torch ${torchVersion})`,
  () => {
    let tmp = ''
    beforeAll(async () => {
      await initBackend('cpu')
      tmp = await mkdtemp(join(tmpdir(), 'minigpt-gpt2-torch-'))
    })
    afterAll(async () => {
      await rm(tmp, { recursive: true, force: true })
    })

    const check = async (dir: string, config: Gpt2Config, params: Gpt2Params, texts: string[], encode: (s: string) => number[]) => {
      const ids = [
        [5, 17, 200, 3, 9, 9, 40, 336, 1, 2, 250, 99],
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      ]
      const ref = reference(dir, ids, texts)
      expect(ref.metadata).toEqual({ format: 'pt' })
      const ours = tf.tidy(() =>
        gpt2(config)
          .apply(params, { ids: tf.tensor2d(ids, [2, 12], 'int32') }, EVAL)
          .logits.arraySync(),
      )
      let worst = 0
      ours.forEach((m, b) =>
        m.forEach((row, t) =>
          row.forEach((v, j) => {
            worst = Math.max(worst, Math.abs(v - ref.logits[b][t][j]))
          }),
        ),
      )
      expect(worst).toBeLessThan(1e-4)
      const { value, grads } = valueAndGrad((p: Gpt2Params) => gpt2LmLoss(config)(p, lmBatch(ids), EVAL))(params)
      expect(Math.abs(value.dataSync()[0] - ref.loss)).toBeLessThan(1e-5)
      const flat = tree.flatten(grads)
      expect([...flat.keys()].sort()).toEqual(Object.keys(ref.grads).sort())
      for (const [name, g] of flat) {
        const head = Array.from(g.dataSync().subarray(0, 64))
        const scale = Math.max(1e-3, ...ref.grads[name].map(Math.abs))
        head.forEach((v, i) => expect(Math.abs(v - ref.grads[name][i]) / scale, name).toBeLessThan(1e-3))
      }
      tf.dispose([value, ...tree.leaves(grads)])
      expect(ref.ids).toEqual(texts.map(encode))
    }

    it('a fixture loaded from F16 and saved as F32', async () => {
      const r = await loadGpt2Folder(join('spec', 'fixtures', 'gpt2-tiny-f16'))()
      if (E.isLeft(r)) throw new Error(r.left.message)
      const dir = join(tmp, 'f16')
      const saved = await saveGpt2Folder(dir, r.right.config, r.right.params, r.right.tokenizer)()
      if (E.isLeft(saved)) throw new Error(saved.left.message)
      await check(dir, r.right.config, r.right.params, TEXTS, (s) => r.right.tokenizer.encode(s))
      tree.dispose(r.right.params)
    })

    it('a freshly initialised model with n_inner and its own config', async () => {
      const r = await loadGpt2Folder(join('spec', 'fixtures', 'gpt2-tiny'))()
      if (E.isLeft(r)) throw new Error(r.left.message)
      tree.dispose(r.right.params)
      const config: Gpt2Config = { ...r.right.config, n_embd: 24, n_head: 3, n_layer: 3, n_inner: 40, n_positions: 16, layer_norm_epsilon: 1e-4 }
      const params = gpt2(config).init(key(11))
      const dir = join(tmp, 'fresh')
      const saved = await saveGpt2Folder(dir, config, params, r.right.tokenizer)()
      if (E.isLeft(saved)) throw new Error(saved.left.message)
      await check(dir, config, params, TEXTS, (s) => r.right.tokenizer.encode(s))
      tree.dispose(params)
    })
  },
)
