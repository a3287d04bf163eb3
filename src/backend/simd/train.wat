;; minigpt-fp's WebAssembly SIMD kernels for training on the tfjs wasm backend: dropout masks,
;; attention over whole sequences (forward and backward), LayerNorm with its backward pass,
;; GELU with its derivative (GELU at inference too), softmax cross-entropy with its gradient,
;; sums over rows, row scatter-adds, and the Adam(W) update of one parameter. Like kernels.wat, the
;; module imports the backend's own memory and works on tensors where tfjs-wasm keeps them;
;; module.ts instantiates it, the modules beside it (dropout-mask.ts, attention-train.ts,
;; layer-norm-grad.ts, gelu-erf.ts, cross-entropy.ts, row-sums.ts, adam-tree.ts)
;; register its exports as tfjs kernels, and scripts/kernels.mjs assembles it into
;; train-wasm.ts (`npm run kernels`). Pointers are byte offsets of float32 data (int32 where
;; named); sizes count elements unless named bytes.
(module
  (import "env" "memory" (memory 1))

;; e^x for four lanes, x ≤ 0 (Cephes' expf, as $exp4 in kernels.wat: within 2 ulp), and an exact
  ;; 0 below -87.3 (where e^x < 2^-126), so that a -Infinity score weighs nothing. n = round(x·log₂e)
  ;; comes from adding 1.5·2²³ (the sum's low mantissa bits are the integer, rounded to even as
  ;; f32x4.nearest does), and the clamp is a pmax (one maxps; NaN passes through): wasm's
  ;; f32x4.max, nearest and trunc_sat each take several x64 instructions.
  (func $exp4 (param $x v128) (result v128)
    (local $t v128) (local $n v128) (local $r v128) (local $p v128) (local $under v128)
    (local.set $under (f32x4.lt (local.get $x) (f32x4.splat (f32.const -87.3))))
    (local.set $x (f32x4.pmax (local.get $x) (f32x4.splat (f32.const -87.3))))
    (local.set $t (f32x4.add (f32x4.mul (local.get $x) (f32x4.splat (f32.const 1.44269504089))) (f32x4.splat (f32.const 12582912))))
    (local.set $n (f32x4.sub (local.get $t) (f32x4.splat (f32.const 12582912))))
    (local.set $r (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (f32x4.splat (f32.const 0.693359375)))))
    (local.set $r (f32x4.add (local.get $r) (f32x4.mul (local.get $n) (f32x4.splat (f32.const 2.12194440e-4)))))
    (local.set $p (f32x4.splat (f32.const 1.9875691500e-4)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 1.3981999507e-3))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 8.3334519073e-3))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 4.1665795894e-2))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 1.6666665459e-1))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 5.0000001201e-1))))
    (local.set $p (f32x4.add
      (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r))
      (f32x4.splat (f32.const 1))))
    ;; 2^n: the integer n from t's bits, moved into the exponent (0x4B400000 = 1.5·2²³'s bits)
    (v128.andnot
      (f32x4.mul (local.get $p) (i32x4.shl (i32x4.sub (local.get $t) (i32x4.splat (i32.const 0x4B3FFF81))) (i32.const 23)))
      (local.get $under)))

  ;; ln x for a positive normal float (Cephes' logf: x = m·2^e with m in [√½, √2), a polynomial in m - 1).
  (func $log (param $x f32) (result f32)
    (local $bits i32) (local $e f32) (local $m f32) (local $z f32) (local $y f32)
    (local.set $bits (i32.reinterpret_f32 (local.get $x)))
    (local.set $e (f32.convert_i32_s (i32.sub (i32.and (i32.shr_u (local.get $bits) (i32.const 23)) (i32.const 255)) (i32.const 126))))
    (local.set $m (f32.reinterpret_i32 (i32.or (i32.and (local.get $bits) (i32.const 0x807fffff)) (i32.const 0x3f000000))))
    (if (f32.lt (local.get $m) (f32.const 0.707106781186547524))
      (then
        (local.set $e (f32.sub (local.get $e) (f32.const 1)))
        (local.set $m (f32.sub (f32.add (local.get $m) (local.get $m)) (f32.const 1))))
      (else (local.set $m (f32.sub (local.get $m) (f32.const 1)))))
    (local.set $z (f32.mul (local.get $m) (local.get $m)))
    (local.set $y (f32.const 7.0376836292e-2))
    (local.set $y (f32.add (f32.mul (local.get $y) (local.get $m)) (f32.const -1.1514610310e-1)))
    (local.set $y (f32.add (f32.mul (local.get $y) (local.get $m)) (f32.const 1.1676998740e-1)))
    (local.set $y (f32.add (f32.mul (local.get $y) (local.get $m)) (f32.const -1.2420140846e-1)))
    (local.set $y (f32.add (f32.mul (local.get $y) (local.get $m)) (f32.const 1.4249322787e-1)))
    (local.set $y (f32.add (f32.mul (local.get $y) (local.get $m)) (f32.const -1.6668057665e-1)))
    (local.set $y (f32.add (f32.mul (local.get $y) (local.get $m)) (f32.const 2.0000714765e-1)))
    (local.set $y (f32.add (f32.mul (local.get $y) (local.get $m)) (f32.const -2.4999993993e-1)))
    (local.set $y (f32.add (f32.mul (local.get $y) (local.get $m)) (f32.const 3.3333331174e-1)))
    (local.set $y (f32.mul (f32.mul (local.get $y) (local.get $m)) (local.get $z)))
    (local.set $y (f32.add (local.get $y) (f32.mul (local.get $e) (f32.const -2.12194440e-4))))
    (local.set $y (f32.sub (local.get $y) (f32.mul (local.get $z) (f32.const 0.5))))
    (f32.add (f32.add (local.get $m) (local.get $y)) (f32.mul (local.get $e) (f32.const 0.693359375))))

  ;; The sum of a vector's four lanes.
  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; a · b over `bytes` bytes (a multiple of 16): two accumulators over 8 floats, then 4.
  (func $dot (param $a i32) (param $b i32) (param $bytes i32) (result f32)
    (local $i i32) (local $wide i32) (local $s0 v128) (local $s1 v128)
    (local.set $wide (i32.and (local.get $bytes) (i32.const -32)))
    (block $end8 (loop $dot8
      (br_if $end8 (i32.ge_u (local.get $i) (local.get $wide)))
      (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul
        (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i))))))
      (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul
        (v128.load offset=16 (i32.add (local.get $a) (local.get $i))) (v128.load offset=16 (i32.add (local.get $b) (local.get $i))))))
      (local.set $i (i32.add (local.get $i) (i32.const 32)))
      (br $dot8)))
    (if (i32.lt_u (local.get $i) (local.get $bytes))
      (then (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul
        (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i))))))))
    (call $hsum (f32x4.add (local.get $s0) (local.get $s1))))

  ;; ---------------------------------------------------------------------------------------
  ;; Dropout

  ;; Dropout of n = 8q + r values with tfjs's seeded uniform generator (seedrandom's Alea:
  ;; s ← frac(2091639·s₋₃ + c·2⁻³²), c the integer part, exactly as JavaScript's doubles do it).
  ;; `st` holds 8 lanes' states as uint32 words: the three last draws·2³² [8] × 3, then the
  ;; carries [8]; lane j is the stream from draw j·q on (the host jumps ahead to it), and makes
  ;; draws j·q … j·q + q - 1; lane 7 then goes on for the last r. Draw i keeps x[i] when
  ;; float32(u) ≥ rate: mask[i] = keep ? scale : 0, out[i] = x[i] · mask[i] (tfjs's ops, as
  ;; nn/dropout.ts writes them). Eight lanes as four f64x2 pairs hide the carry's latency. Two
  ;; passes: the draws (as float32) into mask, then mask and out four at a time — the lanes'
  ;; stores land far apart, and loads among them would wait on false dependencies.
  (func (export "dropout") (param $st i32) (param $q i32) (param $r i32) (param $rate f32) (param $scale f32)
    (param $x i32) (param $out i32) (param $mask i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $t v128) (local $k i32) (local $at i32) (local $lane i32) (local $m v128) (local $end i32) (local $n i32)
    (local $rates v128) (local $scales v128)
    ;; the states as doubles: s = word·2⁻³², c as an integer
    (local.set $a0 (call $lanesF64 (local.get $st) (i32.const 0)))
    (local.set $a1 (call $lanesF64 (local.get $st) (i32.const 8)))
    (local.set $a2 (call $lanesF64 (local.get $st) (i32.const 16)))
    (local.set $a3 (call $lanesF64 (local.get $st) (i32.const 24)))
    (local.set $b0 (call $lanesF64 (local.get $st) (i32.const 32)))
    (local.set $b1 (call $lanesF64 (local.get $st) (i32.const 40)))
    (local.set $b2 (call $lanesF64 (local.get $st) (i32.const 48)))
    (local.set $b3 (call $lanesF64 (local.get $st) (i32.const 56)))
    (local.set $s0 (call $lanesF64 (local.get $st) (i32.const 64)))
    (local.set $s1 (call $lanesF64 (local.get $st) (i32.const 72)))
    (local.set $s2 (call $lanesF64 (local.get $st) (i32.const 80)))
    (local.set $s3 (call $lanesF64 (local.get $st) (i32.const 88)))
    (local.set $c0 (f64x2.convert_low_i32x4_u (v128.load64_zero offset=96 (local.get $st))))
    (local.set $c1 (f64x2.convert_low_i32x4_u (v128.load64_zero offset=104 (local.get $st))))
    (local.set $c2 (f64x2.convert_low_i32x4_u (v128.load64_zero offset=112 (local.get $st))))
    (local.set $c3 (f64x2.convert_low_i32x4_u (v128.load64_zero offset=120 (local.get $st))))
    ;; $lane: the byte distance between two lanes' streams (q draws)
    (local.set $lane (i32.shl (local.get $q) (i32.const 2)))
    (local.set $at (local.get $mask))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $k) (local.get $q)))
      ;; pair p: lanes 2p and 2p + 1
      (local.set $t (f64x2.add (f64x2.mul (local.get $a0) (f64x2.splat (f64.const 2091639)))
        (f64x2.mul (local.get $c0) (f64x2.splat (f64.const 2.3283064365386963e-10)))))
      (local.set $c0 (f64x2.floor (local.get $t)))
      (local.set $a0 (local.get $b0)) (local.set $b0 (local.get $s0))
      (local.set $s0 (f64x2.sub (local.get $t) (local.get $c0)))
      (local.set $t (f64x2.add (f64x2.mul (local.get $a1) (f64x2.splat (f64.const 2091639)))
        (f64x2.mul (local.get $c1) (f64x2.splat (f64.const 2.3283064365386963e-10)))))
      (local.set $c1 (f64x2.floor (local.get $t)))
      (local.set $a1 (local.get $b1)) (local.set $b1 (local.get $s1))
      (local.set $s1 (f64x2.sub (local.get $t) (local.get $c1)))
      (local.set $t (f64x2.add (f64x2.mul (local.get $a2) (f64x2.splat (f64.const 2091639)))
        (f64x2.mul (local.get $c2) (f64x2.splat (f64.const 2.3283064365386963e-10)))))
      (local.set $c2 (f64x2.floor (local.get $t)))
      (local.set $a2 (local.get $b2)) (local.set $b2 (local.get $s2))
      (local.set $s2 (f64x2.sub (local.get $t) (local.get $c2)))
      (local.set $t (f64x2.add (f64x2.mul (local.get $a3) (f64x2.splat (f64.const 2091639)))
        (f64x2.mul (local.get $c3) (f64x2.splat (f64.const 2.3283064365386963e-10)))))
      (local.set $c3 (f64x2.floor (local.get $t)))
      (local.set $a3 (local.get $b3)) (local.set $b3 (local.get $s3))
      (local.set $s3 (f64x2.sub (local.get $t) (local.get $c3)))
      ;; the eight draws as float32, each to its lane's place
      (f32.store (local.get $at) (f32.demote_f64 (f64x2.extract_lane 0 (local.get $s0))))
      (f32.store (i32.add (local.get $at) (local.get $lane)) (f32.demote_f64 (f64x2.extract_lane 1 (local.get $s0))))
      (local.set $at (i32.add (local.get $at) (i32.shl (local.get $lane) (i32.const 1))))
      (f32.store (local.get $at) (f32.demote_f64 (f64x2.extract_lane 0 (local.get $s1))))
      (f32.store (i32.add (local.get $at) (local.get $lane)) (f32.demote_f64 (f64x2.extract_lane 1 (local.get $s1))))
      (local.set $at (i32.add (local.get $at) (i32.shl (local.get $lane) (i32.const 1))))
      (f32.store (local.get $at) (f32.demote_f64 (f64x2.extract_lane 0 (local.get $s2))))
      (f32.store (i32.add (local.get $at) (local.get $lane)) (f32.demote_f64 (f64x2.extract_lane 1 (local.get $s2))))
      (local.set $at (i32.add (local.get $at) (i32.shl (local.get $lane) (i32.const 1))))
      (f32.store (local.get $at) (f32.demote_f64 (f64x2.extract_lane 0 (local.get $s3))))
      (f32.store (i32.add (local.get $at) (local.get $lane)) (f32.demote_f64 (f64x2.extract_lane 1 (local.get $s3))))
      ;; back to lane 0, one draw on
      (local.set $at (i32.sub (local.get $at) (i32.sub (i32.mul (local.get $lane) (i32.const 6)) (i32.const 4))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $each)))
    ;; lane 7 (pair 3's second lane) goes on for the last r draws, at 8q …
    (local.set $at (i32.add (local.get $mask) (i32.shl (local.get $q) (i32.const 5))))
    (local.set $k (i32.const 0))
    (block $tailDone (loop $tail
      (br_if $tailDone (i32.ge_u (local.get $k) (local.get $r)))
      (local.set $t (f64x2.add (f64x2.mul (local.get $a3) (f64x2.splat (f64.const 2091639)))
        (f64x2.mul (local.get $c3) (f64x2.splat (f64.const 2.3283064365386963e-10)))))
      (local.set $c3 (f64x2.floor (local.get $t)))
      (local.set $a3 (local.get $b3)) (local.set $b3 (local.get $s3))
      (local.set $s3 (f64x2.sub (local.get $t) (local.get $c3)))
      (f32.store (local.get $at) (f32.demote_f64 (f64x2.extract_lane 1 (local.get $s3))))
      (local.set $at (i32.add (local.get $at) (i32.const 4)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $tail)))
    ;; mask = draw ≥ rate ? scale : 0 and out = x · mask, four at a time, then one at a time
    (local.set $rates (f32x4.splat (local.get $rate)))
    (local.set $scales (f32x4.splat (local.get $scale)))
    (local.set $n (i32.shl (i32.add (i32.shl (local.get $q) (i32.const 3)) (local.get $r)) (i32.const 2)))
    (local.set $end (i32.and (local.get $n) (i32.const -16)))
    (local.set $k (i32.const 0))
    (block $applyDone (loop $apply
      (br_if $applyDone (i32.ge_u (local.get $k) (local.get $end)))
      (local.set $m (v128.and (f32x4.ge (v128.load (i32.add (local.get $mask) (local.get $k))) (local.get $rates)) (local.get $scales)))
      (v128.store (i32.add (local.get $mask) (local.get $k)) (local.get $m))
      (v128.store (i32.add (local.get $out) (local.get $k)) (f32x4.mul (v128.load (i32.add (local.get $x) (local.get $k))) (local.get $m)))
      (local.set $k (i32.add (local.get $k) (i32.const 16)))
      (br $apply)))
    (block $lastDone (loop $last
      (br_if $lastDone (i32.ge_u (local.get $k) (local.get $n)))
      (local.set $m (v128.and (f32x4.ge (v128.load32_splat (i32.add (local.get $mask) (local.get $k))) (local.get $rates)) (local.get $scales)))
      (f32.store (i32.add (local.get $mask) (local.get $k)) (f32x4.extract_lane 0 (local.get $m)))
      (f32.store (i32.add (local.get $out) (local.get $k)) (f32.mul (f32.load (i32.add (local.get $x) (local.get $k))) (f32x4.extract_lane 0 (local.get $m))))
      (local.set $k (i32.add (local.get $k) (i32.const 4)))
      (br $last))))

  ;; Two lanes' uint32 words, `at` bytes into st, as doubles × 2⁻³².
  (func $lanesF64 (param $st i32) (param $at i32) (result v128)
    (f64x2.mul (f64x2.convert_low_i32x4_u (v128.load64_zero (i32.add (local.get $st) (local.get $at))))
      (f64x2.splat (f64.const 2.3283064365386963e-10))))

  ;; ---------------------------------------------------------------------------------------
  ;; Attention over whole sequences

;; The four dot products q·k0 … q·k3 over `bytes` bytes (a multiple of 16) as one vector:
  ;; four accumulators, then a 4 × 4 transpose-and-add.
  (func $dots4 (param $q i32) (param $k0 i32) (param $k1 i32) (param $k2 i32) (param $k3 i32) (param $bytes i32) (result v128)
    (local $i i32) (local $x v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $u v128) (local $w v128) (local $wide i32)
    ;; 8 features a pass (two vectors of each row), then 4
    (local.set $wide (i32.and (local.get $bytes) (i32.const -32)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $wide)))
      (local.set $x (v128.load (i32.add (local.get $q) (local.get $i))))
      (local.set $u (v128.load offset=16 (i32.add (local.get $q) (local.get $i))))
      (local.set $a0 (f32x4.add (f32x4.add (local.get $a0) (f32x4.mul (local.get $x) (v128.load (i32.add (local.get $k0) (local.get $i)))))
        (f32x4.mul (local.get $u) (v128.load offset=16 (i32.add (local.get $k0) (local.get $i))))))
      (local.set $a1 (f32x4.add (f32x4.add (local.get $a1) (f32x4.mul (local.get $x) (v128.load (i32.add (local.get $k1) (local.get $i)))))
        (f32x4.mul (local.get $u) (v128.load offset=16 (i32.add (local.get $k1) (local.get $i))))))
      (local.set $a2 (f32x4.add (f32x4.add (local.get $a2) (f32x4.mul (local.get $x) (v128.load (i32.add (local.get $k2) (local.get $i)))))
        (f32x4.mul (local.get $u) (v128.load offset=16 (i32.add (local.get $k2) (local.get $i))))))
      (local.set $a3 (f32x4.add (f32x4.add (local.get $a3) (f32x4.mul (local.get $x) (v128.load (i32.add (local.get $k3) (local.get $i)))))
        (f32x4.mul (local.get $u) (v128.load offset=16 (i32.add (local.get $k3) (local.get $i))))))
      (local.set $i (i32.add (local.get $i) (i32.const 32)))
      (br $each)))
    (if (i32.lt_u (local.get $i) (local.get $bytes))
      (then
        (local.set $x (v128.load (i32.add (local.get $q) (local.get $i))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $x) (v128.load (i32.add (local.get $k0) (local.get $i))))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $x) (v128.load (i32.add (local.get $k1) (local.get $i))))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $x) (v128.load (i32.add (local.get $k2) (local.get $i))))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $x) (v128.load (i32.add (local.get $k3) (local.get $i))))))))
    ;; (a0₀+a0₂, a1₀+a1₂, a0₁+a0₃, a1₁+a1₃) and the same for a2, a3; then the halves added
    (local.set $u (f32x4.add (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a0) (local.get $a1))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a0) (local.get $a1))))
    (local.set $w (f32x4.add (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a2) (local.get $a3))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a2) (local.get $a3))))
    (f32x4.add (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u) (local.get $w))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u) (local.get $w))))

  ;; The dot products of q with rows j … j + 3 of K (rows `stride` bytes apart, T of them): rows
  ;; past the last are read as the last (their lanes are not used).
  (func $dotsAt (param $q i32) (param $k i32) (param $j i32) (param $t i32) (param $stride i32) (param $bytes i32) (result v128)
    (local $last i32) (local $kj i32)
    (if (i32.le_u (i32.add (local.get $j) (i32.const 4)) (local.get $t))
      (then
        (local.set $kj (i32.add (local.get $k) (i32.mul (local.get $j) (local.get $stride))))
        (return (call $dots4 (local.get $q) (local.get $kj) (i32.add (local.get $kj) (local.get $stride))
          (i32.add (local.get $kj) (i32.shl (local.get $stride) (i32.const 1))) (i32.add (local.get $kj) (i32.mul (local.get $stride) (i32.const 3)))
          (local.get $bytes)))))
    (local.set $last (i32.sub (local.get $t) (i32.const 1)))
    (call $dots4 (local.get $q)
      (i32.add (local.get $k) (i32.mul (local.get $j) (local.get $stride)))
      (i32.add (local.get $k) (i32.mul (select (i32.add (local.get $j) (i32.const 1)) (local.get $last) (i32.lt_u (i32.add (local.get $j) (i32.const 1)) (local.get $t))) (local.get $stride)))
      (i32.add (local.get $k) (i32.mul (select (i32.add (local.get $j) (i32.const 2)) (local.get $last) (i32.lt_u (i32.add (local.get $j) (i32.const 2)) (local.get $t))) (local.get $stride)))
      (i32.add (local.get $k) (i32.mul (select (i32.add (local.get $j) (i32.const 3)) (local.get $last) (i32.lt_u (i32.add (local.get $j) (i32.const 3)) (local.get $t))) (local.get $stride)))
      (local.get $bytes)))

  ;; Four floats from p (at most `count` of them there, count > 0), the others `fill`.
  (func $load4 (param $p i32) (param $count i32) (param $fill f32) (result v128)
    (local $v v128)
    (if (i32.ge_u (local.get $count) (i32.const 4)) (then (return (v128.load (local.get $p)))))
    (local.set $v (f32x4.splat (local.get $fill)))
    (local.set $v (f32x4.replace_lane 0 (local.get $v) (f32.load (local.get $p))))
    (if (i32.ge_u (local.get $count) (i32.const 2)) (then (local.set $v (f32x4.replace_lane 1 (local.get $v) (f32.load offset=4 (local.get $p))))))
    (if (i32.ge_u (local.get $count) (i32.const 3)) (then (local.set $v (f32x4.replace_lane 2 (local.get $v) (f32.load offset=8 (local.get $p))))))
    (local.get $v))

  ;; dst = scale · Σ_t w[t] · rows[t] over t < count, a row `bytes` bytes (a multiple of 16) of
  ;; rows `stride` bytes apart, the weights `wStride` bytes apart; zero weights skipped. Sixteen
  ;; features at a time (four accumulators), then four.
  (func $weightedSum (param $w i32) (param $wStride i32) (param $rows i32) (param $stride i32) (param $count i32) (param $bytes i32)
    (param $scale f32) (param $dst i32)
    (local $i i32) (local $t i32) (local $wide i32) (local $at i32) (local $wp i32) (local $wt f32) (local $ws v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $ss v128)
    (local.set $wide (i32.and (local.get $bytes) (i32.const -64)))
    (local.set $ss (f32x4.splat (local.get $scale)))
    (block $end16 (loop $cols16
      (br_if $end16 (i32.ge_u (local.get $i) (local.get $wide)))
      (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $a1 (v128.const i32x4 0 0 0 0))
      (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $a3 (v128.const i32x4 0 0 0 0))
      (local.set $at (i32.add (local.get $rows) (local.get $i)))
      (local.set $wp (local.get $w))
      (local.set $t (i32.const 0))
      (block $rowsDone (loop $eachRow
        (br_if $rowsDone (i32.ge_u (local.get $t) (local.get $count)))
        (local.set $wt (f32.load (local.get $wp)))
        (if (f32.ne (local.get $wt) (f32.const 0))
          (then
            (local.set $ws (f32x4.splat (local.get $wt)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $ws) (v128.load (local.get $at)))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $ws) (v128.load offset=16 (local.get $at)))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $ws) (v128.load offset=32 (local.get $at)))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $ws) (v128.load offset=48 (local.get $at)))))))
        (local.set $at (i32.add (local.get $at) (local.get $stride)))
        (local.set $wp (i32.add (local.get $wp) (local.get $wStride)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $eachRow)))
      (v128.store (i32.add (local.get $dst) (local.get $i)) (f32x4.mul (local.get $ss) (local.get $a0)))
      (v128.store offset=16 (i32.add (local.get $dst) (local.get $i)) (f32x4.mul (local.get $ss) (local.get $a1)))
      (v128.store offset=32 (i32.add (local.get $dst) (local.get $i)) (f32x4.mul (local.get $ss) (local.get $a2)))
      (v128.store offset=48 (i32.add (local.get $dst) (local.get $i)) (f32x4.mul (local.get $ss) (local.get $a3)))
      (local.set $i (i32.add (local.get $i) (i32.const 64)))
      (br $cols16)))
    (block $end4 (loop $cols4
      (br_if $end4 (i32.ge_u (local.get $i) (local.get $bytes)))
      (local.set $a0 (v128.const i32x4 0 0 0 0))
      (local.set $at (i32.add (local.get $rows) (local.get $i)))
      (local.set $wp (local.get $w))
      (local.set $t (i32.const 0))
      (block $rowsDone4 (loop $eachRow4
        (br_if $rowsDone4 (i32.ge_u (local.get $t) (local.get $count)))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat (local.get $wp)) (v128.load (local.get $at)))))
        (local.set $at (i32.add (local.get $at) (local.get $stride)))
        (local.set $wp (i32.add (local.get $wp) (local.get $wStride)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $eachRow4)))
      (v128.store (i32.add (local.get $dst) (local.get $i)) (f32x4.mul (local.get $ss) (local.get $a0)))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $cols4))))

  ;; Four query rows at a time: each key row's loads shared by four queries, the four rows'
  ;; weights interleaved (one vector per key, a lane per row) so that their softmax needs no
  ;; sums across lanes.

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

  ;; The scores of four query rows (q, rows `stride` bytes apart) against keys j0 … j1 - 1 of K
  ;; (rows `stride` bytes apart, `bytes` bytes of features, a multiple of 16), interleaved and
  ;; added to what dst holds there (the mask's values): the vector at dst + 16·j gets
  ;; scale · [q0·k_j, q1·k_j, q2·k_j, q3·k_j] added. Two keys at a time: the four query vectors
  ;; and two key vectors loaded per four features feed eight multiply-adds.
  (func $scoresRows4 (param $q i32) (param $k i32) (param $j0 i32) (param $j1 i32) (param $stride i32) (param $bytes i32) (param $scale f32) (param $dst i32)
    (local $j i32) (local $i i32) (local $row i32) (local $next i32) (local $q1 i32) (local $q2 i32) (local $q3 i32) (local $at i32) (local $sc v128)
    (local $ab v128) (local $cd v128)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $k0 v128) (local $k1 v128)
    (local $s00 v128) (local $s10 v128) (local $s20 v128) (local $s30 v128)
    (local $s01 v128) (local $s11 v128) (local $s21 v128) (local $s31 v128)
    (local.set $q1 (i32.add (local.get $q) (local.get $stride)))
    (local.set $q2 (i32.add (local.get $q1) (local.get $stride)))
    (local.set $q3 (i32.add (local.get $q2) (local.get $stride)))
    (local.set $sc (f32x4.splat (local.get $scale)))
    (local.set $j (local.get $j0))
    (local.set $row (i32.add (local.get $k) (i32.mul (local.get $j0) (local.get $stride))))
    (local.set $at (i32.add (local.get $dst) (i32.shl (local.get $j0) (i32.const 4))))
    (block $pairsDone (loop $pairs
      (br_if $pairsDone (i32.gt_u (i32.add (local.get $j) (i32.const 2)) (local.get $j1)))
      (local.set $next (i32.add (local.get $row) (local.get $stride)))
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
        (local.set $k1 (v128.load (i32.add (local.get $next) (local.get $i))))
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
      ;; the lane sums ($hsum4, written out: Node 20's V8 does not inline wasm calls)
      (local.set $ab (f32x4.add
        (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s00) (local.get $s10))
        (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s00) (local.get $s10))))
      (local.set $cd (f32x4.add
        (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s20) (local.get $s30))
        (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s20) (local.get $s30))))
      (v128.store (local.get $at) (f32x4.add (v128.load (local.get $at)) (f32x4.mul (local.get $sc)
        (f32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $ab) (local.get $cd))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $ab) (local.get $cd))))))
      (local.set $ab (f32x4.add
        (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s01) (local.get $s11))
        (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s01) (local.get $s11))))
      (local.set $cd (f32x4.add
        (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s21) (local.get $s31))
        (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s21) (local.get $s31))))
      (v128.store offset=16 (local.get $at) (f32x4.add (v128.load offset=16 (local.get $at)) (f32x4.mul (local.get $sc)
        (f32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $ab) (local.get $cd))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $ab) (local.get $cd))))))
      (local.set $row (i32.add (local.get $next) (local.get $stride)))
      (local.set $at (i32.add (local.get $at) (i32.const 32)))
      (local.set $j (i32.add (local.get $j) (i32.const 2)))
      (br $pairs)))
    ;; an odd last key
    (if (i32.lt_u (local.get $j) (local.get $j1)) (then
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
      (v128.store (local.get $at) (f32x4.add (v128.load (local.get $at))
        (f32x4.mul (local.get $sc) (call $hsum4 (local.get $s00) (local.get $s10) (local.get $s20) (local.get $s30))))))))

  ;; o_r = inv_r · Σ_j w_rj · v_j for four rows r (o, rows `stride` bytes apart) over n rows v_j of
  ;; V (`stride` bytes apart, `bytes` bytes of features, a multiple of 16), the weight w_rj at
  ;; w + r·wRow + j·wKey: interleaved vectors (wRow 4, wKey 16: the forward pass's scores), or
  ;; four rows of a matrix (wRow its row's bytes, wKey 4), or four of its columns (wRow 4, wKey
  ;; its row's bytes). Eight features at a time (two vectors per row, eight accumulators), then
  ;; four.
  (func $weightedRows4 (param $w i32) (param $wRow i32) (param $wKey i32) (param $v i32) (param $n i32) (param $stride i32) (param $bytes i32)
    (param $inv v128) (param $o i32)
    (local $f i32) (local $j i32) (local $wide i32) (local $at i32) (local $pw i32) (local $wRow2 i32) (local $wRow3 i32)
    (local $p0 v128) (local $p1 v128) (local $p2 v128) (local $p3 v128) (local $y0 v128) (local $y1 v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $e0 v128) (local $e1 v128) (local $e2 v128) (local $e3 v128)
    (local $i0 v128) (local $i1 v128) (local $i2 v128) (local $i3 v128)
    (local.set $i0 (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $inv) (local.get $inv)))
    (local.set $i1 (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $inv) (local.get $inv)))
    (local.set $i2 (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $inv) (local.get $inv)))
    (local.set $i3 (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $inv) (local.get $inv)))
    (local.set $wRow2 (i32.shl (local.get $wRow) (i32.const 1)))
    (local.set $wRow3 (i32.add (local.get $wRow2) (local.get $wRow)))
    (local.set $wide (i32.and (local.get $bytes) (i32.const -32)))
    (block $colsDone (loop $cols
      (br_if $colsDone (i32.ge_u (local.get $f) (local.get $wide)))
      (local.set $c0 (v128.const i32x4 0 0 0 0)) (local.set $c1 (v128.const i32x4 0 0 0 0))
      (local.set $c2 (v128.const i32x4 0 0 0 0)) (local.set $c3 (v128.const i32x4 0 0 0 0))
      (local.set $e0 (v128.const i32x4 0 0 0 0)) (local.set $e1 (v128.const i32x4 0 0 0 0))
      (local.set $e2 (v128.const i32x4 0 0 0 0)) (local.set $e3 (v128.const i32x4 0 0 0 0))
      (local.set $at (i32.add (local.get $v) (local.get $f)))
      (local.set $pw (local.get $w))
      (local.set $j (i32.const 0))
      (block $rowsDone (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $j) (local.get $n)))
        (local.set $p0 (v128.load32_splat (local.get $pw)))
        (local.set $p1 (v128.load32_splat (i32.add (local.get $pw) (local.get $wRow))))
        (local.set $p2 (v128.load32_splat (i32.add (local.get $pw) (local.get $wRow2))))
        (local.set $p3 (v128.load32_splat (i32.add (local.get $pw) (local.get $wRow3))))
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
        (local.set $at (i32.add (local.get $at) (local.get $stride)))
        (local.set $pw (i32.add (local.get $pw) (local.get $wKey)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $rows)))
      (local.set $at (i32.add (local.get $o) (local.get $f)))
      (v128.store (local.get $at) (f32x4.mul (local.get $c0) (local.get $i0)))
      (v128.store offset=16 (local.get $at) (f32x4.mul (local.get $e0) (local.get $i0)))
      (local.set $at (i32.add (local.get $at) (local.get $stride)))
      (v128.store (local.get $at) (f32x4.mul (local.get $c1) (local.get $i1)))
      (v128.store offset=16 (local.get $at) (f32x4.mul (local.get $e1) (local.get $i1)))
      (local.set $at (i32.add (local.get $at) (local.get $stride)))
      (v128.store (local.get $at) (f32x4.mul (local.get $c2) (local.get $i2)))
      (v128.store offset=16 (local.get $at) (f32x4.mul (local.get $e2) (local.get $i2)))
      (local.set $at (i32.add (local.get $at) (local.get $stride)))
      (v128.store (local.get $at) (f32x4.mul (local.get $c3) (local.get $i3)))
      (v128.store offset=16 (local.get $at) (f32x4.mul (local.get $e3) (local.get $i3)))
      (local.set $f (i32.add (local.get $f) (i32.const 32)))
      (br $cols)))
    ;; four last features (d ≡ 4 mod 8)
    (if (i32.lt_u (local.get $f) (local.get $bytes)) (then
      (local.set $c0 (v128.const i32x4 0 0 0 0)) (local.set $c1 (v128.const i32x4 0 0 0 0))
      (local.set $c2 (v128.const i32x4 0 0 0 0)) (local.set $c3 (v128.const i32x4 0 0 0 0))
      (local.set $at (i32.add (local.get $v) (local.get $f)))
      (local.set $pw (local.get $w))
      (local.set $j (i32.const 0))
      (block $rows4Done (loop $rows4
        (br_if $rows4Done (i32.ge_u (local.get $j) (local.get $n)))
        (local.set $y0 (v128.load (local.get $at)))
        (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (v128.load32_splat (local.get $pw)) (local.get $y0))))
        (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (v128.load32_splat (i32.add (local.get $pw) (local.get $wRow))) (local.get $y0))))
        (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (v128.load32_splat (i32.add (local.get $pw) (local.get $wRow2))) (local.get $y0))))
        (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (v128.load32_splat (i32.add (local.get $pw) (local.get $wRow3))) (local.get $y0))))
        (local.set $at (i32.add (local.get $at) (local.get $stride)))
        (local.set $pw (i32.add (local.get $pw) (local.get $wKey)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $rows4)))
      (local.set $at (i32.add (local.get $o) (local.get $f)))
      (v128.store (local.get $at) (f32x4.mul (local.get $c0) (local.get $i0)))
      (local.set $at (i32.add (local.get $at) (local.get $stride)))
      (v128.store (local.get $at) (f32x4.mul (local.get $c1) (local.get $i1)))
      (local.set $at (i32.add (local.get $at) (local.get $stride)))
      (v128.store (local.get $at) (f32x4.mul (local.get $c2) (local.get $i2)))
      (local.set $at (i32.add (local.get $at) (local.get $stride)))
      (v128.store (local.get $at) (f32x4.mul (local.get $c3) (local.get $i3))))))

  ;; The first `count` lanes of v stored at p (all four when count ≥ 4): the end of a row of P,
  ;; which must not run into the next row.
  (func $store4 (param $p i32) (param $v v128) (param $count i32)
    (if (i32.ge_u (local.get $count) (i32.const 4)) (then (v128.store (local.get $p) (local.get $v)) (return)))
    (f32.store (local.get $p) (f32x4.extract_lane 0 (local.get $v)))
    (if (i32.ge_u (local.get $count) (i32.const 2)) (then (f32.store offset=4 (local.get $p) (f32x4.extract_lane 1 (local.get $v)))))
    (if (i32.ge_u (local.get $count) (i32.const 3)) (then (f32.store offset=8 (local.get $p) (f32x4.extract_lane 2 (local.get $v))))))

  ;; Attention of four consecutive query rows of one (sequence, head) over its T keys and values:
  ;; q and out at the first row (rows `stride` bytes apart), k and v at the head's first key row;
  ;; mask, drop and probs at the first row's T floats (rows T floats apart), or 0 for none (as in
  ;; "attention"). The scores go into scratch interleaved (the vector at scratch + 16·j holds key
  ;; j's four scores); a group of four keys whose mask is -Infinity in all four rows is skipped,
  ;; and no key after the last one some row sees is computed. The rows' softmax runs lane by lane
  ;; (e^(s − max), their sums; the normalisation is left to the weighted sum, and to P's rows
  ;; when P is kept). `scratch` holds 4·(T + 4) floats.
  (func $attendRows4 (param $q i32) (param $k i32) (param $v i32) (param $t i32) (param $stride i32) (param $bytes i32) (param $scale f32)
    (param $mask i32) (param $drop i32) (param $probs i32) (param $scratch i32) (param $out i32)
    (local $j i32) (local $n i32) (local $end i32) (local $run i32) (local $at i32) (local $stop i32) (local $tBytes i32) (local $left i32)
    (local $m0 v128) (local $m1 v128) (local $m2 v128) (local $m3 v128) (local $mx v128) (local $z v128) (local $e v128) (local $inv v128)
    (local $i0 v128) (local $i1 v128) (local $i2 v128) (local $i3 v128) (local $u0 v128) (local $u1 v128) (local $u2 v128) (local $u3 v128)
    (local.set $tBytes (i32.shl (local.get $t) (i32.const 2)))
    (if (local.get $mask)
      (then
        ;; the mask's columns into scratch, then the scores added over each run of groups that some row sees
        (local.set $run (i32.const -1))
        (block $groupsDone (loop $groups
          (br_if $groupsDone (i32.ge_u (local.get $j) (local.get $t)))
          ;; the four rows' mask values for keys j … j + 3 (-Infinity past T)
          (local.set $at (i32.add (local.get $mask) (i32.shl (local.get $j) (i32.const 2))))
          (local.set $left (i32.sub (local.get $t) (local.get $j)))
          (if (i32.ge_u (local.get $left) (i32.const 4))
            (then
              (local.set $m0 (v128.load (local.get $at)))
              (local.set $m1 (v128.load (i32.add (local.get $at) (local.get $tBytes))))
              (local.set $m2 (v128.load (i32.add (local.get $at) (i32.shl (local.get $tBytes) (i32.const 1)))))
              (local.set $m3 (v128.load (i32.add (local.get $at) (i32.mul (local.get $tBytes) (i32.const 3))))))
            (else
              (local.set $m0 (call $load4 (local.get $at) (local.get $left) (f32.const -inf)))
              (local.set $m1 (call $load4 (i32.add (local.get $at) (local.get $tBytes)) (local.get $left) (f32.const -inf)))
              (local.set $m2 (call $load4 (i32.add (local.get $at) (i32.shl (local.get $tBytes) (i32.const 1))) (local.get $left) (f32.const -inf)))
              (local.set $m3 (call $load4 (i32.add (local.get $at) (i32.mul (local.get $tBytes) (i32.const 3))) (local.get $left) (f32.const -inf)))))
          ;; n: the group's keys up to the last one that some row sees (none: the group is skipped)
          (local.set $n (i32.sub (i32.const 32) (i32.clz (i32x4.bitmask (v128.or
            (v128.or (f32x4.ne (local.get $m0) (f32x4.splat (f32.const -inf))) (f32x4.ne (local.get $m1) (f32x4.splat (f32.const -inf))))
            (v128.or (f32x4.ne (local.get $m2) (f32x4.splat (f32.const -inf))) (f32x4.ne (local.get $m3) (f32x4.splat (f32.const -inf)))))))))
          (local.set $at (i32.add (local.get $scratch) (i32.shl (local.get $j) (i32.const 4))))
          (if (local.get $n)
            (then
              ;; transposed: [m0₀, m1₀, m2₀, m3₀] … (8 shuffles, written out: Node 20's V8 inlines no wasm calls)
              (local.set $u0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $m0) (local.get $m1)))
              (local.set $u1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $m2) (local.get $m3)))
              (local.set $u2 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $m0) (local.get $m1)))
              (local.set $u3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $m2) (local.get $m3)))
              (local.set $m0 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u0) (local.get $u1)))
              (local.set $m1 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u0) (local.get $u1)))
              (local.set $m2 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u2) (local.get $u3)))
              (local.set $m3 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u2) (local.get $u3)))
              (v128.store (local.get $at) (local.get $m0))
              (v128.store offset=16 (local.get $at) (local.get $m1))
              (v128.store offset=32 (local.get $at) (local.get $m2))
              (v128.store offset=48 (local.get $at) (local.get $m3))
              (if (i32.lt_s (local.get $run) (i32.const 0)) (then (local.set $run (local.get $j))))
              (local.set $end (i32.add (local.get $j) (local.get $n))))
            (else
              (v128.store (local.get $at) (v128.const f32x4 -inf -inf -inf -inf))
              (v128.store offset=16 (local.get $at) (v128.const f32x4 -inf -inf -inf -inf))
              (v128.store offset=32 (local.get $at) (v128.const f32x4 -inf -inf -inf -inf))
              (v128.store offset=48 (local.get $at) (v128.const f32x4 -inf -inf -inf -inf))
              (if (i32.ge_s (local.get $run) (i32.const 0))
                (then
                  (call $scoresRows4 (local.get $q) (local.get $k) (local.get $run) (local.get $end)
                    (local.get $stride) (local.get $bytes) (local.get $scale) (local.get $scratch))
                  (local.set $run (i32.const -1))))))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $groups)))
        (if (i32.ge_s (local.get $run) (i32.const 0))
          (then (call $scoresRows4 (local.get $q) (local.get $k) (local.get $run) (local.get $end)
            (local.get $stride) (local.get $bytes) (local.get $scale) (local.get $scratch)))))
      (else
        ;; no mask: the scores added to zeros
        (local.set $at (local.get $scratch))
        (local.set $stop (i32.add (local.get $scratch) (i32.shl (local.get $t) (i32.const 4))))
        (block $zerosDone (loop $zeros
          (br_if $zerosDone (i32.ge_u (local.get $at) (local.get $stop)))
          (v128.store (local.get $at) (v128.const i32x4 0 0 0 0))
          (local.set $at (i32.add (local.get $at) (i32.const 16)))
          (br $zeros)))
        (call $scoresRows4 (local.get $q) (local.get $k) (i32.const 0) (local.get $t) (local.get $stride) (local.get $bytes) (local.get $scale) (local.get $scratch))
        (local.set $end (local.get $t))))
    ;; each row's maximum, lane by lane, no lower than -FLT_MAX (a row that sees no key then gets
    ;; the weights 0, not NaN, as softmaxRow gives it)
    (local.set $stop (i32.add (local.get $scratch) (i32.shl (local.get $end) (i32.const 4))))
    (local.set $mx (f32x4.splat (f32.const -0x1.fffffep+127)))
    (local.set $at (local.get $scratch))
    (block $maxDone (loop $max
      (br_if $maxDone (i32.ge_u (local.get $at) (local.get $stop)))
      (local.set $mx (f32x4.pmax (local.get $mx) (v128.load (local.get $at))))
      (local.set $at (i32.add (local.get $at) (i32.const 16)))
      (br $max)))
    ;; e^(s - max) and the rows' sums (-Infinity gives 0)
    (local.set $at (local.get $scratch))
    (block $expDone (loop $exp
      (br_if $expDone (i32.ge_u (local.get $at) (local.get $stop)))
      (local.set $e (call $exp4 (f32x4.sub (v128.load (local.get $at)) (local.get $mx))))
      (v128.store (local.get $at) (local.get $e))
      (local.set $z (f32x4.add (local.get $z) (local.get $e)))
      (local.set $at (i32.add (local.get $at) (i32.const 16)))
      (br $exp)))
    ;; zero weights for the three keys after the last computed (P and the dropout mask are read four keys at a time)
    (v128.store (local.get $stop) (v128.const i32x4 0 0 0 0))
    (v128.store offset=16 (local.get $stop) (v128.const i32x4 0 0 0 0))
    (v128.store offset=32 (local.get $stop) (v128.const i32x4 0 0 0 0))
    ;; 1 / sum, 0 for a row without weights
    (local.set $inv (v128.and (f32x4.div (f32x4.splat (f32.const 1)) (local.get $z)) (f32x4.gt (local.get $z) (v128.const i32x4 0 0 0 0))))
    ;; P's four rows: the weights transposed back into rows and normalised, zeros after the last key computed
    (if (local.get $probs)
      (then
        (local.set $i0 (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $inv) (local.get $inv)))
        (local.set $i1 (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $inv) (local.get $inv)))
        (local.set $i2 (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $inv) (local.get $inv)))
        (local.set $i3 (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $inv) (local.get $inv)))
        (local.set $j (i32.const 0))
        (block $pDone (loop $pGroups
          (br_if $pDone (i32.ge_u (local.get $j) (local.get $t)))
          (if (i32.lt_u (local.get $j) (local.get $end))
            (then
              (local.set $at (i32.add (local.get $scratch) (i32.shl (local.get $j) (i32.const 4))))
              (local.set $m0 (v128.load (local.get $at)))
              (local.set $m1 (v128.load offset=16 (local.get $at)))
              (local.set $m2 (v128.load offset=32 (local.get $at)))
              (local.set $m3 (v128.load offset=48 (local.get $at)))
              (local.set $u0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $m0) (local.get $m1)))
              (local.set $u1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $m2) (local.get $m3)))
              (local.set $u2 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $m0) (local.get $m1)))
              (local.set $u3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $m2) (local.get $m3)))
              (local.set $m0 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u0) (local.get $u1)))
              (local.set $m1 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u0) (local.get $u1)))
              (local.set $m2 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u2) (local.get $u3)))
              (local.set $m3 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u2) (local.get $u3))))
            (else
              (local.set $m0 (v128.const i32x4 0 0 0 0)) (local.set $m1 (v128.const i32x4 0 0 0 0))
              (local.set $m2 (v128.const i32x4 0 0 0 0)) (local.set $m3 (v128.const i32x4 0 0 0 0))))
          (local.set $m0 (f32x4.mul (local.get $m0) (local.get $i0)))
          (local.set $m1 (f32x4.mul (local.get $m1) (local.get $i1)))
          (local.set $m2 (f32x4.mul (local.get $m2) (local.get $i2)))
          (local.set $m3 (f32x4.mul (local.get $m3) (local.get $i3)))
          (local.set $at (i32.add (local.get $probs) (i32.shl (local.get $j) (i32.const 2))))
          (local.set $left (i32.sub (local.get $t) (local.get $j)))
          (if (i32.ge_u (local.get $left) (i32.const 4))
            (then
              (v128.store (local.get $at) (local.get $m0))
              (v128.store (i32.add (local.get $at) (local.get $tBytes)) (local.get $m1))
              (v128.store (i32.add (local.get $at) (i32.shl (local.get $tBytes) (i32.const 1))) (local.get $m2))
              (v128.store (i32.add (local.get $at) (i32.mul (local.get $tBytes) (i32.const 3))) (local.get $m3)))
            (else
              (call $store4 (local.get $at) (local.get $m0) (local.get $left))
              (call $store4 (i32.add (local.get $at) (local.get $tBytes)) (local.get $m1) (local.get $left))
              (call $store4 (i32.add (local.get $at) (i32.shl (local.get $tBytes) (i32.const 1))) (local.get $m2) (local.get $left))
              (call $store4 (i32.add (local.get $at) (i32.mul (local.get $tBytes) (i32.const 3))) (local.get $m3) (local.get $left))))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $pGroups)))))
    ;; with a dropout mask, the weights times its columns (P kept before it)
    (if (local.get $drop)
      (then
        (local.set $j (i32.const 0))
        (block $dDone (loop $dGroups
          (br_if $dDone (i32.ge_u (local.get $j) (local.get $end)))
          (local.set $at (i32.add (local.get $drop) (i32.shl (local.get $j) (i32.const 2))))
          (local.set $left (i32.sub (local.get $t) (local.get $j)))
          (if (i32.ge_u (local.get $left) (i32.const 4))
            (then
              (local.set $m0 (v128.load (local.get $at)))
              (local.set $m1 (v128.load (i32.add (local.get $at) (local.get $tBytes))))
              (local.set $m2 (v128.load (i32.add (local.get $at) (i32.shl (local.get $tBytes) (i32.const 1)))))
              (local.set $m3 (v128.load (i32.add (local.get $at) (i32.mul (local.get $tBytes) (i32.const 3))))))
            (else
              (local.set $m0 (call $load4 (local.get $at) (local.get $left) (f32.const 0)))
              (local.set $m1 (call $load4 (i32.add (local.get $at) (local.get $tBytes)) (local.get $left) (f32.const 0)))
              (local.set $m2 (call $load4 (i32.add (local.get $at) (i32.shl (local.get $tBytes) (i32.const 1))) (local.get $left) (f32.const 0)))
              (local.set $m3 (call $load4 (i32.add (local.get $at) (i32.mul (local.get $tBytes) (i32.const 3))) (local.get $left) (f32.const 0)))))
          (local.set $u0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $m0) (local.get $m1)))
          (local.set $u1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $m2) (local.get $m3)))
          (local.set $u2 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $m0) (local.get $m1)))
          (local.set $u3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $m2) (local.get $m3)))
          (local.set $m0 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u0) (local.get $u1)))
          (local.set $m1 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u0) (local.get $u1)))
          (local.set $m2 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u2) (local.get $u3)))
          (local.set $m3 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u2) (local.get $u3)))
          (local.set $at (i32.add (local.get $scratch) (i32.shl (local.get $j) (i32.const 4))))
          (v128.store (local.get $at) (f32x4.mul (v128.load (local.get $at)) (local.get $m0)))
          (v128.store offset=16 (local.get $at) (f32x4.mul (v128.load offset=16 (local.get $at)) (local.get $m1)))
          (v128.store offset=32 (local.get $at) (f32x4.mul (v128.load offset=32 (local.get $at)) (local.get $m2)))
          (v128.store offset=48 (local.get $at) (f32x4.mul (v128.load offset=48 (local.get $at)) (local.get $m3)))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $dGroups)))))
    ;; out_r = Σ_j P_rj v_j (P ⊙ drop with a dropout mask)
    (call $weightedRows4 (local.get $scratch) (i32.const 4) (i32.const 16) (local.get $v) (local.get $end) (local.get $stride) (local.get $bytes)
      (local.get $inv) (local.get $out)))

  ;; softmax(scale · q·Kᵀ + mask) for one query into row [Tp] (Tp = T rounded up to 4; the lanes
  ;; past T get 0): four keys at a time, a group whose mask is all -Infinity skipped. Returns the
  ;; number of keys up to the last one with a weight (the rest are 0). mask: T floats, or 0.
  (func $softmaxRow (param $q i32) (param $k i32) (param $t i32) (param $stride i32) (param $bytes i32)
    (param $scale f32) (param $mask i32) (param $row i32) (result i32)
    (local $j i32) (local $m v128) (local $s v128) (local $mx v128) (local $zs v128) (local $end i32) (local $inv v128) (local $mxf f32)
    (local.set $mx (f32x4.splat (f32.const -inf)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $j) (local.get $t)))
      ;; the mask's four values, -Infinity past T (without a mask: 0, and -Infinity past T)
      (local.set $m (if (result v128) (local.get $mask)
        (then (call $load4 (i32.add (local.get $mask) (i32.shl (local.get $j) (i32.const 2))) (i32.sub (local.get $t) (local.get $j)) (f32.const -inf)))
        (else (v128.andnot (f32x4.splat (f32.const -inf))
          (i32x4.lt_s (v128.const i32x4 0 1 2 3) (i32x4.splat (i32.sub (local.get $t) (local.get $j))))))))
      (local.set $s (if (result v128) (v128.any_true (f32x4.ne (local.get $m) (f32x4.splat (f32.const -inf))))
        (then
          (local.set $end (i32.add (local.get $j) (i32.const 4)))
          (f32x4.add (f32x4.mul (call $dotsAt (local.get $q) (local.get $k) (local.get $j) (local.get $t) (local.get $stride) (local.get $bytes))
            (f32x4.splat (local.get $scale))) (local.get $m)))
        (else (local.get $m))))
      (v128.store (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))) (local.get $s))
      (local.set $mx (f32x4.pmax (local.get $mx) (local.get $s)))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $each)))
    (local.set $mxf (f32.max (f32.max (f32x4.extract_lane 0 (local.get $mx)) (f32x4.extract_lane 1 (local.get $mx)))
      (f32.max (f32x4.extract_lane 2 (local.get $mx)) (f32x4.extract_lane 3 (local.get $mx)))))
    (local.set $mx (f32x4.splat (local.get $mxf)))
    ;; e^(s - max) and their sum (-Infinity gives 0)
    (local.set $j (i32.const 0))
    (block $expDone (loop $exp
      (br_if $expDone (i32.ge_u (local.get $j) (local.get $end)))
      (local.set $s (call $exp4 (f32x4.sub (v128.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))) (local.get $mx))))
      (v128.store (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))) (local.get $s))
      (local.set $zs (f32x4.add (local.get $zs) (local.get $s)))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $exp)))
    (local.set $inv (f32x4.splat (f32.div (f32.const 1) (call $hsum (local.get $zs)))))
    (local.set $j (i32.const 0))
    (block $normDone (loop $norm
      (br_if $normDone (i32.ge_u (local.get $j) (local.get $end)))
      (v128.store (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))
        (f32x4.mul (v128.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))) (local.get $inv)))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $norm)))
    ;; the groups past the last key with a weight
    (block $zeroDone (loop $zero
      (br_if $zeroDone (i32.ge_u (local.get $j) (local.get $t)))
      (v128.store (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))) (v128.const i32x4 0 0 0 0))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $zero)))
    (select (local.get $end) (local.get $t) (i32.lt_u (local.get $end) (local.get $t))))

  ;; row[j] *= m[j] for j < n (row padded to a multiple of 4; m read four at a time, zeros past n).
  (func $mulRow (param $row i32) (param $m i32) (param $n i32)
    (local $j i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $j) (local.get $n)))
      (v128.store (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))
        (f32x4.mul (v128.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
          (call $load4 (i32.add (local.get $m) (i32.shl (local.get $j) (i32.const 2))) (i32.sub (local.get $n) (local.get $j)) (f32.const 0))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $each))))

  ;; Attention of every position of `batch` sequences of T positions, heads of d features
  ;; (d a multiple of 4): q, k, v, out [batch, T, heads·d] (the heads side by side in each row,
  ;; as the projections make them: no split into [batch, heads, T, d] needed). Per (sequence,
  ;; head): P = softmax(scale·Q·Kᵀ + mask), out = P·V; mask [T, T] additive or 0 for none.
  ;; When `probs` is not 0, P is kept there, [batch, heads, T, T], for the backward pass. When
  ;; `drop` is not 0 it is a dropout mask of P's shape (0 or 1/(1 − rate)): out = (P ⊙ drop)·V
  ;; (GPT-2's dropout on the attention probabilities), P kept before it. Four query rows at a time
  ;; ($attendRows4), the first T mod 4 one at a time. `scratch` holds 4·(T + 4) floats.
  (func $attention (export "attention") (param $q i32) (param $k i32) (param $v i32) (param $batch i32) (param $t i32)
    (param $heads i32) (param $d i32) (param $scale f32) (param $mask i32) (param $drop i32) (param $probs i32) (param $scratch i32) (param $out i32)
    (local $b i32) (local $h i32) (local $i i32) (local $stride i32) (local $bytes i32) (local $tBytes i32)
    (local $base i32) (local $qi i32) (local $end i32) (local $p i32) (local $dp i32)
    (local.set $bytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $stride (i32.mul (local.get $bytes) (local.get $heads)))
    (local.set $tBytes (i32.shl (local.get $t) (i32.const 2)))
    (local.set $p (local.get $probs))
    (local.set $dp (local.get $drop))
    (block $bDone (loop $eachB
      (br_if $bDone (i32.ge_u (local.get $b) (local.get $batch)))
      (local.set $h (i32.const 0))
      (block $hDone (loop $eachH
        (br_if $hDone (i32.ge_u (local.get $h) (local.get $heads)))
        ;; this (sequence, head)'s first row, in q, k, v and out alike
        (local.set $base (i32.add (i32.mul (i32.mul (local.get $b) (local.get $t)) (local.get $stride)) (i32.mul (local.get $h) (local.get $bytes))))
        ;; the first T mod 4 rows one at a time (under a causal mask the shortest), then four at a time
        (local.set $i (i32.const 0))
        (block $iDone (loop $eachI
          (br_if $iDone (i32.ge_u (local.get $i) (i32.and (local.get $t) (i32.const 3))))
          (local.set $qi (i32.add (local.get $base) (i32.mul (local.get $i) (local.get $stride))))
          (local.set $end (call $softmaxRow (i32.add (local.get $q) (local.get $qi)) (i32.add (local.get $k) (local.get $base)) (local.get $t)
            (local.get $stride) (local.get $bytes) (local.get $scale)
            (if (result i32) (local.get $mask) (then (i32.add (local.get $mask) (i32.mul (local.get $i) (local.get $tBytes)))) (else (i32.const 0)))
            (local.get $scratch)))
          (if (local.get $probs)
            (then
              (memory.copy (local.get $p) (local.get $scratch) (local.get $tBytes))
              (local.set $p (i32.add (local.get $p) (local.get $tBytes)))))
          (if (local.get $drop)
            (then
              (call $mulRow (local.get $scratch) (local.get $dp) (local.get $t))
              (local.set $dp (i32.add (local.get $dp) (local.get $tBytes)))))
          ;; out_i = Σ_j P_ij v_j (P ⊙ drop with a dropout mask)
          (call $weightedSum (local.get $scratch) (i32.const 4) (i32.add (local.get $v) (local.get $base)) (local.get $stride) (local.get $end)
            (local.get $bytes) (f32.const 1) (i32.add (local.get $out) (local.get $qi)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $eachI)))
        (block $rowsDone (loop $eachRows4
          (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $t)))
          (local.set $qi (i32.add (local.get $base) (i32.mul (local.get $i) (local.get $stride))))
          (call $attendRows4 (i32.add (local.get $q) (local.get $qi)) (i32.add (local.get $k) (local.get $base)) (i32.add (local.get $v) (local.get $base))
            (local.get $t) (local.get $stride) (local.get $bytes) (local.get $scale)
            (if (result i32) (local.get $mask) (then (i32.add (local.get $mask) (i32.mul (local.get $i) (local.get $tBytes)))) (else (i32.const 0)))
            (if (result i32) (local.get $drop) (then (local.get $dp)) (else (i32.const 0)))
            (if (result i32) (local.get $probs) (then (local.get $p)) (else (i32.const 0)))
            (local.get $scratch) (i32.add (local.get $out) (local.get $qi)))
          (if (local.get $probs) (then (local.set $p (i32.add (local.get $p) (i32.shl (local.get $tBytes) (i32.const 2))))))
          (if (local.get $drop) (then (local.set $dp (i32.add (local.get $dp) (i32.shl (local.get $tBytes) (i32.const 2))))))
          (local.set $i (i32.add (local.get $i) (i32.const 4)))
          (br $eachRows4)))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br $eachH)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $eachB))))

  ;; attention_backward's rows for four query rows i … i + 3 of one (sequence, head): dout, o
  ;; (out) and dq at row i (rows `stride` bytes apart), k and v at the head's first row; p (P) and
  ;; m (the dropout mask, or 0) at row i's T floats (rows T floats apart); ds (dS) and pd (P ⊙ m,
  ;; when m is not 0) at row i's Tp floats in scratch (rows Tp floats apart). For the keys up to
  ;; the last one with a weight in some row (zeros after): dSᵣⱼ = Pᵣⱼ(mᵣⱼ·doutᵣ·vⱼ − Dᵣ) with
  ;; Dᵣ = doutᵣ·outᵣ, and dqᵣ = scale·Σⱼ dSᵣⱼ kⱼ. The four rows' doutᵣ·vⱼ come from $scoresRows4
  ;; (each row of V loaded once for the four) into `dots`, T + 4 vectors.
  (func $backwardRows4 (param $dout i32) (param $o i32) (param $k i32) (param $v i32) (param $p i32) (param $m i32) (param $t i32) (param $tp i32)
    (param $stride i32) (param $bytes i32) (param $scale f32) (param $ds i32) (param $pd i32) (param $dots i32) (param $dq i32)
    (local $r i32) (local $e i32) (local $end i32) (local $j i32) (local $j4 i32) (local $at i32) (local $stop i32) (local $left i32)
    (local $tBytes i32) (local $tpBytes i32) (local $row i32)
    (local $dd v128) (local $pv v128) (local $mv v128) (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $u0 v128) (local $u1 v128) (local $u2 v128) (local $u3 v128)
    (local.set $tBytes (i32.shl (local.get $t) (i32.const 2)))
    (local.set $tpBytes (i32.shl (local.get $tp) (i32.const 2)))
    ;; end: the keys up to the last with a weight in any of the four rows
    (block $rowsDone (loop $eachRow
      (br_if $rowsDone (i32.ge_u (local.get $r) (i32.const 4)))
      (local.set $row (i32.add (local.get $p) (i32.mul (local.get $r) (local.get $tBytes))))
      (local.set $e (local.get $t))
      (block $found (loop $back
        (br_if $found (i32.le_u (local.get $e) (local.get $end)))
        (br_if $found (f32.ne (f32.load (i32.add (local.get $row) (i32.shl (i32.sub (local.get $e) (i32.const 1)) (i32.const 2)))) (f32.const 0)))
        (local.set $e (i32.sub (local.get $e) (i32.const 1)))
        (br $back)))
      (if (i32.gt_u (local.get $e) (local.get $end)) (then (local.set $end (local.get $e))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $eachRow)))
    ;; D: the four rows' dout·out
    (local.set $dd (f32x4.splat (call $dot (local.get $dout) (local.get $o) (local.get $bytes))))
    (local.set $dd (f32x4.replace_lane 1 (local.get $dd) (call $dot (i32.add (local.get $dout) (local.get $stride)) (i32.add (local.get $o) (local.get $stride)) (local.get $bytes))))
    (local.set $at (i32.shl (local.get $stride) (i32.const 1)))
    (local.set $dd (f32x4.replace_lane 2 (local.get $dd) (call $dot (i32.add (local.get $dout) (local.get $at)) (i32.add (local.get $o) (local.get $at)) (local.get $bytes))))
    (local.set $at (i32.add (local.get $at) (local.get $stride)))
    (local.set $dd (f32x4.replace_lane 3 (local.get $dd) (call $dot (i32.add (local.get $dout) (local.get $at)) (i32.add (local.get $o) (local.get $at)) (local.get $bytes))))
    ;; doutᵣ·vⱼ for j < end, interleaved (added to zeros), and zeros for the three keys after (read four keys at a time)
    (local.set $at (local.get $dots))
    (local.set $stop (i32.add (local.get $dots) (i32.shl (i32.add (local.get $end) (i32.const 3)) (i32.const 4))))
    (block $zerosDone (loop $zeros
      (br_if $zerosDone (i32.ge_u (local.get $at) (local.get $stop)))
      (v128.store (local.get $at) (v128.const i32x4 0 0 0 0))
      (local.set $at (i32.add (local.get $at) (i32.const 16)))
      (br $zeros)))
    (call $scoresRows4 (local.get $dout) (local.get $v) (i32.const 0) (local.get $end) (local.get $stride) (local.get $bytes) (f32.const 1) (local.get $dots))
    ;; dS (and P ⊙ m) four keys at a time, the dots transposed into the four rows
    (block $groupsDone (loop $groups
      (br_if $groupsDone (i32.ge_u (local.get $j) (local.get $end)))
      (local.set $at (i32.add (local.get $dots) (i32.shl (local.get $j) (i32.const 4))))
      (local.set $x0 (v128.load (local.get $at)))
      (local.set $x1 (v128.load offset=16 (local.get $at)))
      (local.set $x2 (v128.load offset=32 (local.get $at)))
      (local.set $x3 (v128.load offset=48 (local.get $at)))
      (local.set $u0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $x0) (local.get $x1)))
      (local.set $u1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $x2) (local.get $x3)))
      (local.set $u2 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $x0) (local.get $x1)))
      (local.set $u3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $x2) (local.get $x3)))
      (local.set $x0 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u0) (local.get $u1)))
      (local.set $x1 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u0) (local.get $u1)))
      (local.set $x2 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u2) (local.get $u3)))
      (local.set $x3 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u2) (local.get $u3)))
      (local.set $j4 (i32.shl (local.get $j) (i32.const 2)))
      (local.set $left (i32.sub (local.get $t) (local.get $j)))
      ;; row 0
      (local.set $pv (if (result v128) (i32.ge_u (local.get $left) (i32.const 4))
        (then (v128.load (i32.add (local.get $p) (local.get $j4))))
        (else (call $load4 (i32.add (local.get $p) (local.get $j4)) (local.get $left) (f32.const 0)))))
      (if (local.get $m)
        (then
          (local.set $mv (if (result v128) (i32.ge_u (local.get $left) (i32.const 4))
            (then (v128.load (i32.add (local.get $m) (local.get $j4))))
            (else (call $load4 (i32.add (local.get $m) (local.get $j4)) (local.get $left) (f32.const 0)))))
          (local.set $x0 (f32x4.mul (local.get $x0) (local.get $mv)))
          (v128.store (i32.add (local.get $pd) (local.get $j4)) (f32x4.mul (local.get $pv) (local.get $mv)))))
      (v128.store (i32.add (local.get $ds) (local.get $j4))
        (f32x4.mul (local.get $pv) (f32x4.sub (local.get $x0) (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $dd) (local.get $dd)))))
      ;; row 1
      (local.set $pv (if (result v128) (i32.ge_u (local.get $left) (i32.const 4))
        (then (v128.load (i32.add (local.get $p) (i32.add (local.get $j4) (local.get $tBytes)))))
        (else (call $load4 (i32.add (local.get $p) (i32.add (local.get $j4) (local.get $tBytes))) (local.get $left) (f32.const 0)))))
      (if (local.get $m)
        (then
          (local.set $mv (if (result v128) (i32.ge_u (local.get $left) (i32.const 4))
            (then (v128.load (i32.add (local.get $m) (i32.add (local.get $j4) (local.get $tBytes)))))
            (else (call $load4 (i32.add (local.get $m) (i32.add (local.get $j4) (local.get $tBytes))) (local.get $left) (f32.const 0)))))
          (local.set $x1 (f32x4.mul (local.get $x1) (local.get $mv)))
          (v128.store (i32.add (local.get $pd) (i32.add (local.get $j4) (local.get $tpBytes))) (f32x4.mul (local.get $pv) (local.get $mv)))))
      (v128.store (i32.add (local.get $ds) (i32.add (local.get $j4) (local.get $tpBytes)))
        (f32x4.mul (local.get $pv) (f32x4.sub (local.get $x1) (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $dd) (local.get $dd)))))
      ;; row 2
      (local.set $pv (if (result v128) (i32.ge_u (local.get $left) (i32.const 4))
        (then (v128.load (i32.add (local.get $p) (i32.add (local.get $j4) (i32.shl (local.get $tBytes) (i32.const 1))))))
        (else (call $load4 (i32.add (local.get $p) (i32.add (local.get $j4) (i32.shl (local.get $tBytes) (i32.const 1)))) (local.get $left) (f32.const 0)))))
      (if (local.get $m)
        (then
          (local.set $mv (if (result v128) (i32.ge_u (local.get $left) (i32.const 4))
            (then (v128.load (i32.add (local.get $m) (i32.add (local.get $j4) (i32.shl (local.get $tBytes) (i32.const 1))))))
            (else (call $load4 (i32.add (local.get $m) (i32.add (local.get $j4) (i32.shl (local.get $tBytes) (i32.const 1)))) (local.get $left) (f32.const 0)))))
          (local.set $x2 (f32x4.mul (local.get $x2) (local.get $mv)))
          (v128.store (i32.add (local.get $pd) (i32.add (local.get $j4) (i32.shl (local.get $tpBytes) (i32.const 1)))) (f32x4.mul (local.get $pv) (local.get $mv)))))
      (v128.store (i32.add (local.get $ds) (i32.add (local.get $j4) (i32.shl (local.get $tpBytes) (i32.const 1))))
        (f32x4.mul (local.get $pv) (f32x4.sub (local.get $x2) (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $dd) (local.get $dd)))))
      ;; row 3
      (local.set $pv (if (result v128) (i32.ge_u (local.get $left) (i32.const 4))
        (then (v128.load (i32.add (local.get $p) (i32.add (local.get $j4) (i32.mul (local.get $tBytes) (i32.const 3))))))
        (else (call $load4 (i32.add (local.get $p) (i32.add (local.get $j4) (i32.mul (local.get $tBytes) (i32.const 3)))) (local.get $left) (f32.const 0)))))
      (if (local.get $m)
        (then
          (local.set $mv (if (result v128) (i32.ge_u (local.get $left) (i32.const 4))
            (then (v128.load (i32.add (local.get $m) (i32.add (local.get $j4) (i32.mul (local.get $tBytes) (i32.const 3))))))
            (else (call $load4 (i32.add (local.get $m) (i32.add (local.get $j4) (i32.mul (local.get $tBytes) (i32.const 3)))) (local.get $left) (f32.const 0)))))
          (local.set $x3 (f32x4.mul (local.get $x3) (local.get $mv)))
          (v128.store (i32.add (local.get $pd) (i32.add (local.get $j4) (i32.mul (local.get $tpBytes) (i32.const 3)))) (f32x4.mul (local.get $pv) (local.get $mv)))))
      (v128.store (i32.add (local.get $ds) (i32.add (local.get $j4) (i32.mul (local.get $tpBytes) (i32.const 3))))
        (f32x4.mul (local.get $pv) (f32x4.sub (local.get $x3) (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $dd) (local.get $dd)))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $groups)))
    ;; zeros after the last key with a weight
    (block $restDone (loop $rest
      (br_if $restDone (i32.ge_u (local.get $j) (local.get $tp)))
      (local.set $r (i32.const 0))
      (block $rDone (loop $eachR
        (br_if $rDone (i32.ge_u (local.get $r) (i32.const 4)))
        (local.set $at (i32.add (i32.mul (local.get $r) (local.get $tpBytes)) (i32.shl (local.get $j) (i32.const 2))))
        (v128.store (i32.add (local.get $ds) (local.get $at)) (v128.const i32x4 0 0 0 0))
        (if (local.get $m) (then (v128.store (i32.add (local.get $pd) (local.get $at)) (v128.const i32x4 0 0 0 0))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $eachR)))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $rest)))
    ;; dqᵣ = scale·Σⱼ dSᵣⱼ kⱼ, the rows of dS as weights
    (call $weightedRows4 (local.get $ds) (local.get $tpBytes) (i32.const 4) (local.get $k) (local.get $end) (local.get $stride) (local.get $bytes)
      (f32x4.splat (local.get $scale)) (local.get $dq)))

  ;; The backward pass of "attention": from dout (out's gradient), q, k, v, out and P, the
  ;; gradients dq, dk, dv (layouts as there). Per (sequence, head), first for each query row i:
  ;; Dᵢ = doutᵢ·outᵢ, dSᵢⱼ = Pᵢⱼ(doutᵢ·vⱼ - Dᵢ) (kept in scratch, [T, Tp]), dqᵢ = scale·Σⱼ dSᵢⱼ kⱼ;
  ;; then for each key row j: dkⱼ = scale·Σᵢ dSᵢⱼ qᵢ, dvⱼ = Σᵢ Pᵢⱼ doutᵢ. With a dropout mask M
  ;; (`drop`, as the forward pass had it): dSᵢⱼ = Pᵢⱼ(Mᵢⱼ·doutᵢ·vⱼ - Dᵢ) and dvⱼ = Σᵢ PᵢⱼMᵢⱼ doutᵢ,
  ;; P ⊙ M kept in scratch after dS. Query rows four at a time ($backwardRows4), the first T mod 4
  ;; one at a time; key rows four at a time from the first query row with a weight on one of them
  ;; ($weightedRows4 over columns of dS and P), the last T mod 4 one at a time (zero weights
  ;; skipped). `scratch` holds T·Tp + 4·(T + 4) floats, 2·T·Tp + 4·(T + 4) with a mask.
  (func $attention_backward (export "attention_backward") (param $dout i32) (param $q i32) (param $k i32) (param $v i32) (param $o i32) (param $probs i32)
    (param $drop i32) (param $batch i32) (param $t i32) (param $heads i32) (param $d i32) (param $scale f32) (param $scratch i32)
    (param $dq i32) (param $dk i32) (param $dv i32)
    (local $b i32) (local $h i32) (local $i i32) (local $j i32) (local $stride i32) (local $bytes i32) (local $tp i32) (local $tBytes i32)
    (local $base i32) (local $qi i32) (local $p i32) (local $pRow i32) (local $ds i32) (local $end i32) (local $dd v128) (local $pv v128)
    (local $dp i32) (local $mRow i32) (local $pd i32) (local $pdRow i32) (local $mv v128) (local $dots v128) (local $dotsAt i32) (local $tpBytes i32)
    (local.set $bytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $stride (i32.mul (local.get $bytes) (local.get $heads)))
    (local.set $tp (i32.and (i32.add (local.get $t) (i32.const 3)) (i32.const -4)))
    (local.set $tBytes (i32.shl (local.get $t) (i32.const 2)))
    (local.set $p (local.get $probs))
    (local.set $dp (local.get $drop))
    (local.set $tpBytes (i32.shl (local.get $tp) (i32.const 2)))
    (local.set $pd (i32.add (local.get $scratch) (i32.shl (i32.mul (local.get $t) (local.get $tp)) (i32.const 2))))
    ;; four rows' interleaved vectors after dS (and P ⊙ M)
    (local.set $dotsAt (select (i32.add (local.get $pd) (i32.shl (i32.mul (local.get $t) (local.get $tp)) (i32.const 2))) (local.get $pd) (local.get $drop)))
    (block $bDone (loop $eachB
      (br_if $bDone (i32.ge_u (local.get $b) (local.get $batch)))
      (local.set $h (i32.const 0))
      (block $hDone (loop $eachH
        (br_if $hDone (i32.ge_u (local.get $h) (local.get $heads)))
        (local.set $base (i32.add (i32.mul (i32.mul (local.get $b) (local.get $t)) (local.get $stride)) (i32.mul (local.get $h) (local.get $bytes))))
        ;; rows: dS and dq, the first T mod 4 one at a time, then four at a time
        (local.set $i (i32.const 0))
        (block $iDone (loop $eachI
          (br_if $iDone (i32.ge_u (local.get $i) (i32.and (local.get $t) (i32.const 3))))
          (local.set $qi (i32.add (local.get $base) (i32.mul (local.get $i) (local.get $stride))))
          (local.set $pRow (i32.add (local.get $p) (i32.mul (local.get $i) (local.get $tBytes))))
          (local.set $ds (i32.add (local.get $scratch) (i32.shl (i32.mul (local.get $i) (local.get $tp)) (i32.const 2))))
          (local.set $mRow (i32.add (local.get $dp) (i32.mul (local.get $i) (local.get $tBytes))))
          (local.set $pdRow (i32.add (local.get $pd) (i32.shl (i32.mul (local.get $i) (local.get $tp)) (i32.const 2))))
          ;; the keys up to the last with a weight
          (local.set $end (local.get $t))
          (block $found (loop $back
            (br_if $found (i32.eqz (local.get $end)))
            (br_if $found (f32.ne (f32.load (i32.add (local.get $pRow) (i32.shl (i32.sub (local.get $end) (i32.const 1)) (i32.const 2)))) (f32.const 0)))
            (local.set $end (i32.sub (local.get $end) (i32.const 1)))
            (br $back)))
          (local.set $dd (f32x4.splat (call $dot (i32.add (local.get $dout) (local.get $qi)) (i32.add (local.get $o) (local.get $qi)) (local.get $bytes))))
          (local.set $j (i32.const 0))
          (block $jDone (loop $eachJ
            (br_if $jDone (i32.ge_u (local.get $j) (local.get $end)))
            (local.set $pv (call $load4 (i32.add (local.get $pRow) (i32.shl (local.get $j) (i32.const 2))) (i32.sub (local.get $t) (local.get $j)) (f32.const 0)))
            (local.set $dots (call $dotsAt (i32.add (local.get $dout) (local.get $qi)) (i32.add (local.get $v) (local.get $base)) (local.get $j) (local.get $t)
              (local.get $stride) (local.get $bytes)))
            (if (local.get $drop)
              (then
                (local.set $mv (call $load4 (i32.add (local.get $mRow) (i32.shl (local.get $j) (i32.const 2))) (i32.sub (local.get $t) (local.get $j)) (f32.const 0)))
                (local.set $dots (f32x4.mul (local.get $dots) (local.get $mv)))
                (v128.store (i32.add (local.get $pdRow) (i32.shl (local.get $j) (i32.const 2))) (f32x4.mul (local.get $pv) (local.get $mv)))))
            (v128.store (i32.add (local.get $ds) (i32.shl (local.get $j) (i32.const 2)))
              (f32x4.mul (local.get $pv) (f32x4.sub (local.get $dots) (local.get $dd))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $eachJ)))
          (block $zDone (loop $zero
            (br_if $zDone (i32.ge_u (local.get $j) (local.get $tp)))
            (v128.store (i32.add (local.get $ds) (i32.shl (local.get $j) (i32.const 2))) (v128.const i32x4 0 0 0 0))
            (if (local.get $drop) (then (v128.store (i32.add (local.get $pdRow) (i32.shl (local.get $j) (i32.const 2))) (v128.const i32x4 0 0 0 0))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $zero)))
          (call $weightedSum (local.get $ds) (i32.const 4) (i32.add (local.get $k) (local.get $base)) (local.get $stride)
            (select (local.get $end) (local.get $t) (i32.lt_u (local.get $end) (local.get $t)))
            (local.get $bytes) (local.get $scale) (i32.add (local.get $dq) (local.get $qi)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $eachI)))
        (block $rowsDone (loop $eachRows4
          (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $t)))
          (local.set $qi (i32.add (local.get $base) (i32.mul (local.get $i) (local.get $stride))))
          (call $backwardRows4 (i32.add (local.get $dout) (local.get $qi)) (i32.add (local.get $o) (local.get $qi))
            (i32.add (local.get $k) (local.get $base)) (i32.add (local.get $v) (local.get $base))
            (i32.add (local.get $p) (i32.mul (local.get $i) (local.get $tBytes)))
            (if (result i32) (local.get $drop) (then (i32.add (local.get $dp) (i32.mul (local.get $i) (local.get $tBytes)))) (else (i32.const 0)))
            (local.get $t) (local.get $tp) (local.get $stride) (local.get $bytes) (local.get $scale)
            (i32.add (local.get $scratch) (i32.shl (i32.mul (local.get $i) (local.get $tp)) (i32.const 2)))
            (i32.add (local.get $pd) (i32.shl (i32.mul (local.get $i) (local.get $tp)) (i32.const 2)))
            (local.get $dotsAt) (i32.add (local.get $dq) (local.get $qi)))
          (local.set $i (i32.add (local.get $i) (i32.const 4)))
          (br $eachRows4)))
        ;; columns: dk and dv, four keys at a time (each row of q and dout loaded once for the
        ;; four), from the first query row with a weight on one of them; then the last T mod 4 keys
        ;; one at a time
        (local.set $j (i32.const 0))
        (block $k4Done (loop $eachK4
          (br_if $k4Done (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $t)))
          (local.set $i (i32.const 0))
          (block $firstFound (loop $first
            (br_if $firstFound (i32.ge_u (local.get $i) (local.get $t)))
            (br_if $firstFound (v128.any_true (f32x4.ne (v128.load (i32.add (i32.add (local.get $p) (i32.mul (local.get $i) (local.get $tBytes))) (i32.shl (local.get $j) (i32.const 2))))
              (v128.const i32x4 0 0 0 0))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $first)))
          (local.set $qi (i32.add (local.get $base) (i32.mul (local.get $i) (local.get $stride))))
          (call $weightedRows4 (i32.add (local.get $scratch) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $tp)) (local.get $j)) (i32.const 2)))
            (i32.const 4) (local.get $tpBytes) (i32.add (local.get $q) (local.get $qi)) (i32.sub (local.get $t) (local.get $i)) (local.get $stride) (local.get $bytes)
            (f32x4.splat (local.get $scale)) (i32.add (local.get $dk) (i32.add (local.get $base) (i32.mul (local.get $j) (local.get $stride)))))
          (if (local.get $drop)
            (then (call $weightedRows4 (i32.add (local.get $pd) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $tp)) (local.get $j)) (i32.const 2)))
              (i32.const 4) (local.get $tpBytes) (i32.add (local.get $dout) (local.get $qi)) (i32.sub (local.get $t) (local.get $i)) (local.get $stride) (local.get $bytes)
              (f32x4.splat (f32.const 1)) (i32.add (local.get $dv) (i32.add (local.get $base) (i32.mul (local.get $j) (local.get $stride))))))
            (else (call $weightedRows4 (i32.add (i32.add (local.get $p) (i32.mul (local.get $i) (local.get $tBytes))) (i32.shl (local.get $j) (i32.const 2)))
              (i32.const 4) (local.get $tBytes) (i32.add (local.get $dout) (local.get $qi)) (i32.sub (local.get $t) (local.get $i)) (local.get $stride) (local.get $bytes)
              (f32x4.splat (f32.const 1)) (i32.add (local.get $dv) (i32.add (local.get $base) (i32.mul (local.get $j) (local.get $stride)))))))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $eachK4)))
        (block $kDone (loop $eachK
          (br_if $kDone (i32.ge_u (local.get $j) (local.get $t)))
          (call $weightedSum (i32.add (local.get $scratch) (i32.shl (local.get $j) (i32.const 2))) (i32.shl (local.get $tp) (i32.const 2))
            (i32.add (local.get $q) (local.get $base)) (local.get $stride) (local.get $t) (local.get $bytes) (local.get $scale)
            (i32.add (local.get $dk) (i32.add (local.get $base) (i32.mul (local.get $j) (local.get $stride)))))
          (if (local.get $drop)
            (then (call $weightedSum (i32.add (local.get $pd) (i32.shl (local.get $j) (i32.const 2))) (i32.shl (local.get $tp) (i32.const 2))
              (i32.add (local.get $dout) (local.get $base)) (local.get $stride) (local.get $t) (local.get $bytes) (f32.const 1)
              (i32.add (local.get $dv) (i32.add (local.get $base) (i32.mul (local.get $j) (local.get $stride))))))
            (else (call $weightedSum (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 2))) (local.get $tBytes)
              (i32.add (local.get $dout) (local.get $base)) (local.get $stride) (local.get $t) (local.get $bytes) (f32.const 1)
              (i32.add (local.get $dv) (i32.add (local.get $base) (i32.mul (local.get $j) (local.get $stride)))))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $eachK)))
        (local.set $p (i32.add (local.get $p) (i32.mul (local.get $t) (local.get $tBytes))))
        (if (local.get $drop) (then (local.set $dp (i32.add (local.get $dp) (i32.mul (local.get $t) (local.get $tBytes))))))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br $eachH)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $eachB))))

  ;; ---------------------------------------------------------------------------------------
  ;; Sums over rows: a bias's gradient, an embedding table's

  ;; out[c] = Σ_r x[r, c] for x [rows, cols], row after row (the order tfjs's Sum adds in):
  ;; four columns at a time, then one at a time.
  (func (export "column_sums") (param $x i32) (param $rows i32) (param $cols i32) (param $out i32)
    (local $r i32) (local $c i32) (local $bytes i32) (local $wide i32)
    (local.set $bytes (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $wide (i32.and (local.get $bytes) (i32.const -16)))
    (memory.fill (local.get $out) (i32.const 0) (local.get $bytes))
    (block $rowsDone (loop $eachRow
      (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $c (i32.const 0))
      (block $wideDone (loop $four
        (br_if $wideDone (i32.ge_u (local.get $c) (local.get $wide)))
        (v128.store (i32.add (local.get $out) (local.get $c))
          (f32x4.add (v128.load (i32.add (local.get $out) (local.get $c))) (v128.load (i32.add (local.get $x) (local.get $c)))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $four)))
      (block $oneDone (loop $one
        (br_if $oneDone (i32.ge_u (local.get $c) (local.get $bytes)))
        (f32.store (i32.add (local.get $out) (local.get $c))
          (f32.add (f32.load (i32.add (local.get $out) (local.get $c))) (f32.load (i32.add (local.get $x) (local.get $c)))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $one)))
      (local.set $x (i32.add (local.get $x) (local.get $bytes)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $eachRow))))

  ;; out[ids[r]] += x[r] for rows r of x [rows, width], out [vocab, width] zeroed first; a row
  ;; whose id is `skip` or outside [0, vocab) adds nothing (an embedding table's gradient, the
  ;; padding row left out). Four features at a time, then one at a time.
  (func (export "scatter_add_rows") (param $x i32) (param $ids i32) (param $rows i32) (param $width i32) (param $vocab i32) (param $skip i32) (param $out i32)
    (local $r i32) (local $c i32) (local $id i32) (local $bytes i32) (local $wide i32) (local $dst i32)
    (local.set $bytes (i32.shl (local.get $width) (i32.const 2)))
    (local.set $wide (i32.and (local.get $bytes) (i32.const -16)))
    (memory.fill (local.get $out) (i32.const 0) (i32.mul (local.get $bytes) (local.get $vocab)))
    (block $rowsDone (loop $eachRow
      (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $id (i32.load (i32.add (local.get $ids) (i32.shl (local.get $r) (i32.const 2)))))
      (if (i32.and (i32.ne (local.get $id) (local.get $skip)) (i32.lt_u (local.get $id) (local.get $vocab)))
        (then
          (local.set $dst (i32.add (local.get $out) (i32.mul (local.get $id) (local.get $bytes))))
          (local.set $c (i32.const 0))
          (block $wideDone (loop $four
            (br_if $wideDone (i32.ge_u (local.get $c) (local.get $wide)))
            (v128.store (i32.add (local.get $dst) (local.get $c))
              (f32x4.add (v128.load (i32.add (local.get $dst) (local.get $c))) (v128.load (i32.add (local.get $x) (local.get $c)))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $four)))
          (block $oneDone (loop $one
            (br_if $oneDone (i32.ge_u (local.get $c) (local.get $bytes)))
            (f32.store (i32.add (local.get $dst) (local.get $c))
              (f32.add (f32.load (i32.add (local.get $dst) (local.get $c))) (f32.load (i32.add (local.get $x) (local.get $c)))))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $one)))))
      (local.set $x (i32.add (local.get $x) (local.get $bytes)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $eachRow))))

  ;; ---------------------------------------------------------------------------------------
  ;; LayerNorm

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

  ;; LayerNorm of `rows` rows of d features (d a multiple of 4) as kernels.wat's layer_norm (the
  ;; same sums, to the bit), also keeping each row's mean and 1/√(var + eps) in stats [rows, 2]
  ;; for the backward pass.
  (func $layer_norm_stats (export "layer_norm_stats") (param $x i32) (param $rows i32) (param $d i32) (param $w i32) (param $b i32) (param $eps f32)
    (param $out i32) (param $stats i32)
    (local $r i32) (local $i i32) (local $bytes i32) (local $mean f32) (local $inv f32) (local $means v128) (local $invs v128)
    (local.set $bytes (i32.shl (local.get $d) (i32.const 2)))
    (block $rowsDone (loop $eachRow
      (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $mean (f32.div (call $rowSum (local.get $x) (local.get $bytes)) (f32.convert_i32_u (local.get $d))))
      (local.set $means (f32x4.splat (local.get $mean)))
      (local.set $inv (f32.div (f32.const 1)
        (f32.sqrt (f32.add (f32.div (call $rowSquares (local.get $x) (local.get $bytes) (local.get $means)) (f32.convert_i32_u (local.get $d))) (local.get $eps)))))
      (local.set $invs (f32x4.splat (local.get $inv)))
      (f32.store (local.get $stats) (local.get $mean))
      (f32.store offset=4 (local.get $stats) (local.get $inv))
      (local.set $i (i32.const 0))
      (block $normDone (loop $norm
        (br_if $normDone (i32.ge_u (local.get $i) (local.get $bytes)))
        (v128.store (i32.add (local.get $out) (local.get $i))
          (f32x4.add
            (f32x4.mul
              (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $i))) (local.get $means)) (local.get $invs))
              (v128.load (i32.add (local.get $w) (local.get $i))))
            (v128.load (i32.add (local.get $b) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $norm)))
      (local.set $x (i32.add (local.get $x) (local.get $bytes)))
      (local.set $out (i32.add (local.get $out) (local.get $bytes)))
      (local.set $stats (i32.add (local.get $stats) (i32.const 8)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $eachRow))))

  ;; "layer_norm_stats" on rows [r0, r1) (slot unused), so that the kernel pool's threads share one call.
  (func (export "layer_norm_stats_chunk") (param $x i32) (param $rows i32) (param $d i32) (param $w i32) (param $b i32) (param $eps f32)
    (param $out i32) (param $stats i32) (param $r0 i32) (param $r1 i32) (param $slot i32)
    (local $off i32)
    (local.set $off (i32.shl (i32.mul (local.get $r0) (local.get $d)) (i32.const 2)))
    (call $layer_norm_stats (i32.add (local.get $x) (local.get $off)) (i32.sub (local.get $r1) (local.get $r0)) (local.get $d) (local.get $w) (local.get $b) (local.get $eps)
      (i32.add (local.get $out) (local.get $off)) (i32.add (local.get $stats) (i32.shl (local.get $r0) (i32.const 3)))))

  ;; LayerNorm's backward pass from x, dy, w and the forward pass's stats: with x̂ = (x - mean)·inv
  ;; and g = dy·w per row, dx = inv·(g - mean(g) - x̂·mean(g·x̂)); dw = Σ_rows dy·x̂, db = Σ_rows dy.
  (func (export "layer_norm_backward") (param $x i32) (param $dy i32) (param $rows i32) (param $d i32) (param $w i32) (param $stats i32)
    (param $dx i32) (param $dw i32) (param $db i32)
    (local $r i32) (local $i i32) (local $bytes i32) (local $means v128) (local $invs v128) (local $xh v128) (local $g v128) (local $dyv v128)
    (local $sg v128) (local $sgx v128) (local $mg v128) (local $mgx v128) (local $n f32)
    (local.set $bytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $n (f32.convert_i32_u (local.get $d)))
    (memory.fill (local.get $dw) (i32.const 0) (local.get $bytes))
    (memory.fill (local.get $db) (i32.const 0) (local.get $bytes))
    (block $rowsDone (loop $eachRow
      (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $means (v128.load32_splat (local.get $stats)))
      (local.set $invs (v128.load32_splat offset=4 (local.get $stats)))
      (local.set $sg (v128.const i32x4 0 0 0 0))
      (local.set $sgx (v128.const i32x4 0 0 0 0))
      (local.set $i (i32.const 0))
      (block $sumDone (loop $sum
        (br_if $sumDone (i32.ge_u (local.get $i) (local.get $bytes)))
        (local.set $xh (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $i))) (local.get $means)) (local.get $invs)))
        (local.set $dyv (v128.load (i32.add (local.get $dy) (local.get $i))))
        (local.set $g (f32x4.mul (local.get $dyv) (v128.load (i32.add (local.get $w) (local.get $i)))))
        (local.set $sg (f32x4.add (local.get $sg) (local.get $g)))
        (local.set $sgx (f32x4.add (local.get $sgx) (f32x4.mul (local.get $g) (local.get $xh))))
        (v128.store (i32.add (local.get $dw) (local.get $i)) (f32x4.add (v128.load (i32.add (local.get $dw) (local.get $i))) (f32x4.mul (local.get $dyv) (local.get $xh))))
        (v128.store (i32.add (local.get $db) (local.get $i)) (f32x4.add (v128.load (i32.add (local.get $db) (local.get $i))) (local.get $dyv)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $sum)))
      (local.set $mg (f32x4.splat (f32.div (call $hsum (local.get $sg)) (local.get $n))))
      (local.set $mgx (f32x4.splat (f32.div (call $hsum (local.get $sgx)) (local.get $n))))
      (local.set $i (i32.const 0))
      (block $dxDone (loop $dxLoop
        (br_if $dxDone (i32.ge_u (local.get $i) (local.get $bytes)))
        (local.set $xh (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $i))) (local.get $means)) (local.get $invs)))
        (local.set $g (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $i))) (v128.load (i32.add (local.get $w) (local.get $i)))))
        (v128.store (i32.add (local.get $dx) (local.get $i))
          (f32x4.mul (local.get $invs) (f32x4.sub (f32x4.sub (local.get $g) (local.get $mg)) (f32x4.mul (local.get $xh) (local.get $mgx)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $dxLoop)))
      (local.set $x (i32.add (local.get $x) (local.get $bytes)))
      (local.set $dy (i32.add (local.get $dy) (local.get $bytes)))
      (local.set $dx (i32.add (local.get $dx) (local.get $bytes)))
      (local.set $stats (i32.add (local.get $stats) (i32.const 8)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $eachRow))))

  ;; ---------------------------------------------------------------------------------------
  ;; GELU (for inference too) and its derivative

  ;; out[i] = gelu(x[i]) = ½x(1 + erf(x/√2)) for i < n (PyTorch's exact GELU), erf by Abramowitz
  ;; & Stegun 7.1.26 (|error| ≤ 1.5e-7, the formula of tfjs's cpu Erf): erf(z) = 1 - t(a1 + t(a2
  ;; + t(a3 + t(a4 + t·a5))))·e^(-z²), t = 1/(1 + p·z), z ≥ 0, odd in z. Unless grad is 0, also
  ;; grad[i] = gelu'(x[i]) = Φ(x) + x·φ(x) from the same erf and e^(-x²/2), φ(x) = e^(-x²/2)/√(2π),
  ;; so that the backward pass is dy·grad. Eight values a pass as two independent chains written
  ;; out (a call per vector keeps them from overlapping), then four, then the last n mod 4
  ;; through `scratch` (32 bytes).
  (func $gelu_erf (export "gelu_erf") (param $src i32) (param $n i32) (param $out i32) (param $grad i32) (param $scratch i32)
    (local $at i32) (local $end i32) (local $rest i32) (local $xa v128) (local $za v128) (local $ta v128) (local $pa v128) (local $ea v128) (local $ka v128) (local $na v128) (local $ra v128) (local $qa v128) (local $xb v128) (local $zb v128) (local $tb v128) (local $pb v128) (local $eb v128) (local $kb v128) (local $nb v128) (local $rb v128) (local $qb v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done (loop $each
      (br_if $done (i32.gt_u (i32.add (local.get $at) (i32.const 32)) (local.get $end)))
      (local.set $xa (v128.load (i32.add (local.get $src) (local.get $at))))
      (local.set $xb (v128.load offset=16 (i32.add (local.get $src) (local.get $at))))
      (local.set $za (f32x4.mul (f32x4.abs (local.get $xa)) (f32x4.splat (f32.const 0.70710678118654752))))
      (local.set $ta (f32x4.div (f32x4.splat (f32.const 1))
        (f32x4.add (f32x4.splat (f32.const 1)) (f32x4.mul (local.get $za) (f32x4.splat (f32.const 0.3275911))))))
      (local.set $pa (f32x4.add (f32x4.mul (f32x4.splat (f32.const 1.061405429)) (local.get $ta)) (f32x4.splat (f32.const -1.453152027))))
      (local.set $pa (f32x4.add (f32x4.mul (local.get $pa) (local.get $ta)) (f32x4.splat (f32.const 1.421413741))))
      (local.set $pa (f32x4.add (f32x4.mul (local.get $pa) (local.get $ta)) (f32x4.splat (f32.const -0.284496736))))
      (local.set $pa (f32x4.add (f32x4.mul (local.get $pa) (local.get $ta)) (f32x4.splat (f32.const 0.254829592))))
      (local.set $pa (f32x4.mul (local.get $pa) (local.get $ta)))
      ;; e^(-z²) = e^(-x²/2) as $exp4, inline (a call per vector keeps the two chains from overlapping)
      (local.set $ea (f32x4.pmax (f32x4.neg (f32x4.mul (local.get $za) (local.get $za))) (f32x4.splat (f32.const -87.3))))
      (local.set $ka (f32x4.add (f32x4.mul (local.get $ea) (f32x4.splat (f32.const 1.44269504089))) (f32x4.splat (f32.const 12582912))))
      (local.set $na (f32x4.sub (local.get $ka) (f32x4.splat (f32.const 12582912))))
      (local.set $ra (f32x4.add (f32x4.sub (local.get $ea) (f32x4.mul (local.get $na) (f32x4.splat (f32.const 0.693359375))))
        (f32x4.mul (local.get $na) (f32x4.splat (f32.const 2.12194440e-4)))))
      (local.set $qa (f32x4.add (f32x4.mul (f32x4.splat (f32.const 1.9875691500e-4)) (local.get $ra)) (f32x4.splat (f32.const 1.3981999507e-3))))
      (local.set $qa (f32x4.add (f32x4.mul (local.get $qa) (local.get $ra)) (f32x4.splat (f32.const 8.3334519073e-3))))
      (local.set $qa (f32x4.add (f32x4.mul (local.get $qa) (local.get $ra)) (f32x4.splat (f32.const 4.1665795894e-2))))
      (local.set $qa (f32x4.add (f32x4.mul (local.get $qa) (local.get $ra)) (f32x4.splat (f32.const 1.6666665459e-1))))
      (local.set $qa (f32x4.add (f32x4.mul (local.get $qa) (local.get $ra)) (f32x4.splat (f32.const 5.0000001201e-1))))
      (local.set $qa (f32x4.add (f32x4.add (f32x4.mul (local.get $qa) (f32x4.mul (local.get $ra) (local.get $ra))) (local.get $ra)) (f32x4.splat (f32.const 1))))
      (local.set $ea (v128.andnot
        (f32x4.mul (local.get $qa) (i32x4.shl (i32x4.sub (local.get $ka) (i32x4.splat (i32.const 0x4B3FFF81))) (i32.const 23)))
        (f32x4.lt (f32x4.neg (f32x4.mul (local.get $za) (local.get $za))) (f32x4.splat (f32.const -87.3)))))
      ;; erf(x/√2) with x's sign; GELU and its derivative
      (local.set $pa (v128.or (f32x4.pmax (f32x4.sub (f32x4.splat (f32.const 1)) (f32x4.mul (local.get $pa) (local.get $ea))) (f32x4.splat (f32.const 0)))
        (v128.and (local.get $xa) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))))
      (v128.store (i32.add (local.get $out) (local.get $at))
        (f32x4.mul (f32x4.mul (local.get $xa) (f32x4.splat (f32.const 0.5))) (f32x4.add (f32x4.splat (f32.const 1)) (local.get $pa))))
      (if (local.get $grad) (then (v128.store (i32.add (local.get $grad) (local.get $at))
        (f32x4.add
          (f32x4.mul (f32x4.splat (f32.const 0.5)) (f32x4.add (f32x4.splat (f32.const 1)) (local.get $pa)))
          (f32x4.mul (local.get $xa) (f32x4.mul (local.get $ea) (f32x4.splat (f32.const 0.3989422804014327))))))))
      (local.set $zb (f32x4.mul (f32x4.abs (local.get $xb)) (f32x4.splat (f32.const 0.70710678118654752))))
      (local.set $tb (f32x4.div (f32x4.splat (f32.const 1))
        (f32x4.add (f32x4.splat (f32.const 1)) (f32x4.mul (local.get $zb) (f32x4.splat (f32.const 0.3275911))))))
      (local.set $pb (f32x4.add (f32x4.mul (f32x4.splat (f32.const 1.061405429)) (local.get $tb)) (f32x4.splat (f32.const -1.453152027))))
      (local.set $pb (f32x4.add (f32x4.mul (local.get $pb) (local.get $tb)) (f32x4.splat (f32.const 1.421413741))))
      (local.set $pb (f32x4.add (f32x4.mul (local.get $pb) (local.get $tb)) (f32x4.splat (f32.const -0.284496736))))
      (local.set $pb (f32x4.add (f32x4.mul (local.get $pb) (local.get $tb)) (f32x4.splat (f32.const 0.254829592))))
      (local.set $pb (f32x4.mul (local.get $pb) (local.get $tb)))
      ;; e^(-z²) = e^(-x²/2) as $exp4, inline (a call per vector keeps the two chains from overlapping)
      (local.set $eb (f32x4.pmax (f32x4.neg (f32x4.mul (local.get $zb) (local.get $zb))) (f32x4.splat (f32.const -87.3))))
      (local.set $kb (f32x4.add (f32x4.mul (local.get $eb) (f32x4.splat (f32.const 1.44269504089))) (f32x4.splat (f32.const 12582912))))
      (local.set $nb (f32x4.sub (local.get $kb) (f32x4.splat (f32.const 12582912))))
      (local.set $rb (f32x4.add (f32x4.sub (local.get $eb) (f32x4.mul (local.get $nb) (f32x4.splat (f32.const 0.693359375))))
        (f32x4.mul (local.get $nb) (f32x4.splat (f32.const 2.12194440e-4)))))
      (local.set $qb (f32x4.add (f32x4.mul (f32x4.splat (f32.const 1.9875691500e-4)) (local.get $rb)) (f32x4.splat (f32.const 1.3981999507e-3))))
      (local.set $qb (f32x4.add (f32x4.mul (local.get $qb) (local.get $rb)) (f32x4.splat (f32.const 8.3334519073e-3))))
      (local.set $qb (f32x4.add (f32x4.mul (local.get $qb) (local.get $rb)) (f32x4.splat (f32.const 4.1665795894e-2))))
      (local.set $qb (f32x4.add (f32x4.mul (local.get $qb) (local.get $rb)) (f32x4.splat (f32.const 1.6666665459e-1))))
      (local.set $qb (f32x4.add (f32x4.mul (local.get $qb) (local.get $rb)) (f32x4.splat (f32.const 5.0000001201e-1))))
      (local.set $qb (f32x4.add (f32x4.add (f32x4.mul (local.get $qb) (f32x4.mul (local.get $rb) (local.get $rb))) (local.get $rb)) (f32x4.splat (f32.const 1))))
      (local.set $eb (v128.andnot
        (f32x4.mul (local.get $qb) (i32x4.shl (i32x4.sub (local.get $kb) (i32x4.splat (i32.const 0x4B3FFF81))) (i32.const 23)))
        (f32x4.lt (f32x4.neg (f32x4.mul (local.get $zb) (local.get $zb))) (f32x4.splat (f32.const -87.3)))))
      ;; erf(x/√2) with x's sign; GELU and its derivative
      (local.set $pb (v128.or (f32x4.pmax (f32x4.sub (f32x4.splat (f32.const 1)) (f32x4.mul (local.get $pb) (local.get $eb))) (f32x4.splat (f32.const 0)))
        (v128.and (local.get $xb) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))))
      (v128.store offset=16 (i32.add (local.get $out) (local.get $at))
        (f32x4.mul (f32x4.mul (local.get $xb) (f32x4.splat (f32.const 0.5))) (f32x4.add (f32x4.splat (f32.const 1)) (local.get $pb))))
      (if (local.get $grad) (then (v128.store offset=16 (i32.add (local.get $grad) (local.get $at))
        (f32x4.add
          (f32x4.mul (f32x4.splat (f32.const 0.5)) (f32x4.add (f32x4.splat (f32.const 1)) (local.get $pb)))
          (f32x4.mul (local.get $xb) (f32x4.mul (local.get $eb) (f32x4.splat (f32.const 0.3989422804014327))))))))
      (local.set $at (i32.add (local.get $at) (i32.const 32)))
      (br $each)))
    (if (i32.le_u (i32.add (local.get $at) (i32.const 16)) (local.get $end))
      (then
        (local.set $xa (v128.load (i32.add (local.get $src) (local.get $at))))
      (local.set $za (f32x4.mul (f32x4.abs (local.get $xa)) (f32x4.splat (f32.const 0.70710678118654752))))
      (local.set $ta (f32x4.div (f32x4.splat (f32.const 1))
        (f32x4.add (f32x4.splat (f32.const 1)) (f32x4.mul (local.get $za) (f32x4.splat (f32.const 0.3275911))))))
      (local.set $pa (f32x4.add (f32x4.mul (f32x4.splat (f32.const 1.061405429)) (local.get $ta)) (f32x4.splat (f32.const -1.453152027))))
      (local.set $pa (f32x4.add (f32x4.mul (local.get $pa) (local.get $ta)) (f32x4.splat (f32.const 1.421413741))))
      (local.set $pa (f32x4.add (f32x4.mul (local.get $pa) (local.get $ta)) (f32x4.splat (f32.const -0.284496736))))
      (local.set $pa (f32x4.add (f32x4.mul (local.get $pa) (local.get $ta)) (f32x4.splat (f32.const 0.254829592))))
      (local.set $pa (f32x4.mul (local.get $pa) (local.get $ta)))
      ;; e^(-z²) = e^(-x²/2) as $exp4, inline (a call per vector keeps the two chains from overlapping)
      (local.set $ea (f32x4.pmax (f32x4.neg (f32x4.mul (local.get $za) (local.get $za))) (f32x4.splat (f32.const -87.3))))
      (local.set $ka (f32x4.add (f32x4.mul (local.get $ea) (f32x4.splat (f32.const 1.44269504089))) (f32x4.splat (f32.const 12582912))))
      (local.set $na (f32x4.sub (local.get $ka) (f32x4.splat (f32.const 12582912))))
      (local.set $ra (f32x4.add (f32x4.sub (local.get $ea) (f32x4.mul (local.get $na) (f32x4.splat (f32.const 0.693359375))))
        (f32x4.mul (local.get $na) (f32x4.splat (f32.const 2.12194440e-4)))))
      (local.set $qa (f32x4.add (f32x4.mul (f32x4.splat (f32.const 1.9875691500e-4)) (local.get $ra)) (f32x4.splat (f32.const 1.3981999507e-3))))
      (local.set $qa (f32x4.add (f32x4.mul (local.get $qa) (local.get $ra)) (f32x4.splat (f32.const 8.3334519073e-3))))
      (local.set $qa (f32x4.add (f32x4.mul (local.get $qa) (local.get $ra)) (f32x4.splat (f32.const 4.1665795894e-2))))
      (local.set $qa (f32x4.add (f32x4.mul (local.get $qa) (local.get $ra)) (f32x4.splat (f32.const 1.6666665459e-1))))
      (local.set $qa (f32x4.add (f32x4.mul (local.get $qa) (local.get $ra)) (f32x4.splat (f32.const 5.0000001201e-1))))
      (local.set $qa (f32x4.add (f32x4.add (f32x4.mul (local.get $qa) (f32x4.mul (local.get $ra) (local.get $ra))) (local.get $ra)) (f32x4.splat (f32.const 1))))
      (local.set $ea (v128.andnot
        (f32x4.mul (local.get $qa) (i32x4.shl (i32x4.sub (local.get $ka) (i32x4.splat (i32.const 0x4B3FFF81))) (i32.const 23)))
        (f32x4.lt (f32x4.neg (f32x4.mul (local.get $za) (local.get $za))) (f32x4.splat (f32.const -87.3)))))
      ;; erf(x/√2) with x's sign; GELU and its derivative
      (local.set $pa (v128.or (f32x4.pmax (f32x4.sub (f32x4.splat (f32.const 1)) (f32x4.mul (local.get $pa) (local.get $ea))) (f32x4.splat (f32.const 0)))
        (v128.and (local.get $xa) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))))
      (v128.store (i32.add (local.get $out) (local.get $at))
        (f32x4.mul (f32x4.mul (local.get $xa) (f32x4.splat (f32.const 0.5))) (f32x4.add (f32x4.splat (f32.const 1)) (local.get $pa))))
      (if (local.get $grad) (then (v128.store (i32.add (local.get $grad) (local.get $at))
        (f32x4.add
          (f32x4.mul (f32x4.splat (f32.const 0.5)) (f32x4.add (f32x4.splat (f32.const 1)) (local.get $pa)))
          (f32x4.mul (local.get $xa) (f32x4.mul (local.get $ea) (f32x4.splat (f32.const 0.3989422804014327))))))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))))
    (local.set $rest (i32.sub (local.get $end) (local.get $at)))
    (if (local.get $rest)
      (then
        (local.set $xa (call $load4 (i32.add (local.get $src) (local.get $at)) (i32.shr_u (local.get $rest) (i32.const 2)) (f32.const 0)))
      (local.set $za (f32x4.mul (f32x4.abs (local.get $xa)) (f32x4.splat (f32.const 0.70710678118654752))))
      (local.set $ta (f32x4.div (f32x4.splat (f32.const 1))
        (f32x4.add (f32x4.splat (f32.const 1)) (f32x4.mul (local.get $za) (f32x4.splat (f32.const 0.3275911))))))
      (local.set $pa (f32x4.add (f32x4.mul (f32x4.splat (f32.const 1.061405429)) (local.get $ta)) (f32x4.splat (f32.const -1.453152027))))
      (local.set $pa (f32x4.add (f32x4.mul (local.get $pa) (local.get $ta)) (f32x4.splat (f32.const 1.421413741))))
      (local.set $pa (f32x4.add (f32x4.mul (local.get $pa) (local.get $ta)) (f32x4.splat (f32.const -0.284496736))))
      (local.set $pa (f32x4.add (f32x4.mul (local.get $pa) (local.get $ta)) (f32x4.splat (f32.const 0.254829592))))
      (local.set $pa (f32x4.mul (local.get $pa) (local.get $ta)))
      ;; e^(-z²) = e^(-x²/2) as $exp4, inline (a call per vector keeps the two chains from overlapping)
      (local.set $ea (f32x4.pmax (f32x4.neg (f32x4.mul (local.get $za) (local.get $za))) (f32x4.splat (f32.const -87.3))))
      (local.set $ka (f32x4.add (f32x4.mul (local.get $ea) (f32x4.splat (f32.const 1.44269504089))) (f32x4.splat (f32.const 12582912))))
      (local.set $na (f32x4.sub (local.get $ka) (f32x4.splat (f32.const 12582912))))
      (local.set $ra (f32x4.add (f32x4.sub (local.get $ea) (f32x4.mul (local.get $na) (f32x4.splat (f32.const 0.693359375))))
        (f32x4.mul (local.get $na) (f32x4.splat (f32.const 2.12194440e-4)))))
      (local.set $qa (f32x4.add (f32x4.mul (f32x4.splat (f32.const 1.9875691500e-4)) (local.get $ra)) (f32x4.splat (f32.const 1.3981999507e-3))))
      (local.set $qa (f32x4.add (f32x4.mul (local.get $qa) (local.get $ra)) (f32x4.splat (f32.const 8.3334519073e-3))))
      (local.set $qa (f32x4.add (f32x4.mul (local.get $qa) (local.get $ra)) (f32x4.splat (f32.const 4.1665795894e-2))))
      (local.set $qa (f32x4.add (f32x4.mul (local.get $qa) (local.get $ra)) (f32x4.splat (f32.const 1.6666665459e-1))))
      (local.set $qa (f32x4.add (f32x4.mul (local.get $qa) (local.get $ra)) (f32x4.splat (f32.const 5.0000001201e-1))))
      (local.set $qa (f32x4.add (f32x4.add (f32x4.mul (local.get $qa) (f32x4.mul (local.get $ra) (local.get $ra))) (local.get $ra)) (f32x4.splat (f32.const 1))))
      (local.set $ea (v128.andnot
        (f32x4.mul (local.get $qa) (i32x4.shl (i32x4.sub (local.get $ka) (i32x4.splat (i32.const 0x4B3FFF81))) (i32.const 23)))
        (f32x4.lt (f32x4.neg (f32x4.mul (local.get $za) (local.get $za))) (f32x4.splat (f32.const -87.3)))))
      ;; erf(x/√2) with x's sign; GELU and its derivative
      (local.set $pa (v128.or (f32x4.pmax (f32x4.sub (f32x4.splat (f32.const 1)) (f32x4.mul (local.get $pa) (local.get $ea))) (f32x4.splat (f32.const 0)))
        (v128.and (local.get $xa) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))))
      (v128.store (local.get $scratch)
        (f32x4.mul (f32x4.mul (local.get $xa) (f32x4.splat (f32.const 0.5))) (f32x4.add (f32x4.splat (f32.const 1)) (local.get $pa))))
      (v128.store offset=16 (local.get $scratch)
        (f32x4.add
          (f32x4.mul (f32x4.splat (f32.const 0.5)) (f32x4.add (f32x4.splat (f32.const 1)) (local.get $pa)))
          (f32x4.mul (local.get $xa) (f32x4.mul (local.get $ea) (f32x4.splat (f32.const 0.3989422804014327))))))
        (memory.copy (i32.add (local.get $out) (local.get $at)) (local.get $scratch) (local.get $rest))
        (if (local.get $grad) (then (memory.copy (i32.add (local.get $grad) (local.get $at)) (i32.add (local.get $scratch) (i32.const 16)) (local.get $rest)))))))

  ;; ---------------------------------------------------------------------------------------
  ;; Softmax cross-entropy

  ;; The log-sum-exp of a row of v logits (max + ln Σ e^(x - max)), the sum four at a time
  ;; (e^(-inf) for the lanes past v).
  (func $logSumExp (param $x i32) (param $v i32) (result f32)
    (local $j i32) (local $mx f32) (local $acc v128) (local $end i32) (local $mxs v128)
    (local.set $mx (f32.const -inf))
    (block $maxDone (loop $max
      (br_if $maxDone (i32.ge_u (local.get $j) (local.get $v)))
      (local.set $mx (f32.max (local.get $mx) (f32.load (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 2))))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $max)))
    (local.set $mxs (f32x4.splat (local.get $mx)))
    (local.set $end (i32.and (local.get $v) (i32.const -4)))
    (local.set $j (i32.const 0))
    (block $sumDone (loop $sum
      (br_if $sumDone (i32.ge_u (local.get $j) (local.get $end)))
      (local.set $acc (f32x4.add (local.get $acc)
        (call $exp4 (f32x4.sub (v128.load (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 2)))) (local.get $mxs)))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $sum)))
    (block $tailDone (loop $tail
      (br_if $tailDone (i32.ge_u (local.get $j) (local.get $v)))
      (local.set $acc (f32x4.add (local.get $acc) (v128.and (v128.const i32x4 -1 0 0 0)
        (call $exp4 (f32x4.sub (v128.load32_splat (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 2)))) (local.get $mxs))))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $tail)))
    (f32.add (local.get $mx) (call $log (call $hsum (local.get $acc)))))

  ;; Cross-entropy of n rows of v logits against int32 targets, rows whose target is `ignore`
  ;; left out (a target outside [0, v) counts and adds 0, as a zero one-hot row does): lse[i] = log Σ e^(logits[i]) is kept for the backward pass (0 for an ignored
  ;; row), and loss[0] is the mean of lse[i] - logits[i, target] over the kept rows (0 when
  ;; none), summed in float64.
  (func (export "cross_entropy") (param $logits i32) (param $targets i32) (param $n i32) (param $v i32) (param $ignore i32)
    (param $lse i32) (param $loss i32)
    (local $i i32) (local $t i32) (local $row i32) (local $l f32) (local $sum f64) (local $count i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $t (i32.load (i32.add (local.get $targets) (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $row (i32.add (local.get $logits) (i32.shl (i32.mul (local.get $i) (local.get $v)) (i32.const 2))))
      (if (i32.or (i32.eq (local.get $t) (local.get $ignore)) (i32.ge_u (local.get $t) (local.get $v)))
        (then
          (f32.store (i32.add (local.get $lse) (i32.shl (local.get $i) (i32.const 2))) (f32.const 0))
          ;; a target outside [0, v) counts but adds nothing (its one-hot row is zero)
          (if (i32.ne (local.get $t) (local.get $ignore)) (then (local.set $count (i32.add (local.get $count) (i32.const 1))))))
        (else
          (local.set $l (call $logSumExp (local.get $row) (local.get $v)))
          (f32.store (i32.add (local.get $lse) (i32.shl (local.get $i) (i32.const 2))) (local.get $l))
          (local.set $sum (f64.add (local.get $sum)
            (f64.promote_f32 (f32.sub (local.get $l) (f32.load (i32.add (local.get $row) (i32.shl (local.get $t) (i32.const 2))))))))
          (local.set $count (i32.add (local.get $count) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (f32.store (local.get $loss) (if (result f32) (local.get $count)
      (then (f32.demote_f64 (f64.div (local.get $sum) (f64.convert_i32_u (local.get $count)))))
      (else (f32.const 0)))))

  ;; The gradient of "cross_entropy" times g = dy[0] (the loss's own gradient): for a kept row,
  ;; dlogits[i] = (softmax(logits[i]) - onehot(target))·g/count; an ignored row (or one whose
  ;; target is outside [0, v)) gets zeros.
  (func (export "cross_entropy_backward") (param $logits i32) (param $targets i32) (param $n i32) (param $v i32) (param $ignore i32)
    (param $lse i32) (param $dy i32) (param $dlogits i32)
    (local $i i32) (local $j i32) (local $t i32) (local $row i32) (local $drow i32) (local $count i32) (local $gs v128) (local $ls v128) (local $end i32) (local $f f32)
    (block $countDone (loop $countEach
      (br_if $countDone (i32.ge_u (local.get $i) (local.get $n)))
      (if (i32.ne (i32.load (i32.add (local.get $targets) (i32.shl (local.get $i) (i32.const 2)))) (local.get $ignore))
        (then (local.set $count (i32.add (local.get $count) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $countEach)))
    (local.set $f (f32.div (f32.load (local.get $dy)) (f32.convert_i32_u (select (local.get $count) (i32.const 1) (local.get $count)))))
    (local.set $gs (f32x4.splat (local.get $f)))
    (local.set $end (i32.and (local.get $v) (i32.const -4)))
    (local.set $i (i32.const 0))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $t (i32.load (i32.add (local.get $targets) (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $row (i32.add (local.get $logits) (i32.shl (i32.mul (local.get $i) (local.get $v)) (i32.const 2))))
      (local.set $drow (i32.add (local.get $dlogits) (i32.shl (i32.mul (local.get $i) (local.get $v)) (i32.const 2))))
      (if (i32.or (i32.eq (local.get $t) (local.get $ignore)) (i32.ge_u (local.get $t) (local.get $v)))
        (then (memory.fill (local.get $drow) (i32.const 0) (i32.shl (local.get $v) (i32.const 2))))
        (else
          (local.set $ls (v128.load32_splat (i32.add (local.get $lse) (i32.shl (local.get $i) (i32.const 2)))))
          (local.set $j (i32.const 0))
          (block $rowDone (loop $rowLoop
            (br_if $rowDone (i32.ge_u (local.get $j) (local.get $end)))
            (v128.store (i32.add (local.get $drow) (i32.shl (local.get $j) (i32.const 2)))
              (f32x4.mul (call $exp4 (f32x4.sub (v128.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))) (local.get $ls))) (local.get $gs)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $rowLoop)))
          (block $tailDone (loop $tail
            (br_if $tailDone (i32.ge_u (local.get $j) (local.get $v)))
            (f32.store (i32.add (local.get $drow) (i32.shl (local.get $j) (i32.const 2)))
              (f32x4.extract_lane 0 (f32x4.mul (call $exp4 (f32x4.sub (v128.load32_splat (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))) (local.get $ls))) (local.get $gs))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $tail)))
          (f32.store (i32.add (local.get $drow) (i32.shl (local.get $t) (i32.const 2)))
            (f32.sub (f32.load (i32.add (local.get $drow) (i32.shl (local.get $t) (i32.const 2)))) (local.get $f)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each))))

  ;; ---------------------------------------------------------------------------------------
  ;; Adam(W)

  ;; Σ x[i]² over n floats, one at a time in order, in float32: what tfjs-wasm's Square and Sum
  ;; give, to the bit (the clip factor is then the ops' own).
  (func (export "sum_squares") (param $x i32) (param $n i32) (result f32)
    (local $end i32) (local $s f32) (local $y f32)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (local.set $y (f32.load (local.get $x)))
      (local.set $s (f32.add (local.get $s) (f32.mul (local.get $y) (local.get $y))))
      (local.set $x (i32.add (local.get $x) (i32.const 4)))
      (br $each)))
    (local.get $s))

  ;; One parameter's Adam(W) update, in optim/transforms.ts's float32 operations and order:
  ;; g = grad·clip; m' = m·b1 + g·c1; v' = v·b2 + g²·c2; u = (m'·step) / (√v' + epsHat);
  ;; with `decay`, u += p·wd; p' = p + u·negLr. Writes p', m', v'.
  (func $adam4 (param $g v128) (param $p v128) (param $m v128) (param $v v128) (param $k i32)
    (param $clip f32) (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32) (param $step f32) (param $epsHat f32)
    (param $decay i32) (param $wd f32) (param $negLr f32) (param $pOut i32) (param $mOut i32) (param $vOut i32)
    (local $u v128)
    (local.set $g (f32x4.mul (local.get $g) (f32x4.splat (local.get $clip))))
    (local.set $m (f32x4.add (f32x4.mul (local.get $m) (f32x4.splat (local.get $b1))) (f32x4.mul (local.get $g) (f32x4.splat (local.get $c1)))))
    (local.set $v (f32x4.add (f32x4.mul (local.get $v) (f32x4.splat (local.get $b2))) (f32x4.mul (f32x4.mul (local.get $g) (local.get $g)) (f32x4.splat (local.get $c2)))))
    (local.set $u (f32x4.div (f32x4.mul (local.get $m) (f32x4.splat (local.get $step))) (f32x4.add (f32x4.sqrt (local.get $v)) (f32x4.splat (local.get $epsHat)))))
    (if (local.get $decay) (then (local.set $u (f32x4.add (local.get $u) (f32x4.mul (local.get $p) (f32x4.splat (local.get $wd)))))))
    (v128.store (i32.add (local.get $pOut) (local.get $k)) (f32x4.add (local.get $p) (f32x4.mul (local.get $u) (f32x4.splat (local.get $negLr)))))
    (v128.store (i32.add (local.get $mOut) (local.get $k)) (local.get $m))
    (v128.store (i32.add (local.get $vOut) (local.get $k)) (local.get $v)))

  ;; The update of n floats: four at a time, then the last n mod 4 one lane each (stored lane 0 only).
  (func $adam (export "adam") (param $g i32) (param $p i32) (param $m i32) (param $v i32) (param $n i32)
    (param $clip f32) (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32) (param $step f32) (param $epsHat f32)
    (param $decay i32) (param $wd f32) (param $negLr f32) (param $pOut i32) (param $mOut i32) (param $vOut i32) (param $scratch i32)
    (local $k i32) (local $end i32)
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $k) (local.get $end)))
      (call $adam4
        (v128.load (i32.add (local.get $g) (local.get $k))) (v128.load (i32.add (local.get $p) (local.get $k)))
        (v128.load (i32.add (local.get $m) (local.get $k))) (v128.load (i32.add (local.get $v) (local.get $k))) (local.get $k)
        (local.get $clip) (local.get $b1) (local.get $c1) (local.get $b2) (local.get $c2) (local.get $step) (local.get $epsHat)
        (local.get $decay) (local.get $wd) (local.get $negLr) (local.get $pOut) (local.get $mOut) (local.get $vOut))
      (local.set $k (i32.add (local.get $k) (i32.const 16)))
      (br $each)))
    ;; the tail, one float at a time through 16 bytes of scratch per output
    (block $tailDone (loop $tail
      (br_if $tailDone (i32.ge_u (local.get $k) (i32.shl (local.get $n) (i32.const 2))))
      (call $adam4
        (v128.load32_splat (i32.add (local.get $g) (local.get $k))) (v128.load32_splat (i32.add (local.get $p) (local.get $k)))
        (v128.load32_splat (i32.add (local.get $m) (local.get $k))) (v128.load32_splat (i32.add (local.get $v) (local.get $k))) (i32.const 0)
        (local.get $clip) (local.get $b1) (local.get $c1) (local.get $b2) (local.get $c2) (local.get $step) (local.get $epsHat)
        (local.get $decay) (local.get $wd) (local.get $negLr)
        (local.get $scratch) (i32.add (local.get $scratch) (i32.const 16)) (i32.add (local.get $scratch) (i32.const 32)))
      (f32.store (i32.add (local.get $pOut) (local.get $k)) (f32.load (local.get $scratch)))
      (f32.store (i32.add (local.get $mOut) (local.get $k)) (f32.load offset=16 (local.get $scratch)))
      (f32.store (i32.add (local.get $vOut) (local.get $k)) (f32.load offset=32 (local.get $scratch)))
      (local.set $k (i32.add (local.get $k) (i32.const 4)))
      (br $tail))))

  ;; "attention", "attention_backward" and "gelu_erf" on a chunk of their work, so that the
  ;; threads of the kernel pool share one call (module.ts's runSplit): sequences [b0, b1) of the
  ;; batch, or values [8·g0, min(n, 8·g1)). Each chunk takes scratch slot $slot, the chunk's
  ;; index that the pool passes after the range (4·(T + 4) floats a slot for the forward pass,
  ;; T·(T + 3) + 4·(T + 4) for the backward pass, 2·T·(T + 3) + 4·(T + 4) with a dropout mask, 8
  ;; for GELU), so that no two threads share one.
  (func (export "attention_chunk") (param $q i32) (param $k i32) (param $v i32) (param $batch i32) (param $t i32)
    (param $heads i32) (param $d i32) (param $scale f32) (param $mask i32) (param $drop i32) (param $probs i32) (param $scratch i32) (param $out i32)
    (param $b0 i32) (param $b1 i32) (param $slot i32)
    (local $off i32) (local $pOff i32)
    (local.set $pOff (i32.shl (i32.mul (i32.mul (local.get $b0) (local.get $heads)) (i32.mul (local.get $t) (local.get $t))) (i32.const 2)))
    (local.set $off (i32.shl (i32.mul (i32.mul (local.get $b0) (local.get $t)) (i32.mul (local.get $heads) (local.get $d))) (i32.const 2)))
    (call $attention (i32.add (local.get $q) (local.get $off)) (i32.add (local.get $k) (local.get $off)) (i32.add (local.get $v) (local.get $off))
      (i32.sub (local.get $b1) (local.get $b0)) (local.get $t) (local.get $heads) (local.get $d) (local.get $scale) (local.get $mask)
      (if (result i32) (local.get $drop) (then (i32.add (local.get $drop) (local.get $pOff))) (else (i32.const 0)))
      (if (result i32) (local.get $probs) (then (i32.add (local.get $probs) (local.get $pOff))) (else (i32.const 0)))
      (i32.add (local.get $scratch) (i32.shl (i32.mul (local.get $slot) (i32.add (local.get $t) (i32.const 4))) (i32.const 4)))
      (i32.add (local.get $out) (local.get $off))))

  (func (export "attention_backward_chunk") (param $dout i32) (param $q i32) (param $k i32) (param $v i32) (param $o i32) (param $probs i32)
    (param $drop i32) (param $batch i32) (param $t i32) (param $heads i32) (param $d i32) (param $scale f32) (param $scratch i32)
    (param $dq i32) (param $dk i32) (param $dv i32) (param $b0 i32) (param $b1 i32) (param $slot i32)
    (local $off i32) (local $pOff i32) (local $slotFloats i32)
    (local.set $pOff (i32.shl (i32.mul (i32.mul (local.get $b0) (local.get $heads)) (i32.mul (local.get $t) (local.get $t))) (i32.const 2)))
    ;; a slot: dS [T, T + 3], P ⊙ drop as much again with a mask, and four rows' T + 4 vectors
    (local.set $slotFloats (i32.mul (local.get $t) (i32.add (local.get $t) (i32.const 3))))
    (if (local.get $drop) (then (local.set $slotFloats (i32.shl (local.get $slotFloats) (i32.const 1)))))
    (local.set $slotFloats (i32.add (local.get $slotFloats) (i32.shl (i32.add (local.get $t) (i32.const 4)) (i32.const 2))))
    (local.set $off (i32.shl (i32.mul (i32.mul (local.get $b0) (local.get $t)) (i32.mul (local.get $heads) (local.get $d))) (i32.const 2)))
    (call $attention_backward (i32.add (local.get $dout) (local.get $off)) (i32.add (local.get $q) (local.get $off)) (i32.add (local.get $k) (local.get $off))
      (i32.add (local.get $v) (local.get $off)) (i32.add (local.get $o) (local.get $off))
      (i32.add (local.get $probs) (local.get $pOff))
      (if (result i32) (local.get $drop) (then (i32.add (local.get $drop) (local.get $pOff))) (else (i32.const 0)))
      (i32.sub (local.get $b1) (local.get $b0)) (local.get $t) (local.get $heads) (local.get $d) (local.get $scale)
      (i32.add (local.get $scratch) (i32.shl (i32.mul (local.get $slot) (local.get $slotFloats)) (i32.const 2)))
      (i32.add (local.get $dq) (local.get $off)) (i32.add (local.get $dk) (local.get $off)) (i32.add (local.get $dv) (local.get $off))))

  (func (export "gelu_erf_chunk") (param $src i32) (param $n i32) (param $out i32) (param $grad i32) (param $scratch i32)
    (param $g0 i32) (param $g1 i32) (param $slot i32)
    (local $start i32) (local $end i32) (local $off i32)
    (local.set $start (i32.shl (local.get $g0) (i32.const 3)))
    (local.set $end (i32.shl (local.get $g1) (i32.const 3)))
    (if (i32.gt_u (local.get $end) (local.get $n)) (then (local.set $end (local.get $n))))
    (local.set $off (i32.shl (local.get $start) (i32.const 2)))
    (call $gelu_erf (i32.add (local.get $src) (local.get $off)) (i32.sub (local.get $end) (local.get $start)) (i32.add (local.get $out) (local.get $off))
      (if (result i32) (local.get $grad) (then (i32.add (local.get $grad) (local.get $off))) (else (i32.const 0)))
      (i32.add (local.get $scratch) (i32.shl (local.get $slot) (i32.const 5)))))

  ;; "adam" on elements [4096·c0, min(n, 4096·c1)), so that the kernel pool's threads share one
  ;; leaf: only the chunk holding the last elements (n mod 4 of them) uses the scratch.
  (func (export "adam_chunk") (param $g i32) (param $p i32) (param $m i32) (param $v i32) (param $n i32)
    (param $clip f32) (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32) (param $step f32) (param $epsHat f32)
    (param $decay i32) (param $wd f32) (param $negLr f32) (param $pOut i32) (param $mOut i32) (param $vOut i32) (param $scratch i32)
    (param $k0 i32) (param $k1 i32)
    (local $start i32) (local $end i32) (local $off i32)
    (local.set $start (i32.shl (local.get $k0) (i32.const 12)))
    (local.set $end (i32.shl (local.get $k1) (i32.const 12)))
    (if (i32.gt_u (local.get $end) (local.get $n)) (then (local.set $end (local.get $n))))
    (local.set $off (i32.shl (local.get $start) (i32.const 2)))
    (call $adam (i32.add (local.get $g) (local.get $off)) (i32.add (local.get $p) (local.get $off)) (i32.add (local.get $m) (local.get $off))
      (i32.add (local.get $v) (local.get $off)) (i32.sub (local.get $end) (local.get $start))
      (local.get $clip) (local.get $b1) (local.get $c1) (local.get $b2) (local.get $c2) (local.get $step) (local.get $epsHat)
      (local.get $decay) (local.get $wd) (local.get $negLr)
      (i32.add (local.get $pOut) (local.get $off)) (i32.add (local.get $mOut) (local.get $off)) (i32.add (local.get $vOut) (local.get $off))
      (local.get $scratch)))
)
