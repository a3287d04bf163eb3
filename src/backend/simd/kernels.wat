;; minigpt-fp's WebAssembly SIMD kernels for the tfjs wasm backend.
;;
;; The module imports the backend's own memory, so it reads and writes tensors where tfjs-wasm
;; keeps them (by byte offset), with no copy. module.ts instantiates it; attend-one-query.ts,
;; layer-norm.ts, concat-blocks.ts and gather-rows.ts register its exports as tfjs kernels (GELU
;; is train.wat's); scripts/kernels.mjs assembles this file into kernels-wasm.ts (`npm run kernels`).
;; Every pointer is a byte offset of float32 (or int32) data; sizes count elements unless
;; named bytes.
(module
  (import "env" "memory" (memory 1))

  ;; e^x for four lanes, x ≤ 0 (a softmax's x - max). Cephes' expf: x = n·ln2 + r with
  ;; |r| ≤ ln2/2, e^r by its minimax polynomial, 2^n built in the exponent bits. Within 2 ulp
  ;; of e^x; below -87.3 (where e^x < 2^-126) it returns e^-87.3 ≈ 1e-38.
  (func $exp4 (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128)
    (local.set $x (f32x4.max (local.get $x) (f32x4.splat (f32.const -87.3))))
    (local.set $n (f32x4.nearest (f32x4.mul (local.get $x) (f32x4.splat (f32.const 1.44269504089)))))
    ;; r = x - n·ln2, ln2 split in two so that n·ln2_hi is exact
    (local.set $r (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (f32x4.splat (f32.const 0.693359375)))))
    (local.set $r (f32x4.add (local.get $r) (f32x4.mul (local.get $n) (f32x4.splat (f32.const 2.12194440e-4)))))
    (local.set $p (f32x4.splat (f32.const 1.9875691500e-4)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 1.3981999507e-3))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 8.3334519073e-3))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 4.1665795894e-2))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 1.6666665459e-1))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 5.0000001201e-1))))
    ;; p·r² + r + 1
    (local.set $p (f32x4.add
      (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r))
      (f32x4.splat (f32.const 1))))
    (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (i32x4.splat (i32.const 127))) (i32.const 23))))

  ;; The sum of a vector's four lanes.
  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; dst[t] = scale · (q · k[t]) for t < len; q [d], k [len, d], d a multiple of 4. Four
  ;; accumulators over 16 features at a time (one add chain would wait on each add's latency),
  ;; then 4 at a time for the rest.
  (func $scores (param $q i32) (param $k i32) (param $len i32) (param $d i32) (param $scale f32) (param $dst i32)
    (local $t i32) (local $i i32) (local $row i32) (local $bytes i32) (local $wide i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $bytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $wide (i32.and (local.get $bytes) (i32.const -64)))
    (local.set $row (local.get $k))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $t) (local.get $len)))
      (local.set $a0 (v128.const i32x4 0 0 0 0))
      (local.set $a1 (v128.const i32x4 0 0 0 0))
      (local.set $a2 (v128.const i32x4 0 0 0 0))
      (local.set $a3 (v128.const i32x4 0 0 0 0))
      (local.set $i (i32.const 0))
      (block $end16 (loop $dot16
        (br_if $end16 (i32.ge_u (local.get $i) (local.get $wide)))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul
          (v128.load (i32.add (local.get $q) (local.get $i))) (v128.load (i32.add (local.get $row) (local.get $i))))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul
          (v128.load offset=16 (i32.add (local.get $q) (local.get $i))) (v128.load offset=16 (i32.add (local.get $row) (local.get $i))))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul
          (v128.load offset=32 (i32.add (local.get $q) (local.get $i))) (v128.load offset=32 (i32.add (local.get $row) (local.get $i))))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul
          (v128.load offset=48 (i32.add (local.get $q) (local.get $i))) (v128.load offset=48 (i32.add (local.get $row) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 64)))
        (br $dot16)))
      (block $end4 (loop $dot4
        (br_if $end4 (i32.ge_u (local.get $i) (local.get $bytes)))
        (local.set $a0 (f32x4.add (local.get $a0)
          (f32x4.mul (v128.load (i32.add (local.get $q) (local.get $i))) (v128.load (i32.add (local.get $row) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $dot4)))
      (f32.store (i32.add (local.get $dst) (i32.shl (local.get $t) (i32.const 2)))
        (f32.mul (local.get $scale)
          (call $hsum (f32x4.add (f32x4.add (local.get $a0) (local.get $a1)) (f32x4.add (local.get $a2) (local.get $a3))))))
      (local.set $row (i32.add (local.get $row) (local.get $bytes)))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $each))))

  ;; dst[i] += Σ_t w[t] · v[t, i] for i < d, t < len; v [len, d], d a multiple of 4. Sixteen
  ;; features at a time (a cache line of each row per pass), then four.
  (func $accumulate (param $w i32) (param $v i32) (param $len i32) (param $d i32) (param $dst i32)
    (local $t i32) (local $i i32) (local $at i32) (local $bytes i32) (local $wide i32) (local $wt v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $bytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $wide (i32.and (local.get $bytes) (i32.const -64)))
    (block $end16 (loop $cols16
      (br_if $end16 (i32.ge_u (local.get $i) (local.get $wide)))
      (local.set $a0 (v128.load (i32.add (local.get $dst) (local.get $i))))
      (local.set $a1 (v128.load offset=16 (i32.add (local.get $dst) (local.get $i))))
      (local.set $a2 (v128.load offset=32 (i32.add (local.get $dst) (local.get $i))))
      (local.set $a3 (v128.load offset=48 (i32.add (local.get $dst) (local.get $i))))
      (local.set $at (i32.add (local.get $v) (local.get $i)))
      (local.set $t (i32.const 0))
      (block $rowsDone (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $t) (local.get $len)))
        (local.set $wt (v128.load32_splat (i32.add (local.get $w) (i32.shl (local.get $t) (i32.const 2)))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $wt) (v128.load (local.get $at)))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $wt) (v128.load offset=16 (local.get $at)))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $wt) (v128.load offset=32 (local.get $at)))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $wt) (v128.load offset=48 (local.get $at)))))
        (local.set $at (i32.add (local.get $at) (local.get $bytes)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $rows)))
      (v128.store (i32.add (local.get $dst) (local.get $i)) (local.get $a0))
      (v128.store offset=16 (i32.add (local.get $dst) (local.get $i)) (local.get $a1))
      (v128.store offset=32 (i32.add (local.get $dst) (local.get $i)) (local.get $a2))
      (v128.store offset=48 (i32.add (local.get $dst) (local.get $i)) (local.get $a3))
      (local.set $i (i32.add (local.get $i) (i32.const 64)))
      (br $cols16)))
    (block $end4 (loop $cols4
      (br_if $end4 (i32.ge_u (local.get $i) (local.get $bytes)))
      (local.set $a0 (v128.load (i32.add (local.get $dst) (local.get $i))))
      (local.set $at (i32.add (local.get $v) (local.get $i)))
      (local.set $t (i32.const 0))
      (block $rowsDone4 (loop $rows4
        (br_if $rowsDone4 (i32.ge_u (local.get $t) (local.get $len)))
        (local.set $a0 (f32x4.add (local.get $a0)
          (f32x4.mul (v128.load32_splat (i32.add (local.get $w) (i32.shl (local.get $t) (i32.const 2)))) (v128.load (local.get $at)))))
        (local.set $at (i32.add (local.get $at) (local.get $bytes)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $rows4)))
      (v128.store (i32.add (local.get $dst) (local.get $i)) (local.get $a0))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $cols4))))

  ;; Attention of one query position over keys/values in two consecutive parts, for `blocks`
  ;; (batch·head) blocks: out[b] = softmax(scale · q[b]·K[b]ᵀ) · V[b], K[b] and V[b] the
  ;; rows of part 1 [len1, d] then part 2 [len2, d] (len2 may be 0). q, out [blocks, d].
  ;; `scratch` holds len1 + len2 + 4 floats.
  (func (export "attend_one_query")
    (param $q i32) (param $k1 i32) (param $v1 i32) (param $len1 i32)
    (param $k2 i32) (param $v2 i32) (param $len2 i32)
    (param $blocks i32) (param $d i32) (param $scale f32) (param $scratch i32) (param $out i32)
    (local $b i32) (local $total i32) (local $t i32) (local $m f32) (local $z f32) (local $s f32)
    (local $at i32) (local $i i32) (local $qb i32) (local $rowBytes i32) (local $ob i32)
    (local.set $total (i32.add (local.get $len1) (local.get $len2)))
    (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
    (block $blocksDone (loop $eachBlock
      (br_if $blocksDone (i32.ge_u (local.get $b) (local.get $blocks)))
      (local.set $qb (i32.add (local.get $q) (i32.mul (local.get $b) (local.get $rowBytes))))
      (call $scores (local.get $qb) (i32.add (local.get $k1) (i32.mul (i32.mul (local.get $b) (local.get $len1)) (local.get $rowBytes)))
        (local.get $len1) (local.get $d) (local.get $scale) (local.get $scratch))
      (call $scores (local.get $qb) (i32.add (local.get $k2) (i32.mul (i32.mul (local.get $b) (local.get $len2)) (local.get $rowBytes)))
        (local.get $len2) (local.get $d) (local.get $scale) (i32.add (local.get $scratch) (i32.shl (local.get $len1) (i32.const 2))))
      ;; the maximum score
      (local.set $m (f32.load (local.get $scratch)))
      (local.set $t (i32.const 1))
      (block $maxDone (loop $max
        (br_if $maxDone (i32.ge_u (local.get $t) (local.get $total)))
        (local.set $m (f32.max (local.get $m) (f32.load (i32.add (local.get $scratch) (i32.shl (local.get $t) (i32.const 2))))))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $max)))
      ;; e^(s - max), four at a time (the lanes past `total` are scratch, never read back)
      (local.set $at (local.get $scratch))
      (local.set $t (i32.const 0))
      (block $expDone (loop $exp
        (br_if $expDone (i32.ge_u (local.get $t) (local.get $total)))
        (v128.store (local.get $at) (call $exp4 (f32x4.sub (v128.load (local.get $at)) (f32x4.splat (local.get $m)))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (local.set $t (i32.add (local.get $t) (i32.const 4)))
        (br $exp)))
      ;; their sum
      (local.set $z (f32.const 0))
      (local.set $t (i32.const 0))
      (block $sumDone (loop $sum
        (br_if $sumDone (i32.ge_u (local.get $t) (local.get $total)))
        (local.set $z (f32.add (local.get $z) (f32.load (i32.add (local.get $scratch) (i32.shl (local.get $t) (i32.const 2))))))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $sum)))
      (local.set $s (f32.div (f32.const 1) (local.get $z)))
      ;; out[b] = Σ_t w[t] · v[t] / z over both parts
      (local.set $ob (i32.add (local.get $out) (i32.mul (local.get $b) (local.get $rowBytes))))
      (local.set $i (i32.const 0))
      (block $zeroDone (loop $zero
        (br_if $zeroDone (i32.ge_u (local.get $i) (local.get $rowBytes)))
        (v128.store (i32.add (local.get $ob) (local.get $i)) (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $zero)))
      (call $accumulate (local.get $scratch)
        (i32.add (local.get $v1) (i32.mul (i32.mul (local.get $b) (local.get $len1)) (local.get $rowBytes)))
        (local.get $len1) (local.get $d) (local.get $ob))
      (call $accumulate (i32.add (local.get $scratch) (i32.shl (local.get $len1) (i32.const 2)))
        (i32.add (local.get $v2) (i32.mul (i32.mul (local.get $b) (local.get $len2)) (local.get $rowBytes)))
        (local.get $len2) (local.get $d) (local.get $ob))
      (local.set $i (i32.const 0))
      (block $scaleDone (loop $scale
        (br_if $scaleDone (i32.ge_u (local.get $i) (local.get $rowBytes)))
        (v128.store (i32.add (local.get $ob) (local.get $i))
          (f32x4.mul (v128.load (i32.add (local.get $ob) (local.get $i))) (f32x4.splat (local.get $s))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $scale)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $eachBlock))))

  ;; Joins two tensors [blocks, len1, ...] and [blocks, len2, ...] along their second axis:
  ;; per block, `bytes1` bytes of a then `bytes2` of b (a cache and its new positions).
  (func (export "concat_blocks") (param $a i32) (param $bytes1 i32) (param $b i32) (param $bytes2 i32) (param $blocks i32) (param $out i32)
    (local $i i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $blocks)))
      (memory.copy (local.get $out) (local.get $a) (local.get $bytes1))
      (memory.copy (i32.add (local.get $out) (local.get $bytes1)) (local.get $b) (local.get $bytes2))
      (local.set $a (i32.add (local.get $a) (local.get $bytes1)))
      (local.set $b (i32.add (local.get $b) (local.get $bytes2)))
      (local.set $out (i32.add (local.get $out) (i32.add (local.get $bytes1) (local.get $bytes2))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each))))

  ;; LayerNorm of `rows` rows of d features (d a multiple of 4), PyTorch's: the mean and the
  ;; biased variance of each row, out = (x - mean)/√(var + eps)·w + b with w, b [d].
  (func (export "layer_norm") (param $x i32) (param $rows i32) (param $d i32) (param $w i32) (param $b i32) (param $eps f32) (param $out i32)
    (local $r i32) (local $i i32) (local $bytes i32) (local $acc v128) (local $c v128) (local $mean v128) (local $inv v128)
    (local.set $bytes (i32.shl (local.get $d) (i32.const 2)))
    (block $rowsDone (loop $eachRow
      (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
      ;; the mean
      (local.set $acc (v128.const i32x4 0 0 0 0))
      (local.set $i (i32.const 0))
      (block $sumDone (loop $sum
        (br_if $sumDone (i32.ge_u (local.get $i) (local.get $bytes)))
        (local.set $acc (f32x4.add (local.get $acc) (v128.load (i32.add (local.get $x) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $sum)))
      (local.set $mean (f32x4.splat (f32.div (call $hsum (local.get $acc)) (f32.convert_i32_u (local.get $d)))))
      ;; the biased variance
      (local.set $acc (v128.const i32x4 0 0 0 0))
      (local.set $i (i32.const 0))
      (block $varDone (loop $var
        (br_if $varDone (i32.ge_u (local.get $i) (local.get $bytes)))
        (local.set $c (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $i))) (local.get $mean)))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $c) (local.get $c))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $var)))
      (local.set $inv (f32x4.splat (f32.div (f32.const 1)
        (f32.sqrt (f32.add (f32.div (call $hsum (local.get $acc)) (f32.convert_i32_u (local.get $d))) (local.get $eps))))))
      ;; normalise, scale, shift
      (local.set $i (i32.const 0))
      (block $normDone (loop $norm
        (br_if $normDone (i32.ge_u (local.get $i) (local.get $bytes)))
        (v128.store (i32.add (local.get $out) (local.get $i))
          (f32x4.add
            (f32x4.mul
              (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $i))) (local.get $mean)) (local.get $inv))
              (v128.load (i32.add (local.get $w) (local.get $i))))
            (v128.load (i32.add (local.get $b) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $norm)))
      (local.set $x (i32.add (local.get $x) (local.get $bytes)))
      (local.set $out (i32.add (local.get $out) (local.get $bytes)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $eachRow))))

  ;; out[j] = src[rows[j]] for j < n, rows of `rowBytes` bytes; rows int32, already checked.
  (func (export "gather_rows") (param $src i32) (param $rowBytes i32) (param $rows i32) (param $n i32) (param $out i32)
    (local $j i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $j) (local.get $n)))
      (memory.copy (local.get $out)
        (i32.add (local.get $src) (i32.mul (i32.load (i32.add (local.get $rows) (i32.shl (local.get $j) (i32.const 2)))) (local.get $rowBytes)))
        (local.get $rowBytes))
      (local.set $out (i32.add (local.get $out) (local.get $rowBytes)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $each))))
)
