/**
 * Weight quantization: int8 per output channel and 4-bit blocks (GGML's q4_0), matrices that
 * stay quantized on the backend with SIMD kernels that dequantize as they multiply, and GPT-2
 * with quantized weights for generation. docs/quantization.md teaches it.
 */
export * from './quantize.js'
export * from './matrix.js'
export * from './gpt2.js'
export * from './decoder.js'
export * from './minigpt.js'
