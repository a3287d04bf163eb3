;; minigpt-fp's WebAssembly SIMD kernels for the tfjs wasm backend.
;;
;; The module imports the backend's own memory, so it reads and writes tensors where tfjs-wasm
;; keeps them (by byte offset), with no copy. module.ts instantiates it; attend.ts, gelu-tanh.ts,
;; layer-norm.ts, cache-blocks.ts, gather-rows.ts, transpose.ts, softmax-xent.ts and add.ts register its
;; exports as tfjs kernels (the exact GELU is train.wat's); scripts/kernels.mjs assembles this
;; file into kernels-wasm.ts (`npm run kernels`). Every pointer is a byte offset of float32
;; (or int32) data; sizes count elements unless named bytes.
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

  ;; dst[t] = scale · (q · k[t]) for t < len; q [d], k [len, d], d a multiple of 4. One key at
  ;; a time, sixteen features a pass into four accumulators (then four at a time): the keys are
  ;; read in memory order. (Four keys side by side, one load of q for the four, read K as four
  ;; interleaved streams 4·d floats apart: 1.2-1.7× slower from memory on this machine's CPU.)
  ;; A decoding step's query meets every cached key once: this is its hot loop.
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
      (block $wideDone (loop $sixteen
        (br_if $wideDone (i32.ge_u (local.get $i) (local.get $wide)))
        (local.set $a0 (f32x4.add (local.get $a0)
          (f32x4.mul (v128.load (i32.add (local.get $q) (local.get $i))) (v128.load (i32.add (local.get $row) (local.get $i))))))
        (local.set $a1 (f32x4.add (local.get $a1)
          (f32x4.mul (v128.load offset=16 (i32.add (local.get $q) (local.get $i))) (v128.load offset=16 (i32.add (local.get $row) (local.get $i))))))
        (local.set $a2 (f32x4.add (local.get $a2)
          (f32x4.mul (v128.load offset=32 (i32.add (local.get $q) (local.get $i))) (v128.load offset=32 (i32.add (local.get $row) (local.get $i))))))
        (local.set $a3 (f32x4.add (local.get $a3)
          (f32x4.mul (v128.load offset=48 (i32.add (local.get $q) (local.get $i))) (v128.load offset=48 (i32.add (local.get $row) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 64)))
        (br $sixteen)))
      (block $fourDone (loop $four
        (br_if $fourDone (i32.ge_u (local.get $i) (local.get $bytes)))
        (local.set $a0 (f32x4.add (local.get $a0)
          (f32x4.mul (v128.load (i32.add (local.get $q) (local.get $i))) (v128.load (i32.add (local.get $row) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $four)))
      ;; $hsum written out (a call a key cost more than the key's products)
      (local.set $a0 (f32x4.add (f32x4.add (local.get $a0) (local.get $a1)) (f32x4.add (local.get $a2) (local.get $a3))))
      (f32.store (i32.add (local.get $dst) (i32.shl (local.get $t) (i32.const 2)))
        (f32.mul (local.get $scale)
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
            (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0))))))
      (local.set $row (i32.add (local.get $row) (local.get $bytes)))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $each))))

  ;; dst[i] += Σ_t w[t] · v[t, i] for i < d, t < len; v [len, d], d a multiple of 4. Sixty-four
  ;; features at a time (sixteen accumulators: a row of GPT-2's heads, d = 64, read whole in one
  ;; pass over V, in memory order), then thirty-two (eight accumulators), then four. Each lane
  ;; adds its rows in the order t = 0, 1, … whatever the width: the same sums, bit for bit.
  (func $accumulate (param $w i32) (param $v i32) (param $len i32) (param $d i32) (param $dst i32)
    (local $t i32) (local $i i32) (local $at i32) (local $bytes i32) (local $wide i32) (local $widest i32) (local $wt v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $b4 v128) (local $b5 v128) (local $b6 v128) (local $b7 v128)
    (local.set $bytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $widest (i32.and (local.get $bytes) (i32.const -256)))
    (local.set $wide (i32.and (local.get $bytes) (i32.const -128)))
    (block $end64 (loop $cols64
      (br_if $end64 (i32.ge_u (local.get $i) (local.get $widest)))
      (local.set $a0 (v128.load offset=0 (i32.add (local.get $dst) (local.get $i))))
      (local.set $a1 (v128.load offset=16 (i32.add (local.get $dst) (local.get $i))))
      (local.set $a2 (v128.load offset=32 (i32.add (local.get $dst) (local.get $i))))
      (local.set $a3 (v128.load offset=48 (i32.add (local.get $dst) (local.get $i))))
      (local.set $a4 (v128.load offset=64 (i32.add (local.get $dst) (local.get $i))))
      (local.set $a5 (v128.load offset=80 (i32.add (local.get $dst) (local.get $i))))
      (local.set $a6 (v128.load offset=96 (i32.add (local.get $dst) (local.get $i))))
      (local.set $a7 (v128.load offset=112 (i32.add (local.get $dst) (local.get $i))))
      (local.set $b0 (v128.load offset=128 (i32.add (local.get $dst) (local.get $i))))
      (local.set $b1 (v128.load offset=144 (i32.add (local.get $dst) (local.get $i))))
      (local.set $b2 (v128.load offset=160 (i32.add (local.get $dst) (local.get $i))))
      (local.set $b3 (v128.load offset=176 (i32.add (local.get $dst) (local.get $i))))
      (local.set $b4 (v128.load offset=192 (i32.add (local.get $dst) (local.get $i))))
      (local.set $b5 (v128.load offset=208 (i32.add (local.get $dst) (local.get $i))))
      (local.set $b6 (v128.load offset=224 (i32.add (local.get $dst) (local.get $i))))
      (local.set $b7 (v128.load offset=240 (i32.add (local.get $dst) (local.get $i))))
      (local.set $at (i32.add (local.get $v) (local.get $i)))
      (local.set $t (i32.const 0))
      (block $rowsDone64 (loop $rows64
        (br_if $rowsDone64 (i32.ge_u (local.get $t) (local.get $len)))
        (local.set $wt (v128.load32_splat (i32.add (local.get $w) (i32.shl (local.get $t) (i32.const 2)))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $wt) (v128.load offset=0 (local.get $at)))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $wt) (v128.load offset=16 (local.get $at)))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $wt) (v128.load offset=32 (local.get $at)))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $wt) (v128.load offset=48 (local.get $at)))))
        (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $wt) (v128.load offset=64 (local.get $at)))))
        (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $wt) (v128.load offset=80 (local.get $at)))))
        (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $wt) (v128.load offset=96 (local.get $at)))))
        (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $wt) (v128.load offset=112 (local.get $at)))))
        (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $wt) (v128.load offset=128 (local.get $at)))))
        (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $wt) (v128.load offset=144 (local.get $at)))))
        (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $wt) (v128.load offset=160 (local.get $at)))))
        (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $wt) (v128.load offset=176 (local.get $at)))))
        (local.set $b4 (f32x4.add (local.get $b4) (f32x4.mul (local.get $wt) (v128.load offset=192 (local.get $at)))))
        (local.set $b5 (f32x4.add (local.get $b5) (f32x4.mul (local.get $wt) (v128.load offset=208 (local.get $at)))))
        (local.set $b6 (f32x4.add (local.get $b6) (f32x4.mul (local.get $wt) (v128.load offset=224 (local.get $at)))))
        (local.set $b7 (f32x4.add (local.get $b7) (f32x4.mul (local.get $wt) (v128.load offset=240 (local.get $at)))))
        (local.set $at (i32.add (local.get $at) (local.get $bytes)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $rows64)))
      (v128.store offset=0 (i32.add (local.get $dst) (local.get $i)) (local.get $a0))
      (v128.store offset=16 (i32.add (local.get $dst) (local.get $i)) (local.get $a1))
      (v128.store offset=32 (i32.add (local.get $dst) (local.get $i)) (local.get $a2))
      (v128.store offset=48 (i32.add (local.get $dst) (local.get $i)) (local.get $a3))
      (v128.store offset=64 (i32.add (local.get $dst) (local.get $i)) (local.get $a4))
      (v128.store offset=80 (i32.add (local.get $dst) (local.get $i)) (local.get $a5))
      (v128.store offset=96 (i32.add (local.get $dst) (local.get $i)) (local.get $a6))
      (v128.store offset=112 (i32.add (local.get $dst) (local.get $i)) (local.get $a7))
      (v128.store offset=128 (i32.add (local.get $dst) (local.get $i)) (local.get $b0))
      (v128.store offset=144 (i32.add (local.get $dst) (local.get $i)) (local.get $b1))
      (v128.store offset=160 (i32.add (local.get $dst) (local.get $i)) (local.get $b2))
      (v128.store offset=176 (i32.add (local.get $dst) (local.get $i)) (local.get $b3))
      (v128.store offset=192 (i32.add (local.get $dst) (local.get $i)) (local.get $b4))
      (v128.store offset=208 (i32.add (local.get $dst) (local.get $i)) (local.get $b5))
      (v128.store offset=224 (i32.add (local.get $dst) (local.get $i)) (local.get $b6))
      (v128.store offset=240 (i32.add (local.get $dst) (local.get $i)) (local.get $b7))
      (local.set $i (i32.add (local.get $i) (i32.const 256)))
      (br $cols64)))
    (block $end32 (loop $cols32
      (br_if $end32 (i32.ge_u (local.get $i) (local.get $wide)))
      (local.set $a0 (v128.load (i32.add (local.get $dst) (local.get $i))))
      (local.set $a1 (v128.load offset=16 (i32.add (local.get $dst) (local.get $i))))
      (local.set $a2 (v128.load offset=32 (i32.add (local.get $dst) (local.get $i))))
      (local.set $a3 (v128.load offset=48 (i32.add (local.get $dst) (local.get $i))))
      (local.set $a4 (v128.load offset=64 (i32.add (local.get $dst) (local.get $i))))
      (local.set $a5 (v128.load offset=80 (i32.add (local.get $dst) (local.get $i))))
      (local.set $a6 (v128.load offset=96 (i32.add (local.get $dst) (local.get $i))))
      (local.set $a7 (v128.load offset=112 (i32.add (local.get $dst) (local.get $i))))
      (local.set $at (i32.add (local.get $v) (local.get $i)))
      (local.set $t (i32.const 0))
      (block $rowsDone (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $t) (local.get $len)))
        (local.set $wt (v128.load32_splat (i32.add (local.get $w) (i32.shl (local.get $t) (i32.const 2)))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $wt) (v128.load (local.get $at)))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $wt) (v128.load offset=16 (local.get $at)))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $wt) (v128.load offset=32 (local.get $at)))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $wt) (v128.load offset=48 (local.get $at)))))
        (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $wt) (v128.load offset=64 (local.get $at)))))
        (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $wt) (v128.load offset=80 (local.get $at)))))
        (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $wt) (v128.load offset=96 (local.get $at)))))
        (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $wt) (v128.load offset=112 (local.get $at)))))
        (local.set $at (i32.add (local.get $at) (local.get $bytes)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $rows)))
      (v128.store (i32.add (local.get $dst) (local.get $i)) (local.get $a0))
      (v128.store offset=16 (i32.add (local.get $dst) (local.get $i)) (local.get $a1))
      (v128.store offset=32 (i32.add (local.get $dst) (local.get $i)) (local.get $a2))
      (v128.store offset=48 (i32.add (local.get $dst) (local.get $i)) (local.get $a3))
      (v128.store offset=64 (i32.add (local.get $dst) (local.get $i)) (local.get $a4))
      (v128.store offset=80 (i32.add (local.get $dst) (local.get $i)) (local.get $a5))
      (v128.store offset=96 (i32.add (local.get $dst) (local.get $i)) (local.get $a6))
      (v128.store offset=112 (i32.add (local.get $dst) (local.get $i)) (local.get $a7))
      (local.set $i (i32.add (local.get $i) (i32.const 128)))
      (br $cols32)))
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

  ;; The softmax of a row of n scores x, in place but for its normalisation: x[t] becomes
  ;; e^(x[t] - max) and the function returns 1 / Σ_t e^(x[t] - max). x has room for n + 4 floats.
  (func $softmax_row (param $x i32) (param $n i32) (result f32)
    (local $t i32) (local $m f32) (local $z f32) (local $at i32) (local $m4 v128) (local $z4 v128)
    ;; the maximum score: four lanes at a time, then the rest
    (local.set $m4 (v128.load32_splat (local.get $x)))
    (block $max4Done (loop $max4
      (br_if $max4Done (i32.gt_u (i32.add (local.get $t) (i32.const 4)) (local.get $n)))
      (local.set $m4 (f32x4.max (local.get $m4) (v128.load (i32.add (local.get $x) (i32.shl (local.get $t) (i32.const 2))))))
      (local.set $t (i32.add (local.get $t) (i32.const 4)))
      (br $max4)))
    (local.set $m (f32.max
      (f32.max (f32x4.extract_lane 0 (local.get $m4)) (f32x4.extract_lane 1 (local.get $m4)))
      (f32.max (f32x4.extract_lane 2 (local.get $m4)) (f32x4.extract_lane 3 (local.get $m4)))))
    (block $maxDone (loop $max
      (br_if $maxDone (i32.ge_u (local.get $t) (local.get $n)))
      (local.set $m (f32.max (local.get $m) (f32.load (i32.add (local.get $x) (i32.shl (local.get $t) (i32.const 2))))))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $max)))
    ;; e^(s - max), four at a time (the lanes past n are scratch, never read back)
    (local.set $at (local.get $x))
    (local.set $t (i32.const 0))
    (block $expDone (loop $exp
      (br_if $expDone (i32.ge_u (local.get $t) (local.get $n)))
      (v128.store (local.get $at) (call $exp4 (f32x4.sub (v128.load (local.get $at)) (f32x4.splat (local.get $m)))))
      (local.set $at (i32.add (local.get $at) (i32.const 16)))
      (local.set $t (i32.add (local.get $t) (i32.const 4)))
      (br $exp)))
    ;; their sum: four lanes at a time, then the rest
    (local.set $z4 (v128.const i32x4 0 0 0 0))
    (local.set $t (i32.const 0))
    (block $sum4Done (loop $sum4
      (br_if $sum4Done (i32.gt_u (i32.add (local.get $t) (i32.const 4)) (local.get $n)))
      (local.set $z4 (f32x4.add (local.get $z4) (v128.load (i32.add (local.get $x) (i32.shl (local.get $t) (i32.const 2))))))
      (local.set $t (i32.add (local.get $t) (i32.const 4)))
      (br $sum4)))
    (local.set $z (call $hsum (local.get $z4)))
    (block $sumDone (loop $sum
      (br_if $sumDone (i32.ge_u (local.get $t) (local.get $n)))
      (local.set $z (f32.add (local.get $z) (f32.load (i32.add (local.get $x) (i32.shl (local.get $t) (i32.const 2))))))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $sum)))
    (f32.div (f32.const 1) (local.get $z)))

  ;; Zeros the `bytes` bytes (a multiple of 16) at o.
  (func $zero (param $o i32) (param $bytes i32)
    (local $i i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $bytes)))
      (v128.store (i32.add (local.get $o) (local.get $i)) (v128.const i32x4 0 0 0 0))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $each))))

  ;; Attention of one query row over the first n rows of K and V ([n, d] each, rows d floats
  ;; apart): o = softmax(scale · q·Kᵀ)·V. `scratch` holds n + 4 floats.
  (func $attend_row (param $q i32) (param $k i32) (param $v i32) (param $n i32) (param $d i32) (param $scale f32) (param $scratch i32) (param $o i32)
    (local $s f32) (local $i i32) (local $rowBytes i32)
    (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
    (call $scores (local.get $q) (local.get $k) (local.get $n) (local.get $d) (local.get $scale) (local.get $scratch))
    (local.set $s (call $softmax_row (local.get $scratch) (local.get $n)))
    ;; o = Σ_t w[t] · v[t] / z
    (call $zero (local.get $o) (local.get $rowBytes))
    (call $accumulate (local.get $scratch) (local.get $v) (local.get $n) (local.get $d) (local.get $o))
    (block $scaleDone (loop $scaleLoop
      (br_if $scaleDone (i32.ge_u (local.get $i) (local.get $rowBytes)))
      (v128.store (i32.add (local.get $o) (local.get $i))
        (f32x4.mul (v128.load (i32.add (local.get $o) (local.get $i))) (f32x4.splat (local.get $s))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $scaleLoop))))

  ;; A bfloat16 cache (a key/value cache's compact form, nn/kv-cache.ts): each feature the top
  ;; half of its float32, two to a 32-bit word, in order (feature 2j in the low half of word
  ;; j). A word shifted left 16 is feature 2j as a float32; the word with its low half cleared
  ;; is feature 2j + 1. So eight features loaded as one vector widen in two operations, into
  ;; their even features (0, 2, 4, 6) and their odd ones (1, 3, 5, 7): the kernels below keep a
  ;; query and an output row in that order, eight features at a time (evens, then odds), and
  ;; put them back in order once a row. The widening costs two operations per eight features
  ;; where a load of float32 cost none; it pays where attention waits on memory (hundreds of
  ;; positions): half the bytes read.

  ;; dst[t] = scale · (q · k[t]) for t < len: q [d] float32 in the split order (evens, odds:
  ;; eight features at a time), k [len, d] bfloat16, d a multiple of 8. Sixteen features a pass
  ;; into four accumulators, then eight.
  (func $scores_bf16 (param $q i32) (param $k i32) (param $len i32) (param $d i32) (param $scale f32) (param $dst i32)
    (local $t i32) (local $i i32) (local $qi i32) (local $row i32) (local $bytes i32) (local $wide i32) (local $h v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $bytes (i32.shl (local.get $d) (i32.const 1)))
    (local.set $wide (i32.and (local.get $bytes) (i32.const -32)))
    (local.set $row (local.get $k))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $t) (local.get $len)))
      (local.set $a0 (v128.const i32x4 0 0 0 0))
      (local.set $a1 (v128.const i32x4 0 0 0 0))
      (local.set $a2 (v128.const i32x4 0 0 0 0))
      (local.set $a3 (v128.const i32x4 0 0 0 0))
      (local.set $i (i32.const 0))
      (block $wideDone (loop $sixteen
        (br_if $wideDone (i32.ge_u (local.get $i) (local.get $wide)))
        (local.set $qi (i32.add (local.get $q) (i32.shl (local.get $i) (i32.const 1))))
        (local.set $h (v128.load (i32.add (local.get $row) (local.get $i))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $qi)) (i32x4.shl (local.get $h) (i32.const 16)))))
        (local.set $a1 (f32x4.add (local.get $a1)
          (f32x4.mul (v128.load offset=16 (local.get $qi)) (v128.and (local.get $h) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))))
        (local.set $h (v128.load offset=16 (i32.add (local.get $row) (local.get $i))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load offset=32 (local.get $qi)) (i32x4.shl (local.get $h) (i32.const 16)))))
        (local.set $a3 (f32x4.add (local.get $a3)
          (f32x4.mul (v128.load offset=48 (local.get $qi)) (v128.and (local.get $h) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $sixteen)))
      ;; eight last features (d ≡ 8 mod 16)
      (if (i32.lt_u (local.get $i) (local.get $bytes)) (then
        (local.set $qi (i32.add (local.get $q) (i32.shl (local.get $i) (i32.const 1))))
        (local.set $h (v128.load (i32.add (local.get $row) (local.get $i))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $qi)) (i32x4.shl (local.get $h) (i32.const 16)))))
        (local.set $a1 (f32x4.add (local.get $a1)
          (f32x4.mul (v128.load offset=16 (local.get $qi)) (v128.and (local.get $h) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))))))
      (f32.store (i32.add (local.get $dst) (i32.shl (local.get $t) (i32.const 2)))
        (f32.mul (local.get $scale) (call $hsum (f32x4.add (f32x4.add (local.get $a0) (local.get $a1)) (f32x4.add (local.get $a2) (local.get $a3))))))
      (local.set $row (i32.add (local.get $row) (local.get $bytes)))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $each))))

  ;; dst[i] += Σ_t w[t] · v[t, i] for i < d, t < len: v [len, d] bfloat16, dst [d] float32 in
  ;; the split order (evens, odds: eight features at a time), d a multiple of 8. Sixty-four
  ;; features at a time (sixteen accumulators: a row of GPT-2's heads, read whole in one pass
  ;; over V, in memory order), then eight.
  (func $accumulate_bf16 (param $w i32) (param $v i32) (param $len i32) (param $d i32) (param $dst i32)
    (local $t i32) (local $i i32) (local $o i32) (local $at i32) (local $bytes i32) (local $widest i32) (local $wt v128) (local $h v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $b4 v128) (local $b5 v128) (local $b6 v128) (local $b7 v128)
    (local.set $bytes (i32.shl (local.get $d) (i32.const 1)))
    (local.set $widest (i32.and (local.get $bytes) (i32.const -128)))
    (block $end64 (loop $cols64
      (br_if $end64 (i32.ge_u (local.get $i) (local.get $widest)))
      (local.set $o (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 1))))
      (local.set $a0 (v128.load offset=0 (local.get $o)))
      (local.set $a1 (v128.load offset=16 (local.get $o)))
      (local.set $a2 (v128.load offset=32 (local.get $o)))
      (local.set $a3 (v128.load offset=48 (local.get $o)))
      (local.set $a4 (v128.load offset=64 (local.get $o)))
      (local.set $a5 (v128.load offset=80 (local.get $o)))
      (local.set $a6 (v128.load offset=96 (local.get $o)))
      (local.set $a7 (v128.load offset=112 (local.get $o)))
      (local.set $b0 (v128.load offset=128 (local.get $o)))
      (local.set $b1 (v128.load offset=144 (local.get $o)))
      (local.set $b2 (v128.load offset=160 (local.get $o)))
      (local.set $b3 (v128.load offset=176 (local.get $o)))
      (local.set $b4 (v128.load offset=192 (local.get $o)))
      (local.set $b5 (v128.load offset=208 (local.get $o)))
      (local.set $b6 (v128.load offset=224 (local.get $o)))
      (local.set $b7 (v128.load offset=240 (local.get $o)))
      (local.set $at (i32.add (local.get $v) (local.get $i)))
      (local.set $t (i32.const 0))
      (block $rowsDone64 (loop $rows64
        (br_if $rowsDone64 (i32.ge_u (local.get $t) (local.get $len)))
        (local.set $wt (v128.load32_splat (i32.add (local.get $w) (i32.shl (local.get $t) (i32.const 2)))))
        (local.set $h (v128.load offset=0 (local.get $at)))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $wt) (i32x4.shl (local.get $h) (i32.const 16)))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $wt) (v128.and (local.get $h) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))))
        (local.set $h (v128.load offset=16 (local.get $at)))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $wt) (i32x4.shl (local.get $h) (i32.const 16)))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $wt) (v128.and (local.get $h) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))))
        (local.set $h (v128.load offset=32 (local.get $at)))
        (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $wt) (i32x4.shl (local.get $h) (i32.const 16)))))
        (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $wt) (v128.and (local.get $h) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))))
        (local.set $h (v128.load offset=48 (local.get $at)))
        (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $wt) (i32x4.shl (local.get $h) (i32.const 16)))))
        (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $wt) (v128.and (local.get $h) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))))
        (local.set $h (v128.load offset=64 (local.get $at)))
        (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $wt) (i32x4.shl (local.get $h) (i32.const 16)))))
        (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $wt) (v128.and (local.get $h) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))))
        (local.set $h (v128.load offset=80 (local.get $at)))
        (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $wt) (i32x4.shl (local.get $h) (i32.const 16)))))
        (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $wt) (v128.and (local.get $h) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))))
        (local.set $h (v128.load offset=96 (local.get $at)))
        (local.set $b4 (f32x4.add (local.get $b4) (f32x4.mul (local.get $wt) (i32x4.shl (local.get $h) (i32.const 16)))))
        (local.set $b5 (f32x4.add (local.get $b5) (f32x4.mul (local.get $wt) (v128.and (local.get $h) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))))
        (local.set $h (v128.load offset=112 (local.get $at)))
        (local.set $b6 (f32x4.add (local.get $b6) (f32x4.mul (local.get $wt) (i32x4.shl (local.get $h) (i32.const 16)))))
        (local.set $b7 (f32x4.add (local.get $b7) (f32x4.mul (local.get $wt) (v128.and (local.get $h) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))))
        (local.set $at (i32.add (local.get $at) (local.get $bytes)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $rows64)))
      (v128.store offset=0 (local.get $o) (local.get $a0))
      (v128.store offset=16 (local.get $o) (local.get $a1))
      (v128.store offset=32 (local.get $o) (local.get $a2))
      (v128.store offset=48 (local.get $o) (local.get $a3))
      (v128.store offset=64 (local.get $o) (local.get $a4))
      (v128.store offset=80 (local.get $o) (local.get $a5))
      (v128.store offset=96 (local.get $o) (local.get $a6))
      (v128.store offset=112 (local.get $o) (local.get $a7))
      (v128.store offset=128 (local.get $o) (local.get $b0))
      (v128.store offset=144 (local.get $o) (local.get $b1))
      (v128.store offset=160 (local.get $o) (local.get $b2))
      (v128.store offset=176 (local.get $o) (local.get $b3))
      (v128.store offset=192 (local.get $o) (local.get $b4))
      (v128.store offset=208 (local.get $o) (local.get $b5))
      (v128.store offset=224 (local.get $o) (local.get $b6))
      (v128.store offset=240 (local.get $o) (local.get $b7))
      (local.set $i (i32.add (local.get $i) (i32.const 128)))
      (br $cols64)))
    (block $end8 (loop $cols8
      (br_if $end8 (i32.ge_u (local.get $i) (local.get $bytes)))
      (local.set $o (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 1))))
      (local.set $a0 (v128.load (local.get $o)))
      (local.set $a1 (v128.load offset=16 (local.get $o)))
      (local.set $at (i32.add (local.get $v) (local.get $i)))
      (local.set $t (i32.const 0))
      (block $rowsDone8 (loop $rows8
        (br_if $rowsDone8 (i32.ge_u (local.get $t) (local.get $len)))
        (local.set $wt (v128.load32_splat (i32.add (local.get $w) (i32.shl (local.get $t) (i32.const 2)))))
        (local.set $h (v128.load (local.get $at)))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $wt) (i32x4.shl (local.get $h) (i32.const 16)))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $wt) (v128.and (local.get $h) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))))
        (local.set $at (i32.add (local.get $at) (local.get $bytes)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $rows8)))
      (v128.store (local.get $o) (local.get $a0))
      (v128.store offset=16 (local.get $o) (local.get $a1))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $cols8))))

  ;; $attend_row over a bfloat16 cache: k and v [n, d] bfloat16 (rows 2·d bytes apart), q and
  ;; o [d] float32, d a multiple of 8. The query is put in the split order into o (free until
  ;; the weighted sum), the weighted sum accumulates there in that order, and o is put back in
  ;; order as it is normalised.
  (func $attend_row_bf16 (param $q i32) (param $k i32) (param $v i32) (param $n i32) (param $d i32) (param $scale f32) (param $scratch i32) (param $o i32)
    (local $s f32) (local $i i32) (local $rowBytes i32) (local $a v128) (local $b v128)
    (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
    (block $splitDone (loop $split
      (br_if $splitDone (i32.ge_u (local.get $i) (local.get $rowBytes)))
      (local.set $a (v128.load (i32.add (local.get $q) (local.get $i))))
      (local.set $b (v128.load offset=16 (i32.add (local.get $q) (local.get $i))))
      (v128.store (i32.add (local.get $o) (local.get $i)) (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $a) (local.get $b)))
      (v128.store offset=16 (i32.add (local.get $o) (local.get $i)) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $a) (local.get $b)))
      (local.set $i (i32.add (local.get $i) (i32.const 32)))
      (br $split)))
    (call $scores_bf16 (local.get $o) (local.get $k) (local.get $n) (local.get $d) (local.get $scale) (local.get $scratch))
    (local.set $s (call $softmax_row (local.get $scratch) (local.get $n)))
    (call $zero (local.get $o) (local.get $rowBytes))
    (call $accumulate_bf16 (local.get $scratch) (local.get $v) (local.get $n) (local.get $d) (local.get $o))
    ;; o / z, its features back in order: (e0, o0, e1, o1) and (e2, o2, e3, o3)
    (local.set $i (i32.const 0))
    (block $mergeDone (loop $merge
      (br_if $mergeDone (i32.ge_u (local.get $i) (local.get $rowBytes)))
      (local.set $a (v128.load (i32.add (local.get $o) (local.get $i))))
      (local.set $b (v128.load offset=16 (i32.add (local.get $o) (local.get $i))))
      (v128.store (i32.add (local.get $o) (local.get $i))
        (f32x4.mul (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)) (f32x4.splat (local.get $s))))
      (v128.store offset=16 (i32.add (local.get $o) (local.get $i))
        (f32x4.mul (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)) (f32x4.splat (local.get $s))))
      (local.set $i (i32.add (local.get $i) (i32.const 32)))
      (br $merge))))

  ;; Float32 to bfloat16, rounded to nearest even, for `blocks` blocks of `count` values (a
  ;; multiple of 8): block i from src + i·srcStride (float32) to dst + i·dstStride (bfloat16,
  ;; the order above). A NaN stays a (quiet) NaN; a finite value past bfloat16's largest
  ;; rounds to ±∞, as rounding does.
  (func (export "pack_bf16") (param $src i32) (param $srcStride i32) (param $dst i32) (param $dstStride i32) (param $count i32) (param $blocks i32)
    (local $b i32) (local $i i32) (local $bytes i32)
    (local.set $bytes (i32.shl (local.get $count) (i32.const 2)))
    (block $blocksDone (loop $eachBlock
      (br_if $blocksDone (i32.ge_u (local.get $b) (local.get $blocks)))
      (local.set $i (i32.const 0))
      (block $done (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $bytes)))
        (v128.store (i32.add (local.get $dst) (i32.shr_u (local.get $i) (i32.const 1)))
          (i16x8.narrow_i32x4_u
            (call $round_bf16 (v128.load (i32.add (local.get $src) (local.get $i))))
            (call $round_bf16 (v128.load offset=16 (i32.add (local.get $src) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $each)))
      (local.set $src (i32.add (local.get $src) (local.get $srcStride)))
      (local.set $dst (i32.add (local.get $dst) (local.get $dstStride)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $eachBlock))))

  ;; Four float32 as bfloat16 in the low halves of their lanes: x + 0x7fff + (bit 16 of x),
  ;; shifted right 16 (round to nearest, ties to even); a NaN keeps its top half, made quiet.
  (func $round_bf16 (param $x v128) (result v128)
    (v128.bitselect
      (v128.or (i32x4.shr_u (local.get $x) (i32.const 16)) (i32x4.splat (i32.const 0x40)))
      (i32x4.shr_u
        (i32x4.add (i32x4.add (local.get $x) (i32x4.splat (i32.const 0x7fff)))
          (v128.and (i32x4.shr_u (local.get $x) (i32.const 16)) (i32x4.splat (i32.const 1))))
        (i32.const 16))
      (f32x4.ne (local.get $x) (local.get $x))))

  ;; Bfloat16 to float32, for `blocks` blocks of `count` values (a multiple of 8): block i from
  ;; src + i·srcStride (bfloat16) to dst + i·dstStride (float32). Exact.
  (func (export "unpack_bf16") (param $src i32) (param $srcStride i32) (param $dst i32) (param $dstStride i32) (param $count i32) (param $blocks i32)
    (local $b i32) (local $i i32) (local $bytes i32) (local $h v128)
    (local.set $bytes (i32.shl (local.get $count) (i32.const 1)))
    (block $blocksDone (loop $eachBlock
      (br_if $blocksDone (i32.ge_u (local.get $b) (local.get $blocks)))
      (local.set $i (i32.const 0))
      (block $done (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $bytes)))
        (local.set $h (v128.load (i32.add (local.get $src) (local.get $i))))
        (v128.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 1)))
          (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $h)) (i32.const 16)))
        (v128.store offset=16 (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 1)))
          (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $h)) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $each)))
      (local.set $src (i32.add (local.get $src) (local.get $srcStride)))
      (local.set $dst (i32.add (local.get $dst) (local.get $dstStride)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $eachBlock))))

  ;; Four vectors' lane sums as one vector: [Σa, Σb, Σc, Σd].
  (func $hsum4 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result v128)
    (local $ab v128) (local $cd v128)
    ;; [a0+a2, b0+b2, a1+a3, b1+b3] and the same of c, d
    (local.set $ab (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b))))
    (local.set $cd (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c) (local.get $d))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c) (local.get $d))))
    (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $ab) (local.get $cd))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $ab) (local.get $cd))))

  ;; The scores of four consecutive query rows (q, rows d floats apart) against the first n
  ;; rows of K, interleaved: dst[t] (a vector) = scale · [q0·k_t, q1·k_t, q2·k_t, q3·k_t].
  ;; Two keys at a time: the four query vectors and two key vectors loaded per four features
  ;; feed eight multiply-adds.
  (func $scores4 (param $q i32) (param $k i32) (param $n i32) (param $d i32) (param $scale f32) (param $dst i32)
    (local $t i32) (local $i i32) (local $bytes i32) (local $row i32) (local $q1 i32) (local $q2 i32) (local $q3 i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $k0 v128) (local $k1 v128)
    (local $s00 v128) (local $s10 v128) (local $s20 v128) (local $s30 v128)
    (local $s01 v128) (local $s11 v128) (local $s21 v128) (local $s31 v128)
    (local.set $bytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $q1 (i32.add (local.get $q) (local.get $bytes)))
    (local.set $q2 (i32.add (local.get $q1) (local.get $bytes)))
    (local.set $q3 (i32.add (local.get $q2) (local.get $bytes)))
    (local.set $row (local.get $k))
    (block $pairsDone (loop $pairs
      (br_if $pairsDone (i32.gt_u (i32.add (local.get $t) (i32.const 2)) (local.get $n)))
      (local.set $s00 (v128.const i32x4 0 0 0 0)) (local.set $s10 (v128.const i32x4 0 0 0 0))
      (local.set $s20 (v128.const i32x4 0 0 0 0)) (local.set $s30 (v128.const i32x4 0 0 0 0))
      (local.set $s01 (v128.const i32x4 0 0 0 0)) (local.set $s11 (v128.const i32x4 0 0 0 0))
      (local.set $s21 (v128.const i32x4 0 0 0 0)) (local.set $s31 (v128.const i32x4 0 0 0 0))
      (local.set $i (i32.const 0))
      (block $dotDone (loop $dot
        (br_if $dotDone (i32.ge_u (local.get $i) (local.get $bytes)))
        (local.set $x0 (v128.load (i32.add (local.get $q) (local.get $i))))
        (local.set $x1 (v128.load (i32.add (local.get $q1) (local.get $i))))
        (local.set $x2 (v128.load (i32.add (local.get $q2) (local.get $i))))
        (local.set $x3 (v128.load (i32.add (local.get $q3) (local.get $i))))
        (local.set $k0 (v128.load (i32.add (local.get $row) (local.get $i))))
        (local.set $k1 (v128.load (i32.add (i32.add (local.get $row) (local.get $bytes)) (local.get $i))))
        (local.set $s00 (f32x4.add (local.get $s00) (f32x4.mul (local.get $x0) (local.get $k0))))
        (local.set $s10 (f32x4.add (local.get $s10) (f32x4.mul (local.get $x1) (local.get $k0))))
        (local.set $s20 (f32x4.add (local.get $s20) (f32x4.mul (local.get $x2) (local.get $k0))))
        (local.set $s30 (f32x4.add (local.get $s30) (f32x4.mul (local.get $x3) (local.get $k0))))
        (local.set $s01 (f32x4.add (local.get $s01) (f32x4.mul (local.get $x0) (local.get $k1))))
        (local.set $s11 (f32x4.add (local.get $s11) (f32x4.mul (local.get $x1) (local.get $k1))))
        (local.set $s21 (f32x4.add (local.get $s21) (f32x4.mul (local.get $x2) (local.get $k1))))
        (local.set $s31 (f32x4.add (local.get $s31) (f32x4.mul (local.get $x3) (local.get $k1))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $dot)))
      (v128.store (i32.add (local.get $dst) (i32.shl (local.get $t) (i32.const 4)))
        (f32x4.mul (f32x4.splat (local.get $scale)) (call $hsum4 (local.get $s00) (local.get $s10) (local.get $s20) (local.get $s30))))
      (v128.store offset=16 (i32.add (local.get $dst) (i32.shl (local.get $t) (i32.const 4)))
        (f32x4.mul (f32x4.splat (local.get $scale)) (call $hsum4 (local.get $s01) (local.get $s11) (local.get $s21) (local.get $s31))))
      (local.set $row (i32.add (local.get $row) (i32.shl (local.get $bytes) (i32.const 1))))
      (local.set $t (i32.add (local.get $t) (i32.const 2)))
      (br $pairs)))
    ;; an odd last key
    (if (i32.lt_u (local.get $t) (local.get $n)) (then
      (local.set $s00 (v128.const i32x4 0 0 0 0)) (local.set $s10 (v128.const i32x4 0 0 0 0))
      (local.set $s20 (v128.const i32x4 0 0 0 0)) (local.set $s30 (v128.const i32x4 0 0 0 0))
      (local.set $i (i32.const 0))
      (block $lastDone (loop $last
        (br_if $lastDone (i32.ge_u (local.get $i) (local.get $bytes)))
        (local.set $k0 (v128.load (i32.add (local.get $row) (local.get $i))))
        (local.set $s00 (f32x4.add (local.get $s00) (f32x4.mul (v128.load (i32.add (local.get $q) (local.get $i))) (local.get $k0))))
        (local.set $s10 (f32x4.add (local.get $s10) (f32x4.mul (v128.load (i32.add (local.get $q1) (local.get $i))) (local.get $k0))))
        (local.set $s20 (f32x4.add (local.get $s20) (f32x4.mul (v128.load (i32.add (local.get $q2) (local.get $i))) (local.get $k0))))
        (local.set $s30 (f32x4.add (local.get $s30) (f32x4.mul (v128.load (i32.add (local.get $q3) (local.get $i))) (local.get $k0))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $last)))
      (v128.store (i32.add (local.get $dst) (i32.shl (local.get $t) (i32.const 4)))
        (f32x4.mul (f32x4.splat (local.get $scale)) (call $hsum4 (local.get $s00) (local.get $s10) (local.get $s20) (local.get $s30)))))))

  ;; o_r = Σ_t w[t][r] · v[t] · inv[r] for four rows r (o, rows d floats apart), w the n
  ;; interleaved weight vectors of $scores4, v the first n rows of V. Eight features at a
  ;; time (two vectors per row, eight accumulators), then four.
  (func $weighted4 (param $w i32) (param $v i32) (param $n i32) (param $d i32) (param $inv v128) (param $o i32)
    (local $f i32) (local $t i32) (local $bytes i32) (local $wide i32) (local $at i32) (local $pw i32)
    (local $p v128) (local $p0 v128) (local $p1 v128) (local $p2 v128) (local $p3 v128) (local $y0 v128) (local $y1 v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $e0 v128) (local $e1 v128) (local $e2 v128) (local $e3 v128)
    (local.set $bytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $wide (i32.and (local.get $bytes) (i32.const -32)))
    (block $colsDone (loop $cols
      (br_if $colsDone (i32.ge_u (local.get $f) (local.get $wide)))
      (local.set $c0 (v128.const i32x4 0 0 0 0)) (local.set $c1 (v128.const i32x4 0 0 0 0))
      (local.set $c2 (v128.const i32x4 0 0 0 0)) (local.set $c3 (v128.const i32x4 0 0 0 0))
      (local.set $e0 (v128.const i32x4 0 0 0 0)) (local.set $e1 (v128.const i32x4 0 0 0 0))
      (local.set $e2 (v128.const i32x4 0 0 0 0)) (local.set $e3 (v128.const i32x4 0 0 0 0))
      (local.set $at (i32.add (local.get $v) (local.get $f)))
      (local.set $pw (local.get $w))
      (local.set $t (i32.const 0))
      (block $rowsDone (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $t) (local.get $n)))
        (local.set $p (v128.load (local.get $pw)))
        (local.set $p0 (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $p) (local.get $p)))
        (local.set $p1 (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $p) (local.get $p)))
        (local.set $p2 (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $p) (local.get $p)))
        (local.set $p3 (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $p) (local.get $p)))
        (local.set $y0 (v128.load (local.get $at)))
        (local.set $y1 (v128.load offset=16 (local.get $at)))
        (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $p0) (local.get $y0))))
        (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $p1) (local.get $y0))))
        (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $p2) (local.get $y0))))
        (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $p3) (local.get $y0))))
        (local.set $e0 (f32x4.add (local.get $e0) (f32x4.mul (local.get $p0) (local.get $y1))))
        (local.set $e1 (f32x4.add (local.get $e1) (f32x4.mul (local.get $p1) (local.get $y1))))
        (local.set $e2 (f32x4.add (local.get $e2) (f32x4.mul (local.get $p2) (local.get $y1))))
        (local.set $e3 (f32x4.add (local.get $e3) (f32x4.mul (local.get $p3) (local.get $y1))))
        (local.set $at (i32.add (local.get $at) (local.get $bytes)))
        (local.set $pw (i32.add (local.get $pw) (i32.const 16)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $rows)))
      (local.set $at (i32.add (local.get $o) (local.get $f)))
      (v128.store (local.get $at)
        (f32x4.mul (local.get $c0) (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $inv) (local.get $inv))))
      (v128.store offset=16 (local.get $at)
        (f32x4.mul (local.get $e0) (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $inv) (local.get $inv))))
      (local.set $at (i32.add (local.get $at) (local.get $bytes)))
      (v128.store (local.get $at)
        (f32x4.mul (local.get $c1) (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $inv) (local.get $inv))))
      (v128.store offset=16 (local.get $at)
        (f32x4.mul (local.get $e1) (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $inv) (local.get $inv))))
      (local.set $at (i32.add (local.get $at) (local.get $bytes)))
      (v128.store (local.get $at)
        (f32x4.mul (local.get $c2) (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $inv) (local.get $inv))))
      (v128.store offset=16 (local.get $at)
        (f32x4.mul (local.get $e2) (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $inv) (local.get $inv))))
      (local.set $at (i32.add (local.get $at) (local.get $bytes)))
      (v128.store (local.get $at)
        (f32x4.mul (local.get $c3) (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $inv) (local.get $inv))))
      (v128.store offset=16 (local.get $at)
        (f32x4.mul (local.get $e3) (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $inv) (local.get $inv))))
      (local.set $f (i32.add (local.get $f) (i32.const 32)))
      (br $cols)))
    ;; four last features (d ≡ 4 mod 8)
    (if (i32.lt_u (local.get $f) (local.get $bytes)) (then
      (local.set $c0 (v128.const i32x4 0 0 0 0)) (local.set $c1 (v128.const i32x4 0 0 0 0))
      (local.set $c2 (v128.const i32x4 0 0 0 0)) (local.set $c3 (v128.const i32x4 0 0 0 0))
      (local.set $at (i32.add (local.get $v) (local.get $f)))
      (local.set $pw (local.get $w))
      (local.set $t (i32.const 0))
      (block $rows4Done (loop $rows4
        (br_if $rows4Done (i32.ge_u (local.get $t) (local.get $n)))
        (local.set $p (v128.load (local.get $pw)))
        (local.set $y0 (v128.load (local.get $at)))
        (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $p) (local.get $p)) (local.get $y0))))
        (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $p) (local.get $p)) (local.get $y0))))
        (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $p) (local.get $p)) (local.get $y0))))
        (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $p) (local.get $p)) (local.get $y0))))
        (local.set $at (i32.add (local.get $at) (local.get $bytes)))
        (local.set $pw (i32.add (local.get $pw) (i32.const 16)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $rows4)))
      (local.set $at (i32.add (local.get $o) (local.get $f)))
      (v128.store (local.get $at) (f32x4.mul (local.get $c0) (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $inv) (local.get $inv))))
      (local.set $at (i32.add (local.get $at) (local.get $bytes)))
      (v128.store (local.get $at) (f32x4.mul (local.get $c1) (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $inv) (local.get $inv))))
      (local.set $at (i32.add (local.get $at) (local.get $bytes)))
      (v128.store (local.get $at) (f32x4.mul (local.get $c2) (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $inv) (local.get $inv))))
      (local.set $at (i32.add (local.get $at) (local.get $bytes)))
      (v128.store (local.get $at) (f32x4.mul (local.get $c3) (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $inv) (local.get $inv)))))))

  ;; Attention of four consecutive query rows (q and o, rows d floats apart) over the first n
  ;; rows of K and V. With `causal`, row r sees only the first n - 3 + r keys (the rows are
  ;; positions n - 4 … n - 1 of a causal sequence); otherwise every row sees all n.
  ;; `scratch` holds 4·(n + 1) floats: the rows' scores, interleaved (one vector per key).
  (func $attend_rows4 (param $q i32) (param $k i32) (param $v i32) (param $n i32) (param $causal i32) (param $d i32) (param $scale f32) (param $scratch i32) (param $o i32)
    (local $t i32) (local $at i32) (local $end i32) (local $m v128) (local $z v128) (local $e v128)
    (call $scores4 (local.get $q) (local.get $k) (local.get $n) (local.get $d) (local.get $scale) (local.get $scratch))
    (local.set $end (i32.add (local.get $scratch) (i32.shl (local.get $n) (i32.const 4))))
    ;; the last three keys are hidden from the first rows: -∞ in those lanes
    (if (local.get $causal) (then
      (local.set $at (i32.sub (local.get $end) (i32.const 48)))
      (v128.store (local.get $at) (v128.bitselect (v128.const f32x4 -inf -inf -inf -inf) (v128.load (local.get $at)) (v128.const i32x4 -1 0 0 0)))
      (v128.store offset=16 (local.get $at) (v128.bitselect (v128.const f32x4 -inf -inf -inf -inf) (v128.load offset=16 (local.get $at)) (v128.const i32x4 -1 -1 0 0)))
      (v128.store offset=32 (local.get $at) (v128.bitselect (v128.const f32x4 -inf -inf -inf -inf) (v128.load offset=32 (local.get $at)) (v128.const i32x4 -1 -1 -1 0)))))
    ;; each row's maximum, lane by lane
    (local.set $m (v128.const f32x4 -inf -inf -inf -inf))
    (local.set $at (local.get $scratch))
    (block $maxDone (loop $max
      (br_if $maxDone (i32.ge_u (local.get $at) (local.get $end)))
      (local.set $m (f32x4.max (local.get $m) (v128.load (local.get $at))))
      (local.set $at (i32.add (local.get $at) (i32.const 16)))
      (br $max)))
    ;; e^(s - max) and the rows' sums
    (local.set $z (v128.const i32x4 0 0 0 0))
    (local.set $at (local.get $scratch))
    (block $expDone (loop $exp
      (br_if $expDone (i32.ge_u (local.get $at) (local.get $end)))
      (local.set $e (call $exp4 (f32x4.sub (v128.load (local.get $at)) (local.get $m))))
      (v128.store (local.get $at) (local.get $e))
      (local.set $z (f32x4.add (local.get $z) (local.get $e)))
      (local.set $at (i32.add (local.get $at) (i32.const 16)))
      (br $exp)))
    ;; exact zeros for the hidden keys ($exp4 floors its argument: e^-∞ came out ≈ 1e-38)
    (if (local.get $causal) (then
      (local.set $at (i32.sub (local.get $end) (i32.const 48)))
      (local.set $z (f32x4.sub (local.get $z) (v128.and (v128.load (local.get $at)) (v128.const i32x4 -1 0 0 0))))
      (local.set $z (f32x4.sub (local.get $z) (v128.and (v128.load offset=16 (local.get $at)) (v128.const i32x4 -1 -1 0 0))))
      (local.set $z (f32x4.sub (local.get $z) (v128.and (v128.load offset=32 (local.get $at)) (v128.const i32x4 -1 -1 -1 0))))
      (v128.store (local.get $at) (v128.and (v128.load (local.get $at)) (v128.const i32x4 0 -1 -1 -1)))
      (v128.store offset=16 (local.get $at) (v128.and (v128.load offset=16 (local.get $at)) (v128.const i32x4 0 0 -1 -1)))
      (v128.store offset=32 (local.get $at) (v128.and (v128.load offset=32 (local.get $at)) (v128.const i32x4 0 0 0 -1)))))
    (call $weighted4 (local.get $scratch) (local.get $v) (local.get $n) (local.get $d)
      (f32x4.div (v128.const f32x4 1 1 1 1) (local.get $z)) (local.get $o)))

  ;; Attention of `tq` query positions over the first `len` positions of a key/value cache
  ;; that has room for `cap`, for `blocks` (batch·head) blocks: q and out [blocks, tq, d],
  ;; k and v [blocks, cap, d], d a multiple of 4; out = softmax(scale · q·Kᵀ)·V. With
  ;; `causal` the queries are the last tq of the len positions and query i sees keys
  ;; 0 … len - tq + i (a causal mask); without it every query sees all len keys. Four query
  ;; rows at a time ($attend_rows4), then one at a time. `scratch` holds 4·(len + 4) floats.
  ;; With `packed` (1) k and v are a bfloat16 cache (rows 2·d bytes apart, d a multiple of 8)
  ;; and every query row goes alone ($attend_row_bf16: a decoding step has one).
  (func $attend (export "attend")
    (param $q i32) (param $k i32) (param $v i32) (param $cap i32) (param $len i32) (param $tq i32) (param $causal i32) (param $packed i32)
    (param $blocks i32) (param $d i32) (param $scale f32) (param $scratch i32) (param $out i32)
    (local $b i32) (local $i i32) (local $rowBytes i32) (local $kvRowBytes i32) (local $qb i32) (local $kb i32) (local $vb i32) (local $ob i32) (local $n i32)
    (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $kvRowBytes (i32.shr_u (local.get $rowBytes) (local.get $packed)))
    (block $blocksDone (loop $eachBlock
      (br_if $blocksDone (i32.ge_u (local.get $b) (local.get $blocks)))
      (local.set $qb (i32.add (local.get $q) (i32.mul (i32.mul (local.get $b) (local.get $tq)) (local.get $rowBytes))))
      (local.set $ob (i32.add (local.get $out) (i32.mul (i32.mul (local.get $b) (local.get $tq)) (local.get $rowBytes))))
      (local.set $kb (i32.add (local.get $k) (i32.mul (i32.mul (local.get $b) (local.get $cap)) (local.get $kvRowBytes))))
      (local.set $vb (i32.add (local.get $v) (i32.mul (i32.mul (local.get $b) (local.get $cap)) (local.get $kvRowBytes))))
      (local.set $n (local.get $len))
      (local.set $i (i32.const 0))
      (block $groupsDone (loop $groups
        (br_if $groupsDone (i32.or (local.get $packed) (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $tq))))
        (if (local.get $causal) (then (local.set $n (i32.add (i32.sub (local.get $len) (local.get $tq)) (i32.add (local.get $i) (i32.const 4))))))
        (call $attend_rows4 (i32.add (local.get $qb) (i32.mul (local.get $i) (local.get $rowBytes))) (local.get $kb) (local.get $vb)
          (local.get $n) (local.get $causal) (local.get $d) (local.get $scale) (local.get $scratch)
          (i32.add (local.get $ob) (i32.mul (local.get $i) (local.get $rowBytes))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $groups)))
      (block $rowsDone (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $tq)))
        (if (local.get $causal) (then (local.set $n (i32.add (i32.sub (local.get $len) (local.get $tq)) (i32.add (local.get $i) (i32.const 1))))))
        (if (local.get $packed)
          (then (call $attend_row_bf16 (i32.add (local.get $qb) (i32.mul (local.get $i) (local.get $rowBytes))) (local.get $kb) (local.get $vb)
            (local.get $n) (local.get $d) (local.get $scale) (local.get $scratch)
            (i32.add (local.get $ob) (i32.mul (local.get $i) (local.get $rowBytes)))))
          (else (call $attend_row (i32.add (local.get $qb) (i32.mul (local.get $i) (local.get $rowBytes))) (local.get $kb) (local.get $vb)
            (local.get $n) (local.get $d) (local.get $scale) (local.get $scratch)
            (i32.add (local.get $ob) (i32.mul (local.get $i) (local.get $rowBytes))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $eachBlock))))

  ;; out[i] = a[i] + b[i] for i < n (a residual connection): four at a time, then one at a time.
  ;; tfjs-wasm adds through XNNPACK on its thread pool, whose worker then spins on the second core
  ;; for a while: a kernel pool's job that follows finds that core taken (docs/concepts.md).
  (func (export "add") (param $a i32) (param $b i32) (param $n i32) (param $out i32)
    (local $i i32) (local $end i32) (local $o i32)
    (local.set $end (i32.and (local.get $n) (i32.const -4)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $o (i32.shl (local.get $i) (i32.const 2)))
      (v128.store (i32.add (local.get $out) (local.get $o))
        (f32x4.add (v128.load (i32.add (local.get $a) (local.get $o))) (v128.load (i32.add (local.get $b) (local.get $o)))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $each)))
    (block $tailDone (loop $tail
      (br_if $tailDone (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $o (i32.shl (local.get $i) (i32.const 2)))
      (f32.store (i32.add (local.get $out) (local.get $o))
        (f32.add (f32.load (i32.add (local.get $a) (local.get $o))) (f32.load (i32.add (local.get $b) (local.get $o)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $tail))))

  ;; GELU, tanh form (GPT-2's gelu_new), for four lanes: ½x(1 + tanh(u)) = x·σ(2u),
  ;; 2u = x(A + B·x²), A = 2√(2/π), B = 0.044715·A. σ(v) from t = e^-|v| (always ≤ 1, no
  ;; overflow): 1/(1 + t) for v ≥ 0, t/(1 + t) below.
  (func $gelu_tanh4 (param $x v128) (result v128)
    (local $v v128) (local $t v128) (local $s v128)
    (local.set $v (f32x4.mul (local.get $x)
      (f32x4.add (f32x4.splat (f32.const 1.5957691216057308))
        (f32x4.mul (f32x4.splat (f32.const 0.07135481627260025)) (f32x4.mul (local.get $x) (local.get $x))))))
    (local.set $t (call $exp4 (f32x4.neg (f32x4.abs (local.get $v)))))
    (local.set $s (f32x4.div (f32x4.splat (f32.const 1)) (f32x4.add (f32x4.splat (f32.const 1)) (local.get $t))))
    (f32x4.mul (local.get $x)
      (v128.bitselect (local.get $s) (f32x4.mul (local.get $t) (local.get $s)) (f32x4.ge (local.get $v) (v128.const i32x4 0 0 0 0)))))

  ;; out[i] = gelu_new(x[i]) for i < n: eight at a time (two vectors, $gelu_tanh4 and its $exp4
  ;; written out for each: a call a vector kept the vectors' long chains of operations from
  ;; overlapping; 1.5-1.9× faster, the same operations, the same bits), then four at a time,
  ;; then one at a time for the last n mod 4.
  (func $gelu_tanh (export "gelu_tanh") (param $x i32) (param $n i32) (param $out i32)
    (local $i i32) (local $end i32) (local $end8 i32) (local $o i32)
    (local $exA v128) (local $enA v128) (local $erA v128) (local $epA v128) (local $gxA v128) (local $gvA v128) (local $gtA v128) (local $gsA v128)
    (local $exB v128) (local $enB v128) (local $erB v128) (local $epB v128) (local $gxB v128) (local $gvB v128) (local $gtB v128) (local $gsB v128)
    (local.set $end (i32.and (local.get $n) (i32.const -4)))
    (local.set $end8 (i32.and (local.get $n) (i32.const -8)))
    (block $done8 (loop $each8
      (br_if $done8 (i32.ge_u (local.get $i) (local.get $end8)))
      (local.set $o (i32.shl (local.get $i) (i32.const 2)))
      (local.set $gxA (v128.load (i32.add (local.get $x) (local.get $o))))
      (local.set $gvA (f32x4.mul (local.get $gxA)
        (f32x4.add (f32x4.splat (f32.const 1.5957691216057308))
          (f32x4.mul (f32x4.splat (f32.const 0.07135481627260025)) (f32x4.mul (local.get $gxA) (local.get $gxA))))))
      (local.set $exA (f32x4.neg (f32x4.abs (local.get $gvA))))
      (local.set $exA (f32x4.max (local.get $exA) (f32x4.splat (f32.const -87.3))))
      (local.set $enA (f32x4.nearest (f32x4.mul (local.get $exA) (f32x4.splat (f32.const 1.44269504089)))))
      ;; r = x - n·ln2, ln2 split in two so that n·ln2_hi is exact
      (local.set $erA (f32x4.sub (local.get $exA) (f32x4.mul (local.get $enA) (f32x4.splat (f32.const 0.693359375)))))
      (local.set $erA (f32x4.add (local.get $erA) (f32x4.mul (local.get $enA) (f32x4.splat (f32.const 2.12194440e-4)))))
      (local.set $epA (f32x4.splat (f32.const 1.9875691500e-4)))
      (local.set $epA (f32x4.add (f32x4.mul (local.get $epA) (local.get $erA)) (f32x4.splat (f32.const 1.3981999507e-3))))
      (local.set $epA (f32x4.add (f32x4.mul (local.get $epA) (local.get $erA)) (f32x4.splat (f32.const 8.3334519073e-3))))
      (local.set $epA (f32x4.add (f32x4.mul (local.get $epA) (local.get $erA)) (f32x4.splat (f32.const 4.1665795894e-2))))
      (local.set $epA (f32x4.add (f32x4.mul (local.get $epA) (local.get $erA)) (f32x4.splat (f32.const 1.6666665459e-1))))
      (local.set $epA (f32x4.add (f32x4.mul (local.get $epA) (local.get $erA)) (f32x4.splat (f32.const 5.0000001201e-1))))
      ;; p·r² + r + 1
      (local.set $epA (f32x4.add
        (f32x4.add (f32x4.mul (local.get $epA) (f32x4.mul (local.get $erA) (local.get $erA))) (local.get $erA))
        (f32x4.splat (f32.const 1))))
      (local.set $gtA (f32x4.mul (local.get $epA)
        (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $enA)) (i32x4.splat (i32.const 127))) (i32.const 23))))
      (local.set $gsA (f32x4.div (f32x4.splat (f32.const 1)) (f32x4.add (f32x4.splat (f32.const 1)) (local.get $gtA))))
      (local.set $gxA (f32x4.mul (local.get $gxA)
        (v128.bitselect (local.get $gsA) (f32x4.mul (local.get $gtA) (local.get $gsA)) (f32x4.ge (local.get $gvA) (v128.const i32x4 0 0 0 0)))))
      (local.set $gxB (v128.load offset=16 (i32.add (local.get $x) (local.get $o))))
      (local.set $gvB (f32x4.mul (local.get $gxB)
        (f32x4.add (f32x4.splat (f32.const 1.5957691216057308))
          (f32x4.mul (f32x4.splat (f32.const 0.07135481627260025)) (f32x4.mul (local.get $gxB) (local.get $gxB))))))
      (local.set $exB (f32x4.neg (f32x4.abs (local.get $gvB))))
      (local.set $exB (f32x4.max (local.get $exB) (f32x4.splat (f32.const -87.3))))
      (local.set $enB (f32x4.nearest (f32x4.mul (local.get $exB) (f32x4.splat (f32.const 1.44269504089)))))
      ;; r = x - n·ln2, ln2 split in two so that n·ln2_hi is exact
      (local.set $erB (f32x4.sub (local.get $exB) (f32x4.mul (local.get $enB) (f32x4.splat (f32.const 0.693359375)))))
      (local.set $erB (f32x4.add (local.get $erB) (f32x4.mul (local.get $enB) (f32x4.splat (f32.const 2.12194440e-4)))))
      (local.set $epB (f32x4.splat (f32.const 1.9875691500e-4)))
      (local.set $epB (f32x4.add (f32x4.mul (local.get $epB) (local.get $erB)) (f32x4.splat (f32.const 1.3981999507e-3))))
      (local.set $epB (f32x4.add (f32x4.mul (local.get $epB) (local.get $erB)) (f32x4.splat (f32.const 8.3334519073e-3))))
      (local.set $epB (f32x4.add (f32x4.mul (local.get $epB) (local.get $erB)) (f32x4.splat (f32.const 4.1665795894e-2))))
      (local.set $epB (f32x4.add (f32x4.mul (local.get $epB) (local.get $erB)) (f32x4.splat (f32.const 1.6666665459e-1))))
      (local.set $epB (f32x4.add (f32x4.mul (local.get $epB) (local.get $erB)) (f32x4.splat (f32.const 5.0000001201e-1))))
      ;; p·r² + r + 1
      (local.set $epB (f32x4.add
        (f32x4.add (f32x4.mul (local.get $epB) (f32x4.mul (local.get $erB) (local.get $erB))) (local.get $erB))
        (f32x4.splat (f32.const 1))))
      (local.set $gtB (f32x4.mul (local.get $epB)
        (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $enB)) (i32x4.splat (i32.const 127))) (i32.const 23))))
      (local.set $gsB (f32x4.div (f32x4.splat (f32.const 1)) (f32x4.add (f32x4.splat (f32.const 1)) (local.get $gtB))))
      (local.set $gxB (f32x4.mul (local.get $gxB)
        (v128.bitselect (local.get $gsB) (f32x4.mul (local.get $gtB) (local.get $gsB)) (f32x4.ge (local.get $gvB) (v128.const i32x4 0 0 0 0)))))
      (v128.store (i32.add (local.get $out) (local.get $o)) (local.get $gxA))
      (v128.store offset=16 (i32.add (local.get $out) (local.get $o)) (local.get $gxB))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $each8)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (v128.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
        (call $gelu_tanh4 (v128.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $each)))
    (block $tailDone (loop $tail
      (br_if $tailDone (i32.ge_u (local.get $i) (local.get $n)))
      (f32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
        (f32x4.extract_lane 0 (call $gelu_tanh4 (v128.load32_splat (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $tail))))

  ;; gelu_new and its derivative for training, on values [1024·c0, min(n, 1024·c1)) (a chunk of
  ;; module.ts's runSplit): out[i] = gelu_new(x[i]) as $gelu_tanh4 computes it (the same bits as
  ;; "gelu_tanh"), and grad[i] = σ(v) + x·σ(v)σ(−v)·v′ with v = x(A + B·x²), v′ = A + 3B·x²,
  ;; so that the backward pass is dy·grad. Four lanes at a time; the last n mod 4 one at a time.
  (func (export "gelu_tanh_grad_chunk") (param $x i32) (param $n i32) (param $out i32) (param $grad i32) (param $c0 i32) (param $c1 i32)
    (local $i i32) (local $end i32) (local $quads i32) (local $o i32) (local $xv v128) (local $x2 v128) (local $v v128) (local $t v128) (local $s v128) (local $sig v128) (local $ge v128)
    (local.set $i (i32.shl (local.get $c0) (i32.const 10)))
    (local.set $end (i32.shl (local.get $c1) (i32.const 10)))
    (if (i32.gt_u (local.get $end) (local.get $n)) (then (local.set $end (local.get $n))))
    (local.set $quads (i32.and (local.get $end) (i32.const -4)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $o (i32.shl (local.get $i) (i32.const 2)))
      ;; four values, or the last one alone (its lane 0)
      (local.set $xv (if (result v128) (i32.lt_u (local.get $i) (local.get $quads))
        (then (v128.load (i32.add (local.get $x) (local.get $o))))
        (else (v128.load32_splat (i32.add (local.get $x) (local.get $o))))))
      (local.set $x2 (f32x4.mul (local.get $xv) (local.get $xv)))
      (local.set $v (f32x4.mul (local.get $xv)
        (f32x4.add (f32x4.splat (f32.const 1.5957691216057308)) (f32x4.mul (f32x4.splat (f32.const 0.07135481627260025)) (local.get $x2)))))
      (local.set $t (call $exp4 (f32x4.neg (f32x4.abs (local.get $v)))))
      (local.set $s (f32x4.div (f32x4.splat (f32.const 1)) (f32x4.add (f32x4.splat (f32.const 1)) (local.get $t))))
      ;; σ(v) and 1 − σ(v) = σ(−v): 1/(1 + t) and t/(1 + t), one each way by v's sign (no cancellation)
      (local.set $ge (f32x4.ge (local.get $v) (v128.const i32x4 0 0 0 0)))
      (local.set $t (f32x4.mul (local.get $t) (local.get $s)))
      (local.set $sig (v128.bitselect (local.get $s) (local.get $t) (local.get $ge)))
      (local.set $s (f32x4.add (local.get $sig)
        (f32x4.mul (f32x4.mul (local.get $xv) (f32x4.mul (local.get $sig) (v128.bitselect (local.get $t) (local.get $s) (local.get $ge))))
          (f32x4.add (f32x4.splat (f32.const 1.5957691216057308)) (f32x4.mul (f32x4.splat (f32.const 0.21406444881780073)) (local.get $x2))))))
      (local.set $v (f32x4.mul (local.get $xv) (local.get $sig)))
      (if (i32.lt_u (local.get $i) (local.get $quads))
        (then
          (v128.store (i32.add (local.get $out) (local.get $o)) (local.get $v))
          (v128.store (i32.add (local.get $grad) (local.get $o)) (local.get $s))
          (local.set $i (i32.add (local.get $i) (i32.const 4))))
        (else
          (f32.store (i32.add (local.get $out) (local.get $o)) (f32x4.extract_lane 0 (local.get $v)))
          (f32.store (i32.add (local.get $grad) (local.get $o)) (f32x4.extract_lane 0 (local.get $s)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))))
      (br $each))))

  ;; The transpose of a matrix [rows, cols] into dst [cols, rows]: 4×4 tiles moved with shuffles
  ;; (four row vectors in, four column vectors out), over bands of 8 columns (eight output
  ;; rows written side by side; 8 measured best across GPT-2's tall, wide and square shapes);
  ;; the last rows mod 4 and columns mod 4 one float at a time.
  (func (export "transpose_2d") (param $src i32) (param $rows i32) (param $cols i32) (param $dst i32)
    (local $i i32) (local $j i32) (local $jb i32) (local $jend i32) (local $rows4 i32) (local $cols4 i32)
    (local $srcRow i32) (local $dstRow i32) (local $rowBytes i32) (local $colBytes i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $rows4 (i32.and (local.get $rows) (i32.const -4)))
    (local.set $cols4 (i32.and (local.get $cols) (i32.const -4)))
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $colBytes (i32.shl (local.get $rows) (i32.const 2)))
    (block $bandsDone (loop $bands
      (br_if $bandsDone (i32.ge_u (local.get $jb) (local.get $cols4)))
      (local.set $jend (select (i32.add (local.get $jb) (i32.const 8)) (local.get $cols4)
        (i32.lt_u (i32.add (local.get $jb) (i32.const 8)) (local.get $cols4))))
      (local.set $i (i32.const 0))
      (block $rowsDone (loop $rowGroups
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rows4)))
        (local.set $j (local.get $jb))
        (block $tilesDone (loop $tiles
          (br_if $tilesDone (i32.ge_u (local.get $j) (local.get $jend)))
          (local.set $srcRow (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 2))))
          (local.set $r0 (v128.load (local.get $srcRow)))
          (local.set $r1 (v128.load (i32.add (local.get $srcRow) (local.get $rowBytes))))
          (local.set $r2 (v128.load (i32.add (local.get $srcRow) (i32.shl (local.get $rowBytes) (i32.const 1)))))
          (local.set $r3 (v128.load (i32.add (local.get $srcRow) (i32.mul (local.get $rowBytes) (i32.const 3)))))
          ;; [a0 b0 a1 b1], [a2 b2 a3 b3] of rows 0, 1 and of rows 2, 3
          (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
          (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
          (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
          (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
          (local.set $dstRow (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $rows)) (local.get $i)) (i32.const 2))))
          (v128.store (local.get $dstRow) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
          (v128.store (i32.add (local.get $dstRow) (local.get $colBytes))
            (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
          (v128.store (i32.add (local.get $dstRow) (i32.shl (local.get $colBytes) (i32.const 1)))
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
          (v128.store (i32.add (local.get $dstRow) (i32.mul (local.get $colBytes) (i32.const 3)))
            (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $tiles)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $rowGroups)))
      (local.set $jb (local.get $jend))
      (br $bands)))
    ;; the last rows (all columns) and the last columns (the first rows4 rows), one float at a time
    (local.set $i (local.get $rows4))
    (block $lastRowsDone (loop $lastRows
      (br_if $lastRowsDone (i32.ge_u (local.get $i) (local.get $rows)))
      (local.set $j (i32.const 0))
      (block $colsDone (loop $eachCol
        (br_if $colsDone (i32.ge_u (local.get $j) (local.get $cols)))
        (f32.store (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $rows)) (local.get $i)) (i32.const 2)))
          (f32.load (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 2)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $eachCol)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $lastRows)))
    (local.set $j (local.get $cols4))
    (block $lastColsDone (loop $lastCols
      (br_if $lastColsDone (i32.ge_u (local.get $j) (local.get $cols)))
      (local.set $i (i32.const 0))
      (block $rows4Done (loop $eachRow
        (br_if $rows4Done (i32.ge_u (local.get $i) (local.get $rows4)))
        (f32.store (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $rows)) (local.get $i)) (i32.const 2)))
          (f32.load (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $eachRow)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $lastCols))))

  ;; The softmax statistics of each column of x [rows, cols]: out[0, c] = max_r x[r, c] and
  ;; out[1, c] = Σ_r e^(x[r, c] − out[0, c]) (so log-sum-exp = out[0] + log out[1]); four
  ;; columns at a time along each row, the last cols mod 4 one at a time. For a tied head's
  ;; logits kept as [vocab, tokens] (train/tied-head.ts): the softmax over each token's column.
  (func (export "column_softmax_stats") (param $x i32) (param $rows i32) (param $cols i32) (param $out i32)
    (local $r i32) (local $c i32) (local $at i32) (local $rowBytes i32) (local $cols4 i32) (local $sums i32) (local $m i32)
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $cols4 (i32.and (local.get $cols) (i32.const -4)))
    (local.set $sums (i32.add (local.get $out) (local.get $rowBytes)))
    (memory.copy (local.get $out) (local.get $x) (local.get $rowBytes))
    (memory.fill (local.get $sums) (i32.const 0) (local.get $rowBytes))
    ;; the maxima
    (local.set $r (i32.const 1))
    (block $maxDone (loop $maxRows
      (br_if $maxDone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $at (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rowBytes))))
      (local.set $c (i32.const 0))
      (block $vecDone (loop $vec
        (br_if $vecDone (i32.ge_u (local.get $c) (local.get $cols4)))
        (local.set $m (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2))))
        (v128.store (local.get $m) (f32x4.max (v128.load (local.get $m)) (v128.load (i32.add (local.get $at) (i32.shl (local.get $c) (i32.const 2))))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $vec)))
      (block $oneDone (loop $one
        (br_if $oneDone (i32.ge_u (local.get $c) (local.get $cols)))
        (local.set $m (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2))))
        (f32.store (local.get $m) (f32.max (f32.load (local.get $m)) (f32.load (i32.add (local.get $at) (i32.shl (local.get $c) (i32.const 2))))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $one)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $maxRows)))
    ;; the sums of e^(x − max)
    (local.set $r (i32.const 0))
    (block $sumDone (loop $sumRows
      (br_if $sumDone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $at (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rowBytes))))
      (local.set $c (i32.const 0))
      (block $svecDone (loop $svec
        (br_if $svecDone (i32.ge_u (local.get $c) (local.get $cols4)))
        (local.set $m (i32.shl (local.get $c) (i32.const 2)))
        (v128.store (i32.add (local.get $sums) (local.get $m))
          (f32x4.add (v128.load (i32.add (local.get $sums) (local.get $m)))
            (call $exp4 (f32x4.sub (v128.load (i32.add (local.get $at) (local.get $m))) (v128.load (i32.add (local.get $out) (local.get $m)))))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $svec)))
      (block $soneDone (loop $sone
        (br_if $soneDone (i32.ge_u (local.get $c) (local.get $cols)))
        (local.set $m (i32.shl (local.get $c) (i32.const 2)))
        (f32.store (i32.add (local.get $sums) (local.get $m))
          (f32.add (f32.load (i32.add (local.get $sums) (local.get $m)))
            (f32x4.extract_lane 0 (call $exp4 (f32x4.splat
              (f32.sub (f32.load (i32.add (local.get $at) (local.get $m))) (f32.load (i32.add (local.get $out) (local.get $m)))))))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $sone)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $sumRows))))

  ;; The gradient of Σ_c scale[c]·(lse[c] − x[targets[c], c]) with respect to x [rows, cols] (the
  ;; cross-entropy of each column's softmax): out[r, c] = (e^(x[r, c] − lse[c]) − [targets[c] = r])
  ;; · scale[c], lse the columns' log-sum-exp, targets int32 (-1: no target). Four columns at a
  ;; time, the last cols mod 4 one at a time.
  (func (export "softmax_xent_grad_columns") (param $x i32) (param $rows i32) (param $cols i32) (param $lse i32) (param $targets i32) (param $scale i32) (param $out i32)
    (local $r i32) (local $c i32) (local $o i32) (local $at i32) (local $to i32) (local $rowBytes i32) (local $cols4 i32) (local $rv v128) (local $g v128)
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $cols4 (i32.and (local.get $cols) (i32.const -4)))
    (block $rowsDone (loop $eachRow
      (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $at (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rowBytes))))
      (local.set $to (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $rowBytes))))
      (local.set $rv (i32x4.splat (local.get $r)))
      (local.set $c (i32.const 0))
      (block $vecDone (loop $vec
        (br_if $vecDone (i32.ge_u (local.get $c) (local.get $cols4)))
        (local.set $o (i32.shl (local.get $c) (i32.const 2)))
        (local.set $g (f32x4.sub
          (call $exp4 (f32x4.sub (v128.load (i32.add (local.get $at) (local.get $o))) (v128.load (i32.add (local.get $lse) (local.get $o)))))
          (v128.and (i32x4.eq (local.get $rv) (v128.load (i32.add (local.get $targets) (local.get $o)))) (v128.const f32x4 1 1 1 1))))
        (v128.store (i32.add (local.get $to) (local.get $o)) (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $scale) (local.get $o)))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $vec)))
      (block $oneDone (loop $one
        (br_if $oneDone (i32.ge_u (local.get $c) (local.get $cols)))
        (local.set $o (i32.shl (local.get $c) (i32.const 2)))
        (local.set $g (f32x4.sub
          (call $exp4 (f32x4.splat (f32.sub (f32.load (i32.add (local.get $at) (local.get $o))) (f32.load (i32.add (local.get $lse) (local.get $o))))))
          (v128.and (i32x4.eq (local.get $rv) (i32x4.splat (i32.load (i32.add (local.get $targets) (local.get $o))))) (v128.const f32x4 1 1 1 1))))
        (f32.store (i32.add (local.get $to) (local.get $o)) (f32.mul (f32x4.extract_lane 0 (local.get $g)) (f32.load (i32.add (local.get $scale) (local.get $o)))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $one)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $eachRow))))

  ;; Copies `blocks` blocks of `bytes` bytes, block i from src + i·srcStride to
  ;; dst + i·dstStride: keys or values written into a cache that has room for more positions
  ;; than it holds ([blocks, capacity, d]), or a cache's positions copied into a larger one.
  (func (export "copy_blocks") (param $src i32) (param $srcStride i32) (param $dst i32) (param $dstStride i32) (param $bytes i32) (param $blocks i32)
    (local $i i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $blocks)))
      (memory.copy (local.get $dst) (local.get $src) (local.get $bytes))
      (local.set $src (i32.add (local.get $src) (local.get $srcStride)))
      (local.set $dst (i32.add (local.get $dst) (local.get $dstStride)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each))))

  ;; The sum of a row of `bytes`/4 floats (a multiple of 4), and the sum of its squared
  ;; deviations from `mean`: four vectors a turn into four accumulators, joined as (a0 + a1) +
  ;; (a2 + a3), then the last vectors one by one, then the lanes as $hsum adds them. LayerNorm's
  ;; inference kernel (kernels.wat) and its training kernel (train.wat) both sum this way, so
  ;; that their values agree to the bit.
  (func $rowSum (param $x i32) (param $bytes i32) (result f32)
    (local $i i32) (local $end i32) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local.set $end (i32.and (local.get $bytes) (i32.const -64)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $s0 (f32x4.add (local.get $s0) (v128.load (i32.add (local.get $x) (local.get $i)))))
      (local.set $s1 (f32x4.add (local.get $s1) (v128.load offset=16 (i32.add (local.get $x) (local.get $i)))))
      (local.set $s2 (f32x4.add (local.get $s2) (v128.load offset=32 (i32.add (local.get $x) (local.get $i)))))
      (local.set $s3 (f32x4.add (local.get $s3) (v128.load offset=48 (i32.add (local.get $x) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 64)))
      (br $each)))
    (local.set $s0 (f32x4.add (f32x4.add (local.get $s0) (local.get $s1)) (f32x4.add (local.get $s2) (local.get $s3))))
    (block $restDone (loop $rest
      (br_if $restDone (i32.ge_u (local.get $i) (local.get $bytes)))
      (local.set $s0 (f32x4.add (local.get $s0) (v128.load (i32.add (local.get $x) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $rest)))
    (call $hsum (local.get $s0)))

  (func $rowSquares (param $x i32) (param $bytes i32) (param $mean v128) (result f32)
    (local $i i32) (local $end i32) (local $c v128) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local.set $end (i32.and (local.get $bytes) (i32.const -64)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $c (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $i))) (local.get $mean)))
      (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $c) (local.get $c))))
      (local.set $c (f32x4.sub (v128.load offset=16 (i32.add (local.get $x) (local.get $i))) (local.get $mean)))
      (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $c) (local.get $c))))
      (local.set $c (f32x4.sub (v128.load offset=32 (i32.add (local.get $x) (local.get $i))) (local.get $mean)))
      (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (local.get $c) (local.get $c))))
      (local.set $c (f32x4.sub (v128.load offset=48 (i32.add (local.get $x) (local.get $i))) (local.get $mean)))
      (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (local.get $c) (local.get $c))))
      (local.set $i (i32.add (local.get $i) (i32.const 64)))
      (br $each)))
    (local.set $s0 (f32x4.add (f32x4.add (local.get $s0) (local.get $s1)) (f32x4.add (local.get $s2) (local.get $s3))))
    (block $restDone (loop $rest
      (br_if $restDone (i32.ge_u (local.get $i) (local.get $bytes)))
      (local.set $c (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $i))) (local.get $mean)))
      (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $c) (local.get $c))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $rest)))
    (call $hsum (local.get $s0)))

  ;; LayerNorm of `rows` rows of d features (d a multiple of 4), PyTorch's: the mean and the
  ;; biased variance of each row ($rowSum, $rowSquares), out = (x - mean)/√(var + eps)·w + b with
  ;; w, b [d].
  (func $layer_norm (export "layer_norm") (param $x i32) (param $rows i32) (param $d i32) (param $w i32) (param $b i32) (param $eps f32) (param $out i32)
    (local $r i32) (local $i i32) (local $bytes i32) (local $mean v128) (local $inv v128)
    (local.set $bytes (i32.shl (local.get $d) (i32.const 2)))
    (block $rowsDone (loop $eachRow
      (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $mean (f32x4.splat (f32.div (call $rowSum (local.get $x) (local.get $bytes)) (f32.convert_i32_u (local.get $d)))))
      (local.set $inv (f32x4.splat (f32.div (f32.const 1)
        (f32.sqrt (f32.add (f32.div (call $rowSquares (local.get $x) (local.get $bytes) (local.get $mean)) (f32.convert_i32_u (local.get $d))) (local.get $eps))))))
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

  ;; out [n, rows] = the columns ids[0 … n) of src [rows, cols] (int32 ids, checked by the caller),
  ;; 4-byte values: a transposed table's lookup (the tied head's wteᵀ read as token embeddings).
  (func (export "gather_columns") (param $src i32) (param $rows i32) (param $cols i32) (param $ids i32) (param $n i32) (param $out i32)
    (local $j i32) (local $i i32) (local $at i32) (local $stride i32)
    (local.set $stride (i32.shl (local.get $cols) (i32.const 2)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $j) (local.get $n)))
      (local.set $at (i32.add (local.get $src) (i32.shl (i32.load (i32.add (local.get $ids) (i32.shl (local.get $j) (i32.const 2)))) (i32.const 2))))
      (local.set $i (i32.const 0))
      (block $rowsDone (loop $eachRow
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rows)))
        (i32.store (local.get $out) (i32.load (local.get $at)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $at (i32.add (local.get $at) (local.get $stride)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $eachRow)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $each))))

  ;; "attend" on blocks [b0, b1) and "gelu_tanh" on values [1024·c0, min(n, 1024·c1)), so that
  ;; the kernel pool's threads share one call (module.ts's runSplit). An attend chunk takes
  ;; scratch slot $slot (4·(len + 4) floats), the chunk's index that the pool passes after the
  ;; range, so that no two threads share one.
  (func (export "attend_chunk")
    (param $q i32) (param $k i32) (param $v i32) (param $cap i32) (param $len i32) (param $tq i32) (param $causal i32) (param $packed i32)
    (param $blocks i32) (param $d i32) (param $scale f32) (param $scratch i32) (param $out i32) (param $b0 i32) (param $b1 i32) (param $slot i32)
    (local $qOff i32) (local $kOff i32)
    (local.set $qOff (i32.shl (i32.mul (i32.mul (local.get $b0) (local.get $tq)) (local.get $d)) (i32.const 2)))
    (local.set $kOff (i32.shr_u (i32.shl (i32.mul (i32.mul (local.get $b0) (local.get $cap)) (local.get $d)) (i32.const 2)) (local.get $packed)))
    (call $attend (i32.add (local.get $q) (local.get $qOff)) (i32.add (local.get $k) (local.get $kOff)) (i32.add (local.get $v) (local.get $kOff))
      (local.get $cap) (local.get $len) (local.get $tq) (local.get $causal) (local.get $packed) (i32.sub (local.get $b1) (local.get $b0)) (local.get $d) (local.get $scale)
      (i32.add (local.get $scratch) (i32.shl (i32.mul (local.get $slot) (i32.shl (i32.add (local.get $len) (i32.const 4)) (i32.const 2))) (i32.const 2)))
      (i32.add (local.get $out) (local.get $qOff))))

  (func (export "gelu_tanh_chunk") (param $x i32) (param $n i32) (param $out i32) (param $c0 i32) (param $c1 i32)
    (local $start i32) (local $end i32)
    (local.set $start (i32.shl (local.get $c0) (i32.const 10)))
    (local.set $end (i32.shl (local.get $c1) (i32.const 10)))
    (if (i32.gt_u (local.get $end) (local.get $n)) (then (local.set $end (local.get $n))))
    (call $gelu_tanh (i32.add (local.get $x) (i32.shl (local.get $start) (i32.const 2))) (i32.sub (local.get $end) (local.get $start))
      (i32.add (local.get $out) (i32.shl (local.get $start) (i32.const 2)))))

  ;; "layer_norm" on rows [r0, r1) (slot unused), so that the kernel pool's threads share one call.
  (func (export "layer_norm_chunk") (param $x i32) (param $rows i32) (param $d i32) (param $w i32) (param $b i32) (param $eps f32) (param $out i32)
    (param $r0 i32) (param $r1 i32) (param $slot i32)
    (local $off i32)
    (local.set $off (i32.shl (i32.mul (local.get $r0) (local.get $d)) (i32.const 2)))
    (call $layer_norm (i32.add (local.get $x) (local.get $off)) (i32.sub (local.get $r1) (local.get $r0)) (local.get $d) (local.get $w) (local.get $b) (local.get $eps)
      (i32.add (local.get $out) (local.get $off))))
)
