/**
 * The kit on the library's real models: tiny Mini-GPT and GPT-2 configs, random-initialised
 * from keys (and GPT-2 also from the gpt2-tiny fixture's weights), pass every invariant.
 * Each suite is one line.
 */
import { describe, it } from 'vitest'
import { initBackend } from '../../src/backend/index.js'
import { key } from '../../src/core/key.js'
import { miniGpt, type MiniGptConfig } from '../../src/models/minigpt/index.js'
import { gpt2, type Gpt2Config } from '../../src/models/gpt2/index.js'
import { causalLmSuite, gpt2UnderTest, miniGptUnderTest } from '../../src/testing/index.js'

// The suites are registered when the file loads and need the parameters then: start the backend first.
await initBackend('cpu')

const mini: MiniGptConfig = { vocab_size: 11, embed_dim: 8, num_heads: 2, num_layers: 2, ff_dim: 16, max_len: 6, dropout: 0.1, pad_idx: 0 }
const g2: Gpt2Config = { vocab_size: 13, n_positions: 10, n_embd: 8, n_layer: 2, n_head: 2, n_inner: null, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5 }

causalLmSuite({ describe, it, model: miniGptUnderTest(mini, miniGpt(mini).init(key(0))) })
causalLmSuite({ describe, it, model: gpt2UnderTest(g2, gpt2(g2).init(key(1))) })
