/** The conformance suite on wasm (with the library's SIMD kernels) against cpu. */
import { conformanceSuite } from './suite.js'

conformanceSuite('wasm')
