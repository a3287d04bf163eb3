/**
 * Weight quantization: int8 per output channel and 4-bit blocks (GGML's q4_0), matrices that
 * stay quantized on the backend with SIMD kernels that dequantize as they multiply, and the
 * quantizing of any model's parameter tree by the roles its layers declare (the layers of nn/
 * read a quantized matrix where a float one goes). docs/quantization.md teaches it.
 */
export * from './quantize.js'
export * from './matrix.js'
export * from './tree.js'
