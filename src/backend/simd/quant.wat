;; minigpt-fp's quantized-weight kernels for the tfjs wasm backend (quant-matmul.ts registers
;; them; module.ts instantiates this module on tfjs-wasm's own memory, like kernels.wat, and a
;; pool of threads (pool.ts) instantiates it on the same memory when that memory is shared;
;; scripts/kernels.mjs assembles it into quant-wasm.ts, `npm run kernels`).
;;
;; Weights are stored one row per output channel ([out, in], PyTorch's nn.Linear layout):
;;   int8  one signed byte per weight, a row padded with zeros to `stride` bytes (a multiple
;;         of 32), one float32 scale per row: w = q · scale
;;   q4    GGML's q4_0 blocks: 32 weights in 16 bytes, byte j holding weight j in its low
;;         nibble and weight j + 16 in its high nibble, each nibble q ∈ [0, 16), one float32
;;         scale d per block: w = (q − 8) · d; a row is `groups` blocks (zero-padded)
;; The activations are quantized on the fly so that the products are integer dot products
;; whose sums are exact, and the weights are widened, never converted to floats:
;;   for int8 weights, per row of x to int16 (quantize_rows: s = max|x|/32767), and a row's
;;     whole sum Σ q_x·q_w is exact (32-bit lanes for 1,024 weights, then 64 bits);
;;   for q4 weights, per block of 32 to int8 (quantize_blocks: s = max|x_block|/127, as
;;     GGML's q8_0), and each block's sum is exact.
;; The float arithmetic after the integer sums is fixed (the order is written at each kernel)
;; and src/quant/matrix.ts repeats it on the host, so the kernels, the relaxed-SIMD variant
;; (quant-relaxed.wat), any split of the output channels over threads and the host fallback
;; give the same float32 numbers, bit for bit.
;; Every pointer is a byte offset; sizes count elements unless named bytes.
(module
  (import "env" "memory" (memory 1))

  ;; (l0 + l1) + (l2 + l3): the order in which the host fallback adds the four lanes too.
  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; The sum of a vector's four 32-bit lanes (exact).
  (func $isum (param $a v128) (result i32)
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $a)) (i32x4.extract_lane 1 (local.get $a)))
      (i32.add (i32x4.extract_lane 2 (local.get $a)) (i32x4.extract_lane 3 (local.get $a)))))

  ;; q [rows, stride] int16, scales [rows] float32 from x [rows, n] float32 (stride ≥ n, the
  ;; rest of each row zero): s = max|x_r| / 32767, q = round-half-even(x · (32767 / max|x_r|)).
  ;; A row of zeros has s = 0 and q = 0. Eight values at a time, then one at a time: the maximum
  ;; does not depend on the order, and |q| ≤ 32767, where narrowing to int16 saturates as
  ;; storing the low 16 bits wraps, so the numbers are the scalar loop's.
  (func (export "quantize_rows") (param $x i32) (param $rows i32) (param $n i32) (param $stride i32) (param $q i32) (param $scales i32)
    (local $r i32) (local $i i32) (local $m f32) (local $inv f32) (local $xr i32) (local $qr i32) (local $n8 i32)
    (local $mv v128) (local $iv v128)
    (local.set $n8 (i32.and (local.get $n) (i32.const -8)))
    (block $done (loop $row
      (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $xr (i32.add (local.get $x) (i32.shl (i32.mul (local.get $r) (local.get $n)) (i32.const 2))))
      (local.set $qr (i32.add (local.get $q) (i32.shl (i32.mul (local.get $r) (local.get $stride)) (i32.const 1))))
      (local.set $mv (v128.const i32x4 0 0 0 0))
      (local.set $i (i32.const 0))
      (block $e0 (loop $l0
        (br_if $e0 (i32.ge_u (local.get $i) (local.get $n8)))
        (local.set $mv (f32x4.max (local.get $mv) (f32x4.abs (v128.load (i32.add (local.get $xr) (i32.shl (local.get $i) (i32.const 2)))))))
        (local.set $mv (f32x4.max (local.get $mv) (f32x4.abs (v128.load offset=16 (i32.add (local.get $xr) (i32.shl (local.get $i) (i32.const 2)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $l0)))
      (local.set $m (f32.max
        (f32.max (f32x4.extract_lane 0 (local.get $mv)) (f32x4.extract_lane 1 (local.get $mv)))
        (f32.max (f32x4.extract_lane 2 (local.get $mv)) (f32x4.extract_lane 3 (local.get $mv)))))
      (block $e1 (loop $l1
        (br_if $e1 (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $m (f32.max (local.get $m) (f32.abs (f32.load (i32.add (local.get $xr) (i32.shl (local.get $i) (i32.const 2)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l1)))
      (local.set $inv (select (f32.div (f32.const 32767) (local.get $m)) (f32.const 0) (f32.gt (local.get $m) (f32.const 0))))
      (local.set $iv (f32x4.splat (local.get $inv)))
      (f32.store (i32.add (local.get $scales) (i32.shl (local.get $r) (i32.const 2))) (f32.div (local.get $m) (f32.const 32767)))
      (local.set $i (i32.const 0))
      (block $e2v (loop $l2v
        (br_if $e2v (i32.ge_u (local.get $i) (local.get $n8)))
        (v128.store (i32.add (local.get $qr) (i32.shl (local.get $i) (i32.const 1)))
          (i16x8.narrow_i32x4_s
            (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $iv) (v128.load (i32.add (local.get $xr) (i32.shl (local.get $i) (i32.const 2)))))))
            (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $iv) (v128.load offset=16 (i32.add (local.get $xr) (i32.shl (local.get $i) (i32.const 2)))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $l2v)))
      (block $e2 (loop $l2
        (br_if $e2 (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store16 (i32.add (local.get $qr) (i32.shl (local.get $i) (i32.const 1)))
          (i32.trunc_sat_f32_s (f32.nearest (f32.mul (local.get $inv) (f32.load (i32.add (local.get $xr) (i32.shl (local.get $i) (i32.const 2))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l2)))
      (block $e3 (loop $l3
        (br_if $e3 (i32.ge_u (local.get $i) (local.get $stride)))
        (i32.store16 (i32.add (local.get $qr) (i32.shl (local.get $i) (i32.const 1))) (i32.const 0))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l3)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $row))))

  ;; GGML's q8_0 for activations: x [rows, n] float32 in blocks of 32 (groups a row, the last
  ;; zero-padded) → q [rows, 32·groups] int8, scales [rows, groups] float32 and sums [rows,
  ;; groups] int32: per block m = max|x|, s = m / 127, q = round-half-even(x · (127 / m)) ∈
  ;; [−127, 127] (all 0 when m = 0), and sums = 8·Σq, the term that q4's −8 offset subtracts.
  ;; A whole block of 32 is done eight values at a time (the same numbers: the maximum and the
  ;; integer sum do not depend on the order, and narrowing saturates where |q| ≤ 127 anyway);
  ;; a row's last, partial block one value at a time.
  (func (export "quantize_blocks") (param $x i32) (param $rows i32) (param $n i32) (param $groups i32) (param $q i32) (param $scales i32) (param $sums i32)
    (local $r i32) (local $g i32) (local $i i32) (local $start i32) (local $end i32) (local $m f32) (local $inv f32) (local $v i32) (local $s i32)
    (local $xr i32) (local $qp i32) (local $k i32) (local $xb i32)
    (local $mv v128) (local $iv v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $sv v128)
    (block $done (loop $row
      (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $xr (i32.add (local.get $x) (i32.shl (i32.mul (local.get $r) (local.get $n)) (i32.const 2))))
      (local.set $g (i32.const 0))
      (block $gdone (loop $block
        (br_if $gdone (i32.ge_u (local.get $g) (local.get $groups)))
        (local.set $start (i32.shl (local.get $g) (i32.const 5)))
        (local.set $end (i32.add (local.get $start) (i32.const 32)))
        (local.set $k (i32.add (i32.mul (local.get $r) (local.get $groups)) (local.get $g)))
        (local.set $qp (i32.add (local.get $q) (i32.shl (local.get $k) (i32.const 5))))
        (if (i32.le_u (local.get $end) (local.get $n))
          (then
            ;; a whole block: eight vectors of x
            (local.set $xb (i32.add (local.get $xr) (i32.shl (local.get $start) (i32.const 2))))
            (local.set $mv (f32x4.max
              (f32x4.max
                (f32x4.max (f32x4.abs (v128.load offset=0 (local.get $xb))) (f32x4.abs (v128.load offset=16 (local.get $xb))))
                (f32x4.max (f32x4.abs (v128.load offset=32 (local.get $xb))) (f32x4.abs (v128.load offset=48 (local.get $xb)))))
              (f32x4.max
                (f32x4.max (f32x4.abs (v128.load offset=64 (local.get $xb))) (f32x4.abs (v128.load offset=80 (local.get $xb))))
                (f32x4.max (f32x4.abs (v128.load offset=96 (local.get $xb))) (f32x4.abs (v128.load offset=112 (local.get $xb)))))))
            (local.set $m (f32.max
              (f32.max (f32x4.extract_lane 0 (local.get $mv)) (f32x4.extract_lane 1 (local.get $mv)))
              (f32.max (f32x4.extract_lane 2 (local.get $mv)) (f32x4.extract_lane 3 (local.get $mv)))))
            (local.set $inv (select (f32.div (f32.const 127) (local.get $m)) (f32.const 0) (f32.gt (local.get $m) (f32.const 0))))
            (local.set $iv (f32x4.splat (local.get $inv)))
            (f32.store (i32.add (local.get $scales) (i32.shl (local.get $k) (i32.const 2))) (f32.div (local.get $m) (f32.const 127)))
            (local.set $a0 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $iv) (v128.load offset=0 (local.get $xb))))))
            (local.set $a1 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $iv) (v128.load offset=16 (local.get $xb))))))
            (local.set $a2 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $iv) (v128.load offset=32 (local.get $xb))))))
            (local.set $a3 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $iv) (v128.load offset=48 (local.get $xb))))))
            (local.set $sv (i32x4.add (i32x4.add (local.get $a0) (local.get $a1)) (i32x4.add (local.get $a2) (local.get $a3))))
            (v128.store offset=0 (local.get $qp) (i8x16.narrow_i16x8_s
              (i16x8.narrow_i32x4_s (local.get $a0) (local.get $a1)) (i16x8.narrow_i32x4_s (local.get $a2) (local.get $a3))))
            (local.set $a0 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $iv) (v128.load offset=64 (local.get $xb))))))
            (local.set $a1 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $iv) (v128.load offset=80 (local.get $xb))))))
            (local.set $a2 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $iv) (v128.load offset=96 (local.get $xb))))))
            (local.set $a3 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $iv) (v128.load offset=112 (local.get $xb))))))
            (local.set $sv (i32x4.add (local.get $sv) (i32x4.add (i32x4.add (local.get $a0) (local.get $a1)) (i32x4.add (local.get $a2) (local.get $a3)))))
            (v128.store offset=16 (local.get $qp) (i8x16.narrow_i16x8_s
              (i16x8.narrow_i32x4_s (local.get $a0) (local.get $a1)) (i16x8.narrow_i32x4_s (local.get $a2) (local.get $a3))))
            (i32.store (i32.add (local.get $sums) (i32.shl (local.get $k) (i32.const 2))) (i32.shl (call $isum (local.get $sv)) (i32.const 3))))
          (else
            ;; a row's last block, partial: one value at a time, zeros after n
            (local.set $end (local.get $n))
            (local.set $m (f32.const 0))
            (local.set $i (local.get $start))
            (block $e1 (loop $l1
              (br_if $e1 (i32.ge_u (local.get $i) (local.get $end)))
              (local.set $m (f32.max (local.get $m) (f32.abs (f32.load (i32.add (local.get $xr) (i32.shl (local.get $i) (i32.const 2)))))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $l1)))
            (local.set $inv (select (f32.div (f32.const 127) (local.get $m)) (f32.const 0) (f32.gt (local.get $m) (f32.const 0))))
            (f32.store (i32.add (local.get $scales) (i32.shl (local.get $k) (i32.const 2))) (f32.div (local.get $m) (f32.const 127)))
            (local.set $s (i32.const 0))
            (local.set $i (local.get $start))
            (block $e2 (loop $l2
              (br_if $e2 (i32.ge_u (local.get $i) (local.get $end)))
              (local.set $v (i32.trunc_sat_f32_s (f32.nearest (f32.mul (local.get $inv) (f32.load (i32.add (local.get $xr) (i32.shl (local.get $i) (i32.const 2))))))))
              (i32.store8 (i32.add (local.get $qp) (i32.sub (local.get $i) (local.get $start))) (local.get $v))
              (local.set $s (i32.add (local.get $s) (local.get $v)))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $l2)))
            (block $e3 (loop $l3
              (br_if $e3 (i32.ge_u (local.get $i) (i32.add (local.get $start) (i32.const 32))))
              (i32.store8 (i32.add (local.get $qp) (i32.sub (local.get $i) (local.get $start))) (i32.const 0))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $l3)))
            (i32.store (i32.add (local.get $sums) (i32.shl (local.get $k) (i32.const 2))) (i32.shl (local.get $s) (i32.const 3)))))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (br $block)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $row))))

  ;; The sum of a vector's four 32-bit lanes, exact, as a 64-bit integer.
  (func $lsum (param $a v128) (result i64)
    (i64.add
      (i64.add (i64.extend_i32_s (i32x4.extract_lane 0 (local.get $a))) (i64.extend_i32_s (i32x4.extract_lane 1 (local.get $a))))
      (i64.add (i64.extend_i32_s (i32x4.extract_lane 2 (local.get $a))) (i64.extend_i32_s (i32x4.extract_lane 3 (local.get $a))))))

  ;; y [rows, outs] = x · dequant(W)ᵀ (+ bias), output channels [o0, o1) only (a thread's share),
  ;; for int8 weights W [outs, stride] with scales ws [outs]; x quantized by quantize_rows: xq
  ;; [rows, stride] int16 with scales xs [rows]; bias 0 for none. The row's sum S = Σ q_x·q_w
  ;; is exact; then y = f32(S) · f32(xs · ws) + b, each step rounded to float32. A row of
  ;; weights is read once for all rows of x (it stays in L1 while they use it).
  (func (export "qmm_i8") (param $xq i32) (param $xs i32) (param $rows i32) (param $stride i32)
    (param $w i32) (param $ws i32) (param $outs i32) (param $bias i32) (param $y i32) (param $o0 i32) (param $o1 i32)
    (local $o i32) (local $r i32) (local $wr i32) (local $sw f32) (local $b f32) (local $yp i32)
    (local $xr i32) (local $xp i32) (local $wp i32) (local $i i32) (local $end i32) (local $sp i32)
    (local $a0 v128) (local $a1 v128) (local $s i64)
    (local.set $o (local.get $o0))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $o) (local.get $o1)))
      (local.set $wr (i32.add (local.get $w) (i32.mul (local.get $o) (local.get $stride))))
      (local.set $sw (f32.load (i32.add (local.get $ws) (i32.shl (local.get $o) (i32.const 2)))))
      (local.set $b (if (result f32) (local.get $bias) (then (f32.load (i32.add (local.get $bias) (i32.shl (local.get $o) (i32.const 2))))) (else (f32.const 0))))
      (local.set $yp (i32.add (local.get $y) (i32.shl (local.get $o) (i32.const 2))))
      (local.set $xr (local.get $xq))
      (local.set $sp (local.get $xs))
      (local.set $r (i32.const 0))
      (block $rdone (loop $row
        (br_if $rdone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $s (i64.const 0))
        (local.set $wp (local.get $wr))
        (local.set $xp (local.get $xr))
        (local.set $i (i32.const 0))
        (block $cdone (loop $chunk
          (br_if $cdone (i32.ge_u (local.get $i) (local.get $stride)))
          ;; 1,024 weights: each lane of a0 and a1 adds 64 pairs of products ≤ 32767·127, < 2^31
          (local.set $end (i32.add (local.get $i) (i32.const 1024)))
          (if (i32.gt_u (local.get $end) (local.get $stride)) (then (local.set $end (local.get $stride))))
          (local.set $a0 (v128.const i32x4 0 0 0 0))
          (local.set $a1 (v128.const i32x4 0 0 0 0))
          (block $e (loop $l
            (br_if $e (i32.ge_u (local.get $i) (local.get $end)))
            (local.set $a0 (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (v128.load8x8_s (local.get $wp)) (v128.load (local.get $xp)))))
            (local.set $a1 (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (v128.load8x8_s offset=8 (local.get $wp)) (v128.load offset=16 (local.get $xp)))))
            (local.set $a0 (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (v128.load8x8_s offset=16 (local.get $wp)) (v128.load offset=32 (local.get $xp)))))
            (local.set $a1 (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (v128.load8x8_s offset=24 (local.get $wp)) (v128.load offset=48 (local.get $xp)))))
            (local.set $i (i32.add (local.get $i) (i32.const 32)))
            (local.set $wp (i32.add (local.get $wp) (i32.const 32)))
            (local.set $xp (i32.add (local.get $xp) (i32.const 64)))
            (br $l)))
          (local.set $s (i64.add (local.get $s) (call $lsum (i32x4.add (local.get $a0) (local.get $a1)))))
          (br $chunk)))
        (f32.store (local.get $yp) (f32.add (local.get $b) (f32.mul (f32.convert_i64_s (local.get $s)) (f32.mul (f32.load (local.get $sp)) (local.get $sw)))))
        (local.set $yp (i32.add (local.get $yp) (i32.shl (local.get $outs) (i32.const 2))))
        (local.set $xr (i32.add (local.get $xr) (i32.shl (local.get $stride) (i32.const 1))))
        (local.set $sp (i32.add (local.get $sp) (i32.const 4)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row)))
      (local.set $o (i32.add (local.get $o) (i32.const 1)))
      (br $each))))

  ;; xw [blocks, 32] int16 and xd [blocks] int32 from xq [blocks, 32] int8 and xc [blocks] int32
  ;; (quantize_blocks's), in the form qmm_q4 reads. 16-bit lane i of a block's weight bytes holds
  ;; four nibbles n0 … n3, low to high: weights 2i, 2i + 16, 2i + 1, 2i + 17. qmm_q4 flips the
  ;; lane's top bit, so that the lane read as signed is v = n0 + 16·n1 + 256·n2 + 4096·(n3 − 8),
  ;; and takes h_k = v >> 4k (arithmetic) for k = 0 … 3; then n_k = h_k − 16·h_(k+1) for k < 3 and
  ;; h3 = n3 − 8, so that Σ_k x_k·n_k over the lane telescopes into
  ;;   x0·h0 + (x1 − 16·x0)·h1 + (x2 − 16·x1)·h2 + (x3 − 16·x2)·h3 + 8·x3,
  ;; x_k being the activation of nibble k's weight: xw holds those four vectors (|x1 − 16·x0| ≤
  ;; 2,159 fits 16 bits), and xd = xc − 8·Σx3 takes the last term into the block's offset
  ;; (xc = 8·Σq for q4's −8). The same integers as taking the nibbles out one by one, without
  ;; a mask. Done once per activation row, read by every output channel.
  (func (export "spread_blocks") (param $xq i32) (param $xc i32) (param $blocks i32) (param $xw i32) (param $xd i32)
    (local $b i32) (local $a v128) (local $c v128) (local $e0 v128) (local $e1 v128) (local $e2 v128) (local $e3 v128)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $b) (local.get $blocks)))
      (local.set $a (v128.load offset=0 (local.get $xq)))
      (local.set $c (v128.load offset=16 (local.get $xq)))
      (local.set $e0 (i16x8.shr_s (i16x8.shl (local.get $a) (i32.const 8)) (i32.const 8)))
      (local.set $e1 (i16x8.shr_s (i16x8.shl (local.get $c) (i32.const 8)) (i32.const 8)))
      (local.set $e2 (i16x8.shr_s (local.get $a) (i32.const 8)))
      (local.set $e3 (i16x8.shr_s (local.get $c) (i32.const 8)))
      (v128.store offset=0 (local.get $xw) (local.get $e0))
      (v128.store offset=16 (local.get $xw) (i16x8.sub (local.get $e1) (i16x8.shl (local.get $e0) (i32.const 4))))
      (v128.store offset=32 (local.get $xw) (i16x8.sub (local.get $e2) (i16x8.shl (local.get $e1) (i32.const 4))))
      (v128.store offset=48 (local.get $xw) (i16x8.sub (local.get $e3) (i16x8.shl (local.get $e2) (i32.const 4))))
      (i32.store (local.get $xd) (i32.sub (i32.load (local.get $xc))
        (i32.shl (call $isum (i32x4.extadd_pairwise_i16x8_s (local.get $e3))) (i32.const 3))))
      (local.set $xq (i32.add (local.get $xq) (i32.const 32)))
      (local.set $xc (i32.add (local.get $xc) (i32.const 4)))
      (local.set $xw (i32.add (local.get $xw) (i32.const 64)))
      (local.set $xd (i32.add (local.get $xd) (i32.const 4)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $each))))

  ;; y [rows, outs] = x · dequant(W)ᵀ (+ bias), output channels [o0, o1) only (a thread's share)
  ;; for q4 weights: W [outs, groups] blocks of 16 bytes, scales ws [outs, groups]; x quantized
  ;; by quantize_blocks and spread to 16 bits by spread_blocks: xw [rows, groups, 32] int16,
  ;; scales xs [rows, groups], xc = 8·Σq per block.
  ;; A block's sum Σ q_x·(q_w − 8) = Σ q_x·q_w − xc is an exact integer; four blocks' sums come
  ;; out as one vector, times (d · s) per block, into four float accumulators (block b into
  ;; lane b mod 4); the last groups % 4 blocks go into lanes 0, 1, 2 one by one. Weights of a
  ;; row are read once for all rows of x (a row of weights is 16·groups bytes: L1-resident).
  ;; A block's 16 bytes are read as eight 16-bit lanes, each holding four nibbles; with the top
  ;; bit flipped, the lane and its arithmetic shifts by 4, 8 and 12 times spread_blocks's four
  ;; vectors give the lane's products in one telescoping sum (see spread_blocks): no masks, no
  ;; widening shuffles; then i32x4.dot_i16x8_s. Here xc is spread_blocks's xd, which carries
  ;; that sum's last term. quant-relaxed.wat has the same function with relaxed SIMD's 8-bit dot
  ;; products over quantize_blocks's int8 x and xc, the same integers.
  (func (export "qmm_q4") (param $xw i32) (param $xs i32) (param $xc i32) (param $rows i32) (param $groups i32)
    (param $w i32) (param $ws i32) (param $outs i32) (param $bias i32) (param $y i32) (param $o0 i32) (param $o1 i32)
    (local $o i32) (local $r i32) (local $g i32) (local $quads i32) (local $b f32) (local $acc v128) (local $top v128)
    (local $wr i32) (local $dr i32) (local $wp i32) (local $dp i32) (local $xp i32) (local $sp i32) (local $cp i32) (local $yp i32)
    (local $wv v128) (local $p v128) (local $q v128) (local $pq v128)
    (local.set $top (v128.const i16x8 -32768 -32768 -32768 -32768 -32768 -32768 -32768 -32768))
    (local.set $quads (i32.and (local.get $groups) (i32.const -4)))
    (local.set $o (local.get $o0))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $o) (local.get $o1)))
      (local.set $wr (i32.add (local.get $w) (i32.shl (i32.mul (local.get $o) (local.get $groups)) (i32.const 4))))
      (local.set $dr (i32.add (local.get $ws) (i32.shl (i32.mul (local.get $o) (local.get $groups)) (i32.const 2))))
      (local.set $b (if (result f32) (local.get $bias) (then (f32.load (i32.add (local.get $bias) (i32.shl (local.get $o) (i32.const 2))))) (else (f32.const 0))))
      (local.set $yp (i32.add (local.get $y) (i32.shl (local.get $o) (i32.const 2))))
      (local.set $xp (local.get $xw))
      (local.set $sp (local.get $xs))
      (local.set $cp (local.get $xc))
      (local.set $r (i32.const 0))
      (block $rdone (loop $row
        (br_if $rdone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $wp (local.get $wr))
        (local.set $dp (local.get $dr))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $g (i32.const 0))
        (block $qdone (loop $quad
          (br_if $qdone (i32.ge_u (local.get $g) (local.get $quads)))
          ;; two blocks a turn, their lanes summed in halves (one vector for the pair); every second
          ;; turn joins two pairs into the four blocks' sums (fewer live vectors than four blocks a turn)
          (local.set $p (i32x4.add
              (i32x4.add
                (i32x4.dot_i16x8_s (local.tee $wv (v128.xor (v128.load offset=0 (local.get $wp)) (local.get $top))) (v128.load offset=0 (local.get $xp)))
                (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $wv) (i32.const 4)) (v128.load offset=16 (local.get $xp))))
              (i32x4.add
                (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $wv) (i32.const 8)) (v128.load offset=32 (local.get $xp)))
                (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $wv) (i32.const 12)) (v128.load offset=48 (local.get $xp))))))
          (local.set $q (i32x4.add
              (i32x4.add
                (i32x4.dot_i16x8_s (local.tee $wv (v128.xor (v128.load offset=16 (local.get $wp)) (local.get $top))) (v128.load offset=64 (local.get $xp)))
                (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $wv) (i32.const 4)) (v128.load offset=80 (local.get $xp))))
              (i32x4.add
                (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $wv) (i32.const 8)) (v128.load offset=96 (local.get $xp)))
                (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $wv) (i32.const 12)) (v128.load offset=112 (local.get $xp))))))
          (local.set $q (i32x4.add
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $p) (local.get $q))
            (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $p) (local.get $q))))
          (if (i32.and (local.get $g) (i32.const 2))
            (then
              (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
                (f32x4.convert_i32x4_s (i32x4.sub
                  (i32x4.add
                    (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $pq) (local.get $q))
                    (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $pq) (local.get $q)))
                  (v128.load (local.get $cp))))
                (f32x4.mul (v128.load (local.get $dp)) (v128.load (local.get $sp))))))
              (local.set $dp (i32.add (local.get $dp) (i32.const 16)))
              (local.set $sp (i32.add (local.get $sp) (i32.const 16)))
              (local.set $cp (i32.add (local.get $cp) (i32.const 16))))
            (else (local.set $pq (local.get $q))))
          (local.set $xp (i32.add (local.get $xp) (i32.const 128)))
          (local.set $wp (i32.add (local.get $wp) (i32.const 32)))
          (local.set $g (i32.add (local.get $g) (i32.const 2)))
          (br $quad)))
        ;; the last groups % 4 blocks, each into its lane
        (if (i32.lt_u (local.get $g) (local.get $groups)) (then
          (local.set $acc (f32x4.replace_lane 0 (local.get $acc) (f32.add (f32x4.extract_lane 0 (local.get $acc))
            (f32.mul
              (f32.convert_i32_s (i32.sub (call $isum (i32x4.add
              (i32x4.add
                (i32x4.dot_i16x8_s (local.tee $wv (v128.xor (v128.load offset=0 (local.get $wp)) (local.get $top))) (v128.load offset=0 (local.get $xp)))
                (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $wv) (i32.const 4)) (v128.load offset=16 (local.get $xp))))
              (i32x4.add
                (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $wv) (i32.const 8)) (v128.load offset=32 (local.get $xp)))
                (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $wv) (i32.const 12)) (v128.load offset=48 (local.get $xp)))))) (i32.load (local.get $cp))))
              (f32.mul (f32.load (local.get $dp)) (f32.load (local.get $sp)))))))
          (local.set $xp (i32.add (local.get $xp) (i32.const 64)))
          (local.set $wp (i32.add (local.get $wp) (i32.const 16)))
          (local.set $dp (i32.add (local.get $dp) (i32.const 4)))
          (local.set $sp (i32.add (local.get $sp) (i32.const 4)))
          (local.set $cp (i32.add (local.get $cp) (i32.const 4)))
          (local.set $g (i32.add (local.get $g) (i32.const 1)))))
        (if (i32.lt_u (local.get $g) (local.get $groups)) (then
          (local.set $acc (f32x4.replace_lane 1 (local.get $acc) (f32.add (f32x4.extract_lane 1 (local.get $acc))
            (f32.mul
              (f32.convert_i32_s (i32.sub (call $isum (i32x4.add
              (i32x4.add
                (i32x4.dot_i16x8_s (local.tee $wv (v128.xor (v128.load offset=0 (local.get $wp)) (local.get $top))) (v128.load offset=0 (local.get $xp)))
                (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $wv) (i32.const 4)) (v128.load offset=16 (local.get $xp))))
              (i32x4.add
                (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $wv) (i32.const 8)) (v128.load offset=32 (local.get $xp)))
                (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $wv) (i32.const 12)) (v128.load offset=48 (local.get $xp)))))) (i32.load (local.get $cp))))
              (f32.mul (f32.load (local.get $dp)) (f32.load (local.get $sp)))))))
          (local.set $xp (i32.add (local.get $xp) (i32.const 64)))
          (local.set $wp (i32.add (local.get $wp) (i32.const 16)))
          (local.set $dp (i32.add (local.get $dp) (i32.const 4)))
          (local.set $sp (i32.add (local.get $sp) (i32.const 4)))
          (local.set $cp (i32.add (local.get $cp) (i32.const 4)))
          (local.set $g (i32.add (local.get $g) (i32.const 1)))))
        (if (i32.lt_u (local.get $g) (local.get $groups)) (then
          (local.set $acc (f32x4.replace_lane 2 (local.get $acc) (f32.add (f32x4.extract_lane 2 (local.get $acc))
            (f32.mul
              (f32.convert_i32_s (i32.sub (call $isum (i32x4.add
              (i32x4.add
                (i32x4.dot_i16x8_s (local.tee $wv (v128.xor (v128.load offset=0 (local.get $wp)) (local.get $top))) (v128.load offset=0 (local.get $xp)))
                (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $wv) (i32.const 4)) (v128.load offset=16 (local.get $xp))))
              (i32x4.add
                (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $wv) (i32.const 8)) (v128.load offset=32 (local.get $xp)))
                (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $wv) (i32.const 12)) (v128.load offset=48 (local.get $xp)))))) (i32.load (local.get $cp))))
              (f32.mul (f32.load (local.get $dp)) (f32.load (local.get $sp)))))))
          (local.set $xp (i32.add (local.get $xp) (i32.const 64)))
          (local.set $wp (i32.add (local.get $wp) (i32.const 16)))
          (local.set $dp (i32.add (local.get $dp) (i32.const 4)))
          (local.set $sp (i32.add (local.get $sp) (i32.const 4)))
          (local.set $cp (i32.add (local.get $cp) (i32.const 4)))
          (local.set $g (i32.add (local.get $g) (i32.const 1)))))
        (f32.store (local.get $yp) (f32.add (call $hsum (local.get $acc)) (local.get $b)))
        (local.set $yp (i32.add (local.get $yp) (i32.shl (local.get $outs) (i32.const 2))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row)))
      (local.set $o (i32.add (local.get $o) (i32.const 1)))
      (br $each))))
  ;; out [count, n] float32 = rows ids [count] (int32) of an int8 matrix (stride bytes a row,
  ;; scales ws), dequantized: an embedding lookup that reads the quantized rows.
  (func (export "rows_i8") (param $w i32) (param $ws i32) (param $stride i32) (param $n i32) (param $ids i32) (param $count i32) (param $out i32)
    (local $r i32) (local $i i32) (local $id i32) (local $wr i32) (local $s f32)
    (block $done (loop $row
      (br_if $done (i32.ge_u (local.get $r) (local.get $count)))
      (local.set $id (i32.load (i32.add (local.get $ids) (i32.shl (local.get $r) (i32.const 2)))))
      (local.set $wr (i32.add (local.get $w) (i32.mul (local.get $id) (local.get $stride))))
      (local.set $s (f32.load (i32.add (local.get $ws) (i32.shl (local.get $id) (i32.const 2)))))
      (local.set $i (i32.const 0))
      (block $e (loop $l
        (br_if $e (i32.ge_u (local.get $i) (local.get $n)))
        (f32.store (local.get $out) (f32.mul (local.get $s) (f32.convert_i32_s (i32.load8_s (i32.add (local.get $wr) (local.get $i))))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $row))))

  ;; The same for a q4 matrix of `groups` blocks a row.
  (func (export "rows_q4") (param $w i32) (param $ws i32) (param $groups i32) (param $n i32) (param $ids i32) (param $count i32) (param $out i32)
    (local $r i32) (local $i i32) (local $id i32) (local $wr i32) (local $sr i32) (local $byte i32) (local $j i32)
    (block $done (loop $row
      (br_if $done (i32.ge_u (local.get $r) (local.get $count)))
      (local.set $id (i32.load (i32.add (local.get $ids) (i32.shl (local.get $r) (i32.const 2)))))
      (local.set $wr (i32.add (local.get $w) (i32.shl (i32.mul (local.get $id) (local.get $groups)) (i32.const 4))))
      (local.set $sr (i32.add (local.get $ws) (i32.shl (i32.mul (local.get $id) (local.get $groups)) (i32.const 2))))
      (local.set $i (i32.const 0))
      (block $e (loop $l
        (br_if $e (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $j (i32.and (local.get $i) (i32.const 31)))
        (local.set $byte (i32.load8_u (i32.add (i32.add (local.get $wr) (i32.shl (i32.shr_u (local.get $i) (i32.const 5)) (i32.const 4))) (i32.and (local.get $j) (i32.const 15)))))
        (f32.store (local.get $out) (f32.mul
          (f32.load (i32.add (local.get $sr) (i32.shl (i32.shr_u (local.get $i) (i32.const 5)) (i32.const 2))))
          (f32.convert_i32_s (i32.sub
            (i32.and (i32.shr_u (local.get $byte) (select (i32.const 4) (i32.const 0) (i32.ge_u (local.get $j) (i32.const 16)))) (i32.const 15))
            (i32.const 8)))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $row)))))
