;; The q4 matrix product of quant.wat with WebAssembly relaxed SIMD (Node 22+, Chromium 114+),
;; assembled by scripts/kernels.mjs into quant-relaxed-wasm.ts and instantiated beside
;; quant.wat on the same memory where the runtime has relaxed SIMD (module.ts). Same inputs,
;; same outputs: quant.wat's quantize_blocks prepares the activations.
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

  ;; qmm_q4 of quant.wat with relaxed SIMD: a block's products as i32x4.relaxed_dot_i8x16_i7x16_add_s
  ;; (sixteen 8-bit products and their sums an instruction; one vpdpbusd where the machine has
  ;; AVX-VNNI). Its second operand must be in [0, 127] for the result to be defined the same on
  ;; every machine: the nibbles (0..15) are, the activations (−127..127) are the first operand.
  ;; Every sum is an exact integer, so the results equal the plain kernel's bit for bit.
  (func (export "qmm_q4") (param $xq i32) (param $xs i32) (param $xc i32) (param $rows i32) (param $groups i32)
    (param $w i32) (param $ws i32) (param $outs i32) (param $bias i32) (param $y i32) (param $o0 i32) (param $o1 i32)
    (local $o i32) (local $r i32) (local $g i32) (local $quads i32) (local $b f32) (local $acc v128) (local $m15 v128)
    (local $wr i32) (local $dr i32) (local $wp i32) (local $dp i32) (local $xp i32) (local $sp i32) (local $cp i32) (local $yp i32)
    (local $wv v128) (local $lo v128) (local $hi v128) (local $p v128) (local $q v128) (local $pq v128)
    (local.set $m15 (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))
    (local.set $quads (i32.and (local.get $groups) (i32.const -4)))
    (local.set $o (local.get $o0))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $o) (local.get $o1)))
      (local.set $wr (i32.add (local.get $w) (i32.shl (i32.mul (local.get $o) (local.get $groups)) (i32.const 4))))
      (local.set $dr (i32.add (local.get $ws) (i32.shl (i32.mul (local.get $o) (local.get $groups)) (i32.const 2))))
      (local.set $b (if (result f32) (local.get $bias) (then (f32.load (i32.add (local.get $bias) (i32.shl (local.get $o) (i32.const 2))))) (else (f32.const 0))))
      (local.set $yp (i32.add (local.get $y) (i32.shl (local.get $o) (i32.const 2))))
      (local.set $xp (local.get $xq))
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
          (local.set $p (i32x4.extadd_pairwise_i16x8_s (i16x8.add
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=0 (local.get $xp)) (v128.and (local.tee $wv (v128.load offset=0 (local.get $wp))) (local.get $m15)))
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=16 (local.get $xp)) (v128.and (i16x8.shr_u (local.get $wv) (i32.const 4)) (local.get $m15))))))
          (local.set $q (i32x4.extadd_pairwise_i16x8_s (i16x8.add
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=32 (local.get $xp)) (v128.and (local.tee $wv (v128.load offset=16 (local.get $wp))) (local.get $m15)))
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=48 (local.get $xp)) (v128.and (i16x8.shr_u (local.get $wv) (i32.const 4)) (local.get $m15))))))
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
          (local.set $xp (i32.add (local.get $xp) (i32.const 64)))
          (local.set $wp (i32.add (local.get $wp) (i32.const 32)))
          (local.set $g (i32.add (local.get $g) (i32.const 2)))
          (br $quad)))
        ;; the last groups % 4 blocks, each into its lane
        (if (i32.lt_u (local.get $g) (local.get $groups)) (then
          (local.set $acc (f32x4.replace_lane 0 (local.get $acc) (f32.add (f32x4.extract_lane 0 (local.get $acc))
            (f32.mul
              (f32.convert_i32_s (i32.sub (call $isum (i32x4.extadd_pairwise_i16x8_s (i16x8.add
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=0 (local.get $xp)) (v128.and (local.tee $wv (v128.load offset=0 (local.get $wp))) (local.get $m15)))
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=16 (local.get $xp)) (v128.and (i16x8.shr_u (local.get $wv) (i32.const 4)) (local.get $m15)))))) (i32.load (local.get $cp))))
              (f32.mul (f32.load (local.get $dp)) (f32.load (local.get $sp)))))))
          (local.set $xp (i32.add (local.get $xp) (i32.const 32)))
          (local.set $wp (i32.add (local.get $wp) (i32.const 16)))
          (local.set $dp (i32.add (local.get $dp) (i32.const 4)))
          (local.set $sp (i32.add (local.get $sp) (i32.const 4)))
          (local.set $cp (i32.add (local.get $cp) (i32.const 4)))
          (local.set $g (i32.add (local.get $g) (i32.const 1)))))
        (if (i32.lt_u (local.get $g) (local.get $groups)) (then
          (local.set $acc (f32x4.replace_lane 1 (local.get $acc) (f32.add (f32x4.extract_lane 1 (local.get $acc))
            (f32.mul
              (f32.convert_i32_s (i32.sub (call $isum (i32x4.extadd_pairwise_i16x8_s (i16x8.add
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=0 (local.get $xp)) (v128.and (local.tee $wv (v128.load offset=0 (local.get $wp))) (local.get $m15)))
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=16 (local.get $xp)) (v128.and (i16x8.shr_u (local.get $wv) (i32.const 4)) (local.get $m15)))))) (i32.load (local.get $cp))))
              (f32.mul (f32.load (local.get $dp)) (f32.load (local.get $sp)))))))
          (local.set $xp (i32.add (local.get $xp) (i32.const 32)))
          (local.set $wp (i32.add (local.get $wp) (i32.const 16)))
          (local.set $dp (i32.add (local.get $dp) (i32.const 4)))
          (local.set $sp (i32.add (local.get $sp) (i32.const 4)))
          (local.set $cp (i32.add (local.get $cp) (i32.const 4)))
          (local.set $g (i32.add (local.get $g) (i32.const 1)))))
        (if (i32.lt_u (local.get $g) (local.get $groups)) (then
          (local.set $acc (f32x4.replace_lane 2 (local.get $acc) (f32.add (f32x4.extract_lane 2 (local.get $acc))
            (f32.mul
              (f32.convert_i32_s (i32.sub (call $isum (i32x4.extadd_pairwise_i16x8_s (i16x8.add
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=0 (local.get $xp)) (v128.and (local.tee $wv (v128.load offset=0 (local.get $wp))) (local.get $m15)))
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=16 (local.get $xp)) (v128.and (i16x8.shr_u (local.get $wv) (i32.const 4)) (local.get $m15)))))) (i32.load (local.get $cp))))
              (f32.mul (f32.load (local.get $dp)) (f32.load (local.get $sp)))))))
          (local.set $xp (i32.add (local.get $xp) (i32.const 32)))
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
      (br $each)))))
