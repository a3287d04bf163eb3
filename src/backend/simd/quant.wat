;; minigpt-fp's quantized-weight kernels for the tfjs wasm backend (quant-matmul.ts registers
;; them; module.ts instantiates this module on tfjs-wasm's own memory, like kernels.wat;
;; scripts/kernels.mjs assembles it into quant-wasm.ts, `npm run kernels`).
;;
;; Weights are stored one row per output channel ([out, in], PyTorch's nn.Linear layout):
;;   int8  one signed byte per weight, a row padded with zeros to `stride` bytes (a multiple
;;         of 32), one float32 scale per row: w = q · scale
;;   q4    GGML's q4_0 blocks: 32 weights in 16 bytes, byte j holding weight j in its low
;;         nibble and weight j + 16 in its high nibble, each nibble q ∈ [0, 16), one float32
;;         scale d per block: w = (q − 8) · d; a row is `groups` blocks (zero-padded)
;; The activations are quantized on the fly, per row, to int16 (x ≈ q·s, s = max|x|/32767:
;; a relative error ≤ 2^-16 of the row's largest value), so that the products are integer
;; dot products (i32x4.dot_i16x8_s) and the weights are widened, never converted to floats:
;; a weight costs one widening and half a multiply-add. Integer sums are exact; they are
;; moved into float32 accumulators every 1024 weights (int8) or every block (q4), before
;; they could overflow. y[r, o] = s_r · scale_o · Σ q_x·q_w (+ bias[o]).
;; Every pointer is a byte offset; sizes count elements unless named bytes.
(module
  (import "env" "memory" (memory 1))

  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; Four horizontal sums as the four lanes of one vector.
  (func $hsum4 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result v128)
    (f32x4.replace_lane 3
      (f32x4.replace_lane 2
        (f32x4.replace_lane 1 (f32x4.splat (call $hsum (local.get $a))) (call $hsum (local.get $b)))
        (call $hsum (local.get $c)))
      (call $hsum (local.get $d))))

  ;; q [rows, stride] int16, scales [rows] float32 from x [rows, n] float32 (stride ≥ n, the
  ;; rest of each row zero): s = max|x_r| / 32767, q = round-half-even(x · (32767 / max|x_r|)).
  ;; A row of zeros has s = 0 and q = 0.
  (func (export "quantize_rows") (param $x i32) (param $rows i32) (param $n i32) (param $stride i32) (param $q i32) (param $scales i32)
    (local $r i32) (local $i i32) (local $m f32) (local $inv f32) (local $xr i32) (local $qr i32)
    (block $done (loop $row
      (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $xr (i32.add (local.get $x) (i32.shl (i32.mul (local.get $r) (local.get $n)) (i32.const 2))))
      (local.set $qr (i32.add (local.get $q) (i32.shl (i32.mul (local.get $r) (local.get $stride)) (i32.const 1))))
      (local.set $m (f32.const 0))
      (local.set $i (i32.const 0))
      (block $e1 (loop $l1
        (br_if $e1 (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $m (f32.max (local.get $m) (f32.abs (f32.load (i32.add (local.get $xr) (i32.shl (local.get $i) (i32.const 2)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l1)))
      (local.set $inv (select (f32.div (f32.const 32767) (local.get $m)) (f32.const 0) (f32.gt (local.get $m) (f32.const 0))))
      (f32.store (i32.add (local.get $scales) (i32.shl (local.get $r) (i32.const 2))) (f32.div (local.get $m) (f32.const 32767)))
      (local.set $i (i32.const 0))
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

  ;; Σ xq·wq over one int16 row x and one int8 row w of n weights (n a multiple of 32), as a float.
  (func $dot_i8 (param $x i32) (param $w i32) (param $n i32) (result f32)
    (local $i i32) (local $end i32) (local $a0 v128) (local $a1 v128) (local $f v128) (local $wv v128) (local $xp i32)
    (block $done (loop $chunk
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $end (i32.add (local.get $i) (i32.const 1024)))
      (if (i32.gt_u (local.get $end) (local.get $n)) (then (local.set $end (local.get $n))))
      (local.set $a0 (v128.const i32x4 0 0 0 0))
      (local.set $a1 (v128.const i32x4 0 0 0 0))
      (block $e (loop $l
        (br_if $e (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $xp (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 1))))
        (local.set $wv (v128.load (i32.add (local.get $w) (local.get $i))))
        (local.set $a0 (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $wv)) (v128.load (local.get $xp)))))
        (local.set $a1 (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $wv)) (v128.load offset=16 (local.get $xp)))))
        (local.set $wv (v128.load offset=16 (i32.add (local.get $w) (local.get $i))))
        (local.set $a0 (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $wv)) (v128.load offset=32 (local.get $xp)))))
        (local.set $a1 (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $wv)) (v128.load offset=48 (local.get $xp)))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $l)))
      (local.set $f (f32x4.add (local.get $f) (f32x4.convert_i32x4_s (i32x4.add (local.get $a0) (local.get $a1)))))
      (br $chunk)))
    (call $hsum (local.get $f)))

  ;; The same sum for four consecutive int16 rows (xbytes apart) against one int8 row, one
  ;; widening of the weights serving four rows: the four sums as the lanes of a vector.
  (func $dot4_i8 (param $x i32) (param $xbytes i32) (param $w i32) (param $n i32) (result v128)
    (local $i i32) (local $end i32) (local $wl v128) (local $wh v128) (local $xp i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $f0 v128) (local $f1 v128) (local $f2 v128) (local $f3 v128)
    (block $done (loop $chunk
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $end (i32.add (local.get $i) (i32.const 1024)))
      (if (i32.gt_u (local.get $end) (local.get $n)) (then (local.set $end (local.get $n))))
      (local.set $a0 (v128.const i32x4 0 0 0 0))
      (local.set $a1 (v128.const i32x4 0 0 0 0))
      (local.set $a2 (v128.const i32x4 0 0 0 0))
      (local.set $a3 (v128.const i32x4 0 0 0 0))
      (block $e (loop $l
        (br_if $e (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $wl (v128.load (i32.add (local.get $w) (local.get $i))))
        (local.set $wh (i16x8.extend_high_i8x16_s (local.get $wl)))
        (local.set $wl (i16x8.extend_low_i8x16_s (local.get $wl)))
        (local.set $xp (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 1))))
        (local.set $a0 (i32x4.add (local.get $a0) (i32x4.add
          (i32x4.dot_i16x8_s (local.get $wl) (v128.load (local.get $xp))) (i32x4.dot_i16x8_s (local.get $wh) (v128.load offset=16 (local.get $xp))))))
        (local.set $xp (i32.add (local.get $xp) (local.get $xbytes)))
        (local.set $a1 (i32x4.add (local.get $a1) (i32x4.add
          (i32x4.dot_i16x8_s (local.get $wl) (v128.load (local.get $xp))) (i32x4.dot_i16x8_s (local.get $wh) (v128.load offset=16 (local.get $xp))))))
        (local.set $xp (i32.add (local.get $xp) (local.get $xbytes)))
        (local.set $a2 (i32x4.add (local.get $a2) (i32x4.add
          (i32x4.dot_i16x8_s (local.get $wl) (v128.load (local.get $xp))) (i32x4.dot_i16x8_s (local.get $wh) (v128.load offset=16 (local.get $xp))))))
        (local.set $xp (i32.add (local.get $xp) (local.get $xbytes)))
        (local.set $a3 (i32x4.add (local.get $a3) (i32x4.add
          (i32x4.dot_i16x8_s (local.get $wl) (v128.load (local.get $xp))) (i32x4.dot_i16x8_s (local.get $wh) (v128.load offset=16 (local.get $xp))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $l)))
      (local.set $f0 (f32x4.add (local.get $f0) (f32x4.convert_i32x4_s (local.get $a0))))
      (local.set $f1 (f32x4.add (local.get $f1) (f32x4.convert_i32x4_s (local.get $a1))))
      (local.set $f2 (f32x4.add (local.get $f2) (f32x4.convert_i32x4_s (local.get $a2))))
      (local.set $f3 (f32x4.add (local.get $f3) (f32x4.convert_i32x4_s (local.get $a3))))
      (br $chunk)))
    (call $hsum4 (local.get $f0) (local.get $f1) (local.get $f2) (local.get $f3)))

  ;; The sum of one int16 row x and one q4 row (groups blocks; block scales at s), each
  ;; block's exact integer sum times its scale. Two blocks a turn, into two accumulators.
  (func $dot_q4 (param $x i32) (param $w i32) (param $s i32) (param $groups i32) (result f32)
    (local $g i32) (local $wv v128) (local $lo v128) (local $hi v128) (local $f v128) (local $f2 v128) (local $xp i32) (local $wp i32) (local $sp i32)
    (local $m15 v128) (local $c8 v128) (local $pairs i32)
    (local.set $m15 (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))
    (local.set $c8 (v128.const i8x16 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8))
    (local.set $xp (local.get $x))
    (local.set $wp (local.get $w))
    (local.set $sp (local.get $s))
    (local.set $pairs (i32.and (local.get $groups) (i32.const -2)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $g) (local.get $pairs)))
      (local.set $wv (v128.load (local.get $wp)))
      (local.set $lo (i8x16.sub (v128.and (local.get $wv) (local.get $m15)) (local.get $c8)))
      (local.set $hi (i8x16.sub (i8x16.shr_u (local.get $wv) (i32.const 4)) (local.get $c8)))
      (local.set $f (f32x4.add (local.get $f) (f32x4.mul
        (f32x4.convert_i32x4_s (i32x4.add
          (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $lo)) (v128.load (local.get $xp)))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $lo)) (v128.load offset=16 (local.get $xp))))
          (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $hi)) (v128.load offset=32 (local.get $xp)))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $hi)) (v128.load offset=48 (local.get $xp))))))
        (v128.load32_splat (local.get $sp)))))
      (local.set $wv (v128.load offset=16 (local.get $wp)))
      (local.set $lo (i8x16.sub (v128.and (local.get $wv) (local.get $m15)) (local.get $c8)))
      (local.set $hi (i8x16.sub (i8x16.shr_u (local.get $wv) (i32.const 4)) (local.get $c8)))
      (local.set $f2 (f32x4.add (local.get $f2) (f32x4.mul
        (f32x4.convert_i32x4_s (i32x4.add
          (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $lo)) (v128.load offset=64 (local.get $xp)))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $lo)) (v128.load offset=80 (local.get $xp))))
          (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $hi)) (v128.load offset=96 (local.get $xp)))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $hi)) (v128.load offset=112 (local.get $xp))))))
        (v128.load32_splat offset=4 (local.get $sp)))))
      (local.set $xp (i32.add (local.get $xp) (i32.const 128)))
      (local.set $wp (i32.add (local.get $wp) (i32.const 32)))
      (local.set $sp (i32.add (local.get $sp) (i32.const 8)))
      (local.set $g (i32.add (local.get $g) (i32.const 2)))
      (br $l)))
    (if (i32.lt_u (local.get $g) (local.get $groups)) (then
      (local.set $wv (v128.load (local.get $wp)))
      (local.set $lo (i8x16.sub (v128.and (local.get $wv) (local.get $m15)) (local.get $c8)))
      (local.set $hi (i8x16.sub (i8x16.shr_u (local.get $wv) (i32.const 4)) (local.get $c8)))
      (local.set $f (f32x4.add (local.get $f) (f32x4.mul
        (f32x4.convert_i32x4_s (i32x4.add
          (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $lo)) (v128.load (local.get $xp)))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $lo)) (v128.load offset=16 (local.get $xp))))
          (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $hi)) (v128.load offset=32 (local.get $xp)))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $hi)) (v128.load offset=48 (local.get $xp))))))
        (v128.load32_splat (local.get $sp)))))))
    (call $hsum (f32x4.add (local.get $f) (local.get $f2))))

  ;; The same for four consecutive int16 rows (xbytes apart) against one q4 row.
  (func $dot4_q4 (param $x i32) (param $xbytes i32) (param $w i32) (param $s i32) (param $groups i32) (result v128)
    (local $g i32) (local $wv v128) (local $sc v128) (local $xp i32) (local $wp i32)
    (local $l0 v128) (local $l1 v128) (local $h0 v128) (local $h1 v128)
    (local $f0 v128) (local $f1 v128) (local $f2 v128) (local $f3 v128)
    (local.set $wp (local.get $w))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $g) (local.get $groups)))
      (local.set $wv (v128.load (local.get $wp)))
      (local.set $h0 (i8x16.sub (v128.and (local.get $wv) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)) (v128.const i8x16 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8)))
      (local.set $l0 (i16x8.extend_low_i8x16_s (local.get $h0)))
      (local.set $l1 (i16x8.extend_high_i8x16_s (local.get $h0)))
      (local.set $h0 (i8x16.sub (i8x16.shr_u (local.get $wv) (i32.const 4)) (v128.const i8x16 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8)))
      (local.set $h1 (i16x8.extend_high_i8x16_s (local.get $h0)))
      (local.set $h0 (i16x8.extend_low_i8x16_s (local.get $h0)))
      (local.set $sc (v128.load32_splat (i32.add (local.get $s) (i32.shl (local.get $g) (i32.const 2)))))
      (local.set $xp (i32.add (local.get $x) (i32.shl (local.get $g) (i32.const 6))))
      (local.set $f0 (f32x4.add (local.get $f0) (f32x4.mul (local.get $sc) (f32x4.convert_i32x4_s (i32x4.add
        (i32x4.add (i32x4.dot_i16x8_s (local.get $l0) (v128.load (local.get $xp))) (i32x4.dot_i16x8_s (local.get $l1) (v128.load offset=16 (local.get $xp))))
        (i32x4.add (i32x4.dot_i16x8_s (local.get $h0) (v128.load offset=32 (local.get $xp))) (i32x4.dot_i16x8_s (local.get $h1) (v128.load offset=48 (local.get $xp)))))))))
      (local.set $xp (i32.add (local.get $xp) (local.get $xbytes)))
      (local.set $f1 (f32x4.add (local.get $f1) (f32x4.mul (local.get $sc) (f32x4.convert_i32x4_s (i32x4.add
        (i32x4.add (i32x4.dot_i16x8_s (local.get $l0) (v128.load (local.get $xp))) (i32x4.dot_i16x8_s (local.get $l1) (v128.load offset=16 (local.get $xp))))
        (i32x4.add (i32x4.dot_i16x8_s (local.get $h0) (v128.load offset=32 (local.get $xp))) (i32x4.dot_i16x8_s (local.get $h1) (v128.load offset=48 (local.get $xp)))))))))
      (local.set $xp (i32.add (local.get $xp) (local.get $xbytes)))
      (local.set $f2 (f32x4.add (local.get $f2) (f32x4.mul (local.get $sc) (f32x4.convert_i32x4_s (i32x4.add
        (i32x4.add (i32x4.dot_i16x8_s (local.get $l0) (v128.load (local.get $xp))) (i32x4.dot_i16x8_s (local.get $l1) (v128.load offset=16 (local.get $xp))))
        (i32x4.add (i32x4.dot_i16x8_s (local.get $h0) (v128.load offset=32 (local.get $xp))) (i32x4.dot_i16x8_s (local.get $h1) (v128.load offset=48 (local.get $xp)))))))))
      (local.set $xp (i32.add (local.get $xp) (local.get $xbytes)))
      (local.set $f3 (f32x4.add (local.get $f3) (f32x4.mul (local.get $sc) (f32x4.convert_i32x4_s (i32x4.add
        (i32x4.add (i32x4.dot_i16x8_s (local.get $l0) (v128.load (local.get $xp))) (i32x4.dot_i16x8_s (local.get $l1) (v128.load offset=16 (local.get $xp))))
        (i32x4.add (i32x4.dot_i16x8_s (local.get $h0) (v128.load offset=32 (local.get $xp))) (i32x4.dot_i16x8_s (local.get $h1) (v128.load offset=48 (local.get $xp)))))))))
      (local.set $wp (i32.add (local.get $wp) (i32.const 16)))
      (local.set $g (i32.add (local.get $g) (i32.const 1)))
      (br $l)))
    (call $hsum4 (local.get $f0) (local.get $f1) (local.get $f2) (local.get $f3)))

  ;; y [rows, outs] = dequant(xq) · dequant(W)ᵀ (+ bias): xq [rows, stride] int16 with scales
  ;; xs [rows]; W int8 [outs, stride] with scales ws [outs]; bias 0 for none. Four rows of x
  ;; at a time (prefill), then one (decoding).
  (func (export "qmm_i8") (param $xq i32) (param $xs i32) (param $rows i32) (param $stride i32)
    (param $w i32) (param $ws i32) (param $outs i32) (param $bias i32) (param $y i32)
    (local $o i32) (local $r i32) (local $wr i32) (local $sw f32) (local $b f32) (local $v v128) (local $yp i32) (local $ybytes i32)
    (local.set $ybytes (i32.shl (local.get $outs) (i32.const 2)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $o) (local.get $outs)))
      (local.set $wr (i32.add (local.get $w) (i32.mul (local.get $o) (local.get $stride))))
      (local.set $sw (f32.load (i32.add (local.get $ws) (i32.shl (local.get $o) (i32.const 2)))))
      (local.set $b (if (result f32) (local.get $bias) (then (f32.load (i32.add (local.get $bias) (i32.shl (local.get $o) (i32.const 2))))) (else (f32.const 0))))
      (local.set $yp (i32.add (local.get $y) (i32.shl (local.get $o) (i32.const 2))))
      (local.set $r (i32.const 0))
      (block $e4 (loop $l4
        (br_if $e4 (i32.gt_u (i32.add (local.get $r) (i32.const 4)) (local.get $rows)))
        (local.set $v (f32x4.add (f32x4.splat (local.get $b)) (f32x4.mul
          (call $dot4_i8 (i32.add (local.get $xq) (i32.shl (i32.mul (local.get $r) (local.get $stride)) (i32.const 1))) (i32.shl (local.get $stride) (i32.const 1)) (local.get $wr) (local.get $stride))
          (f32x4.mul (v128.load (i32.add (local.get $xs) (i32.shl (local.get $r) (i32.const 2)))) (f32x4.splat (local.get $sw))))))
        (f32.store (local.get $yp) (f32x4.extract_lane 0 (local.get $v)))
        (f32.store (i32.add (local.get $yp) (local.get $ybytes)) (f32x4.extract_lane 1 (local.get $v)))
        (f32.store (i32.add (local.get $yp) (i32.mul (local.get $ybytes) (i32.const 2))) (f32x4.extract_lane 2 (local.get $v)))
        (f32.store (i32.add (local.get $yp) (i32.mul (local.get $ybytes) (i32.const 3))) (f32x4.extract_lane 3 (local.get $v)))
        (local.set $yp (i32.add (local.get $yp) (i32.shl (local.get $ybytes) (i32.const 2))))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (br $l4)))
      (block $e1 (loop $l1
        (br_if $e1 (i32.ge_u (local.get $r) (local.get $rows)))
        (f32.store (local.get $yp) (f32.add (local.get $b) (f32.mul
          (call $dot_i8 (i32.add (local.get $xq) (i32.shl (i32.mul (local.get $r) (local.get $stride)) (i32.const 1))) (local.get $wr) (local.get $stride))
          (f32.mul (f32.load (i32.add (local.get $xs) (i32.shl (local.get $r) (i32.const 2)))) (local.get $sw)))))
        (local.set $yp (i32.add (local.get $yp) (local.get $ybytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $l1)))
      (local.set $o (i32.add (local.get $o) (i32.const 1)))
      (br $each))))

  ;; The same for q4 weights: W [outs, groups] blocks of 16 bytes, scales ws [outs, groups];
  ;; xq [rows, 32·groups] int16.
  (func (export "qmm_q4") (param $xq i32) (param $xs i32) (param $rows i32) (param $groups i32)
    (param $w i32) (param $ws i32) (param $outs i32) (param $bias i32) (param $y i32)
    (local $o i32) (local $r i32) (local $wr i32) (local $sr i32) (local $b f32) (local $v v128) (local $yp i32) (local $ybytes i32) (local $xbytes i32)
    (local.set $ybytes (i32.shl (local.get $outs) (i32.const 2)))
    (local.set $xbytes (i32.shl (local.get $groups) (i32.const 6)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $o) (local.get $outs)))
      (local.set $wr (i32.add (local.get $w) (i32.shl (i32.mul (local.get $o) (local.get $groups)) (i32.const 4))))
      (local.set $sr (i32.add (local.get $ws) (i32.shl (i32.mul (local.get $o) (local.get $groups)) (i32.const 2))))
      (local.set $b (if (result f32) (local.get $bias) (then (f32.load (i32.add (local.get $bias) (i32.shl (local.get $o) (i32.const 2))))) (else (f32.const 0))))
      (local.set $yp (i32.add (local.get $y) (i32.shl (local.get $o) (i32.const 2))))
      (local.set $r (i32.const 0))
      (block $e4 (loop $l4
        (br_if $e4 (i32.gt_u (i32.add (local.get $r) (i32.const 4)) (local.get $rows)))
        (local.set $v (f32x4.add (f32x4.splat (local.get $b)) (f32x4.mul
          (call $dot4_q4 (i32.add (local.get $xq) (i32.mul (local.get $r) (local.get $xbytes))) (local.get $xbytes) (local.get $wr) (local.get $sr) (local.get $groups))
          (v128.load (i32.add (local.get $xs) (i32.shl (local.get $r) (i32.const 2)))))))
        (f32.store (local.get $yp) (f32x4.extract_lane 0 (local.get $v)))
        (f32.store (i32.add (local.get $yp) (local.get $ybytes)) (f32x4.extract_lane 1 (local.get $v)))
        (f32.store (i32.add (local.get $yp) (i32.mul (local.get $ybytes) (i32.const 2))) (f32x4.extract_lane 2 (local.get $v)))
        (f32.store (i32.add (local.get $yp) (i32.mul (local.get $ybytes) (i32.const 3))) (f32x4.extract_lane 3 (local.get $v)))
        (local.set $yp (i32.add (local.get $yp) (i32.shl (local.get $ybytes) (i32.const 2))))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (br $l4)))
      (block $e1 (loop $l1
        (br_if $e1 (i32.ge_u (local.get $r) (local.get $rows)))
        (f32.store (local.get $yp) (f32.add (local.get $b) (f32.mul
          (call $dot_q4 (i32.add (local.get $xq) (i32.mul (local.get $r) (local.get $xbytes))) (local.get $wr) (local.get $sr) (local.get $groups))
          (f32.load (i32.add (local.get $xs) (i32.shl (local.get $r) (i32.const 2)))))))
        (local.set $yp (i32.add (local.get $yp) (local.get $ybytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $l1)))
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
