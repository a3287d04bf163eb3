;; minigpt-fp's float32 matrix product for the tfjs wasm backend: C = A·B (+ bias), the one
;; kernel behind dense layers' products of more than a few rows (prefill, a training batch).
;;
;; Goto's scheme at WebAssembly's scale. B is copied a panel at a time — kc = 256 rows of 8
;; columns, 8 KB, so that it stays in the first-level cache — into a scratch slot, where the
;; tiles read it contiguously; each tile holds 5 rows × 8 columns of C in ten SIMD registers
;; (x64 has 16 for V8) and adds one rank-1 update per k: 2 loads of the panel, 5 broadcasts of A,
;; 10 multiplies and 10 adds. A and B are read through byte strides, so a transposed operand
;; (Wᵀ, Xᵀ in a layer's backward products) needs no copy. Threads take disjoint runs of column
;; panels (module.ts's runSplit), each in its own scratch slot. gemm.ts registers the tfjs
;; kernel; scripts/kernels.mjs assembles this file into gemm-wasm.ts (`npm run kernels`).
;; Every pointer is a byte offset of float32 data.
(module
  (import "env" "memory" (memory 1))

  ;; C rows [0, 5) × 8 columns at cp (row stride cs bytes) = init + Σ_k A(r, k)·P[k], A(r, k) at
  ;; ap + r·sai + k·sak, P the packed panel (kc rows of 8). init: 0 zeros, 1 the rows at src (stride ss).
  (func $tile5 (param $ap i32) (param $sai i32) (param $sak i32) (param $bp i32) (param $kc i32) (param $cp i32) (param $cs i32) (param $init i32) (param $src i32) (param $ss i32)
    (local $end i32) (local $x v128) (local $b0 v128) (local $b1 v128)
    (local $ap1 i32)
    (local $ap2 i32)
    (local $ap3 i32)
    (local $ap4 i32)
    (local $c0a v128) (local $c0b v128) (local $c1a v128) (local $c1b v128) (local $c2a v128) (local $c2b v128) (local $c3a v128) (local $c3b v128) (local $c4a v128) (local $c4b v128)
    (if (local.get $init) (then
      (local.set $c0a (v128.load (local.get $src)))
      (local.set $c0b (v128.load offset=16 (local.get $src)))
      (local.set $c1a (v128.load (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 1)))))
      (local.set $c1b (v128.load offset=16 (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 1)))))
      (local.set $c2a (v128.load (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 2)))))
      (local.set $c2b (v128.load offset=16 (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 2)))))
      (local.set $c3a (v128.load (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 3)))))
      (local.set $c3b (v128.load offset=16 (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 3)))))
      (local.set $c4a (v128.load (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 4)))))
      (local.set $c4b (v128.load offset=16 (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 4)))))
    ))
    (local.set $ap1 (i32.add (local.get $ap) (i32.mul (local.get $sai) (i32.const 1))))
    (local.set $ap2 (i32.add (local.get $ap) (i32.mul (local.get $sai) (i32.const 2))))
    (local.set $ap3 (i32.add (local.get $ap) (i32.mul (local.get $sai) (i32.const 3))))
    (local.set $ap4 (i32.add (local.get $ap) (i32.mul (local.get $sai) (i32.const 4))))
    (local.set $end (i32.add (local.get $bp) (i32.shl (local.get $kc) (i32.const 5))))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $bp) (local.get $end)))
      (local.set $b0 (v128.load (local.get $bp)))
      (local.set $b1 (v128.load offset=16 (local.get $bp)))
      (local.set $x (v128.load32_splat (local.get $ap)))
      (local.set $c0a (f32x4.add (local.get $c0a) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c0b (f32x4.add (local.get $c0b) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $ap1)))
      (local.set $c1a (f32x4.add (local.get $c1a) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c1b (f32x4.add (local.get $c1b) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $ap2)))
      (local.set $c2a (f32x4.add (local.get $c2a) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c2b (f32x4.add (local.get $c2b) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $ap3)))
      (local.set $c3a (f32x4.add (local.get $c3a) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c3b (f32x4.add (local.get $c3b) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $ap4)))
      (local.set $c4a (f32x4.add (local.get $c4a) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c4b (f32x4.add (local.get $c4b) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $ap (i32.add (local.get $ap) (local.get $sak)))
      (local.set $ap1 (i32.add (local.get $ap1) (local.get $sak)))
      (local.set $ap2 (i32.add (local.get $ap2) (local.get $sak)))
      (local.set $ap3 (i32.add (local.get $ap3) (local.get $sak)))
      (local.set $ap4 (i32.add (local.get $ap4) (local.get $sak)))
      (local.set $bp (i32.add (local.get $bp) (i32.const 32)))
      (br $each)))
    (v128.store (local.get $cp) (local.get $c0a))
    (v128.store offset=16 (local.get $cp) (local.get $c0b))
    (v128.store (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 1))) (local.get $c1a))
    (v128.store offset=16 (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 1))) (local.get $c1b))
    (v128.store (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 2))) (local.get $c2a))
    (v128.store offset=16 (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 2))) (local.get $c2b))
    (v128.store (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 3))) (local.get $c3a))
    (v128.store offset=16 (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 3))) (local.get $c3b))
    (v128.store (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 4))) (local.get $c4a))
    (v128.store offset=16 (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 4))) (local.get $c4b))
  )

  ;; C rows [0, 4) × 8 columns at cp (row stride cs bytes) = init + Σ_k A(r, k)·P[k], A(r, k) at
  ;; ap + r·sai + k·sak, P the packed panel (kc rows of 8). init: 0 zeros, 1 the rows at src (stride ss).
  (func $tile4 (param $ap i32) (param $sai i32) (param $sak i32) (param $bp i32) (param $kc i32) (param $cp i32) (param $cs i32) (param $init i32) (param $src i32) (param $ss i32)
    (local $end i32) (local $x v128) (local $b0 v128) (local $b1 v128)
    (local $ap1 i32)
    (local $ap2 i32)
    (local $ap3 i32)
    (local $c0a v128) (local $c0b v128) (local $c1a v128) (local $c1b v128) (local $c2a v128) (local $c2b v128) (local $c3a v128) (local $c3b v128)
    (if (local.get $init) (then
      (local.set $c0a (v128.load (local.get $src)))
      (local.set $c0b (v128.load offset=16 (local.get $src)))
      (local.set $c1a (v128.load (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 1)))))
      (local.set $c1b (v128.load offset=16 (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 1)))))
      (local.set $c2a (v128.load (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 2)))))
      (local.set $c2b (v128.load offset=16 (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 2)))))
      (local.set $c3a (v128.load (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 3)))))
      (local.set $c3b (v128.load offset=16 (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 3)))))
    ))
    (local.set $ap1 (i32.add (local.get $ap) (i32.mul (local.get $sai) (i32.const 1))))
    (local.set $ap2 (i32.add (local.get $ap) (i32.mul (local.get $sai) (i32.const 2))))
    (local.set $ap3 (i32.add (local.get $ap) (i32.mul (local.get $sai) (i32.const 3))))
    (local.set $end (i32.add (local.get $bp) (i32.shl (local.get $kc) (i32.const 5))))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $bp) (local.get $end)))
      (local.set $b0 (v128.load (local.get $bp)))
      (local.set $b1 (v128.load offset=16 (local.get $bp)))
      (local.set $x (v128.load32_splat (local.get $ap)))
      (local.set $c0a (f32x4.add (local.get $c0a) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c0b (f32x4.add (local.get $c0b) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $ap1)))
      (local.set $c1a (f32x4.add (local.get $c1a) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c1b (f32x4.add (local.get $c1b) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $ap2)))
      (local.set $c2a (f32x4.add (local.get $c2a) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c2b (f32x4.add (local.get $c2b) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $ap3)))
      (local.set $c3a (f32x4.add (local.get $c3a) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c3b (f32x4.add (local.get $c3b) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $ap (i32.add (local.get $ap) (local.get $sak)))
      (local.set $ap1 (i32.add (local.get $ap1) (local.get $sak)))
      (local.set $ap2 (i32.add (local.get $ap2) (local.get $sak)))
      (local.set $ap3 (i32.add (local.get $ap3) (local.get $sak)))
      (local.set $bp (i32.add (local.get $bp) (i32.const 32)))
      (br $each)))
    (v128.store (local.get $cp) (local.get $c0a))
    (v128.store offset=16 (local.get $cp) (local.get $c0b))
    (v128.store (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 1))) (local.get $c1a))
    (v128.store offset=16 (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 1))) (local.get $c1b))
    (v128.store (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 2))) (local.get $c2a))
    (v128.store offset=16 (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 2))) (local.get $c2b))
    (v128.store (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 3))) (local.get $c3a))
    (v128.store offset=16 (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 3))) (local.get $c3b))
  )

  ;; C rows [0, 3) × 8 columns at cp (row stride cs bytes) = init + Σ_k A(r, k)·P[k], A(r, k) at
  ;; ap + r·sai + k·sak, P the packed panel (kc rows of 8). init: 0 zeros, 1 the rows at src (stride ss).
  (func $tile3 (param $ap i32) (param $sai i32) (param $sak i32) (param $bp i32) (param $kc i32) (param $cp i32) (param $cs i32) (param $init i32) (param $src i32) (param $ss i32)
    (local $end i32) (local $x v128) (local $b0 v128) (local $b1 v128)
    (local $ap1 i32)
    (local $ap2 i32)
    (local $c0a v128) (local $c0b v128) (local $c1a v128) (local $c1b v128) (local $c2a v128) (local $c2b v128)
    (if (local.get $init) (then
      (local.set $c0a (v128.load (local.get $src)))
      (local.set $c0b (v128.load offset=16 (local.get $src)))
      (local.set $c1a (v128.load (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 1)))))
      (local.set $c1b (v128.load offset=16 (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 1)))))
      (local.set $c2a (v128.load (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 2)))))
      (local.set $c2b (v128.load offset=16 (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 2)))))
    ))
    (local.set $ap1 (i32.add (local.get $ap) (i32.mul (local.get $sai) (i32.const 1))))
    (local.set $ap2 (i32.add (local.get $ap) (i32.mul (local.get $sai) (i32.const 2))))
    (local.set $end (i32.add (local.get $bp) (i32.shl (local.get $kc) (i32.const 5))))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $bp) (local.get $end)))
      (local.set $b0 (v128.load (local.get $bp)))
      (local.set $b1 (v128.load offset=16 (local.get $bp)))
      (local.set $x (v128.load32_splat (local.get $ap)))
      (local.set $c0a (f32x4.add (local.get $c0a) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c0b (f32x4.add (local.get $c0b) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $ap1)))
      (local.set $c1a (f32x4.add (local.get $c1a) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c1b (f32x4.add (local.get $c1b) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $ap2)))
      (local.set $c2a (f32x4.add (local.get $c2a) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c2b (f32x4.add (local.get $c2b) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $ap (i32.add (local.get $ap) (local.get $sak)))
      (local.set $ap1 (i32.add (local.get $ap1) (local.get $sak)))
      (local.set $ap2 (i32.add (local.get $ap2) (local.get $sak)))
      (local.set $bp (i32.add (local.get $bp) (i32.const 32)))
      (br $each)))
    (v128.store (local.get $cp) (local.get $c0a))
    (v128.store offset=16 (local.get $cp) (local.get $c0b))
    (v128.store (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 1))) (local.get $c1a))
    (v128.store offset=16 (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 1))) (local.get $c1b))
    (v128.store (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 2))) (local.get $c2a))
    (v128.store offset=16 (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 2))) (local.get $c2b))
  )

  ;; C rows [0, 2) × 8 columns at cp (row stride cs bytes) = init + Σ_k A(r, k)·P[k], A(r, k) at
  ;; ap + r·sai + k·sak, P the packed panel (kc rows of 8). init: 0 zeros, 1 the rows at src (stride ss).
  (func $tile2 (param $ap i32) (param $sai i32) (param $sak i32) (param $bp i32) (param $kc i32) (param $cp i32) (param $cs i32) (param $init i32) (param $src i32) (param $ss i32)
    (local $end i32) (local $x v128) (local $b0 v128) (local $b1 v128)
    (local $ap1 i32)
    (local $c0a v128) (local $c0b v128) (local $c1a v128) (local $c1b v128)
    (if (local.get $init) (then
      (local.set $c0a (v128.load (local.get $src)))
      (local.set $c0b (v128.load offset=16 (local.get $src)))
      (local.set $c1a (v128.load (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 1)))))
      (local.set $c1b (v128.load offset=16 (i32.add (local.get $src) (i32.mul (local.get $ss) (i32.const 1)))))
    ))
    (local.set $ap1 (i32.add (local.get $ap) (i32.mul (local.get $sai) (i32.const 1))))
    (local.set $end (i32.add (local.get $bp) (i32.shl (local.get $kc) (i32.const 5))))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $bp) (local.get $end)))
      (local.set $b0 (v128.load (local.get $bp)))
      (local.set $b1 (v128.load offset=16 (local.get $bp)))
      (local.set $x (v128.load32_splat (local.get $ap)))
      (local.set $c0a (f32x4.add (local.get $c0a) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c0b (f32x4.add (local.get $c0b) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $x (v128.load32_splat (local.get $ap1)))
      (local.set $c1a (f32x4.add (local.get $c1a) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c1b (f32x4.add (local.get $c1b) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $ap (i32.add (local.get $ap) (local.get $sak)))
      (local.set $ap1 (i32.add (local.get $ap1) (local.get $sak)))
      (local.set $bp (i32.add (local.get $bp) (i32.const 32)))
      (br $each)))
    (v128.store (local.get $cp) (local.get $c0a))
    (v128.store offset=16 (local.get $cp) (local.get $c0b))
    (v128.store (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 1))) (local.get $c1a))
    (v128.store offset=16 (i32.add (local.get $cp) (i32.mul (local.get $cs) (i32.const 1))) (local.get $c1b))
  )


  ;; C rows [0, 1) × 8 columns at cp (row stride cs bytes) = init + Σ_k A(r, k)·P[k], A(r, k) at
  ;; ap + r·sai + k·sak, P the packed panel (kc rows of 8). init: 0 zeros, 1 the rows at src (stride ss).
  (func $tile1 (param $ap i32) (param $sai i32) (param $sak i32) (param $bp i32) (param $kc i32) (param $cp i32) (param $cs i32) (param $init i32) (param $src i32) (param $ss i32)
    (local $end i32) (local $x v128) (local $b0 v128) (local $b1 v128)
    (local $c0a v128) (local $c0b v128)
    (if (local.get $init) (then
      (local.set $c0a (v128.load (local.get $src)))
      (local.set $c0b (v128.load offset=16 (local.get $src)))
    ))
    (local.set $end (i32.add (local.get $bp) (i32.shl (local.get $kc) (i32.const 5))))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $bp) (local.get $end)))
      (local.set $b0 (v128.load (local.get $bp)))
      (local.set $b1 (v128.load offset=16 (local.get $bp)))
      (local.set $x (v128.load32_splat (local.get $ap)))
      (local.set $c0a (f32x4.add (local.get $c0a) (f32x4.mul (local.get $x) (local.get $b0))))
      (local.set $c0b (f32x4.add (local.get $c0b) (f32x4.mul (local.get $x) (local.get $b1))))
      (local.set $ap (i32.add (local.get $ap) (local.get $sak)))
      (local.set $bp (i32.add (local.get $bp) (i32.const 32)))
      (br $each)))
    (v128.store (local.get $cp) (local.get $c0a))
    (v128.store offset=16 (local.get $cp) (local.get $c0b))
  )

  ;; The tile of `rows` rows (1 to 5), the remainder of a product's rows taking the smaller ones.
  (func $tile (param $rows i32) (param $ap i32) (param $sai i32) (param $sak i32) (param $bp i32) (param $kc i32) (param $cp i32) (param $cs i32) (param $init i32) (param $src i32) (param $ss i32)
    (block $t1 (block $t2 (block $t3 (block $t4 (block $t5
      (br_table $t1 $t1 $t2 $t3 $t4 $t5 (local.get $rows)))
      (call $tile5 (local.get $ap) (local.get $sai) (local.get $sak) (local.get $bp) (local.get $kc) (local.get $cp) (local.get $cs) (local.get $init) (local.get $src) (local.get $ss))
      (return))
      (call $tile4 (local.get $ap) (local.get $sai) (local.get $sak) (local.get $bp) (local.get $kc) (local.get $cp) (local.get $cs) (local.get $init) (local.get $src) (local.get $ss))
      (return))
      (call $tile3 (local.get $ap) (local.get $sai) (local.get $sak) (local.get $bp) (local.get $kc) (local.get $cp) (local.get $cs) (local.get $init) (local.get $src) (local.get $ss))
      (return))
      (call $tile2 (local.get $ap) (local.get $sai) (local.get $sak) (local.get $bp) (local.get $kc) (local.get $cp) (local.get $cs) (local.get $init) (local.get $src) (local.get $ss))
      (return))
    (call $tile1 (local.get $ap) (local.get $sai) (local.get $sak) (local.get $bp) (local.get $kc) (local.get $cp) (local.get $cs) (local.get $init) (local.get $src) (local.get $ss)))

  ;; The panel of B's columns [j, j + 8) for k in [k0, k1) into dst (k1 − k0 rows of 8 floats),
  ;; B(k, j) at b + k·sbk + j·sbj; columns at or past n are zeros. Rows of B copied as two
  ;; vectors where its columns are contiguous, element by element otherwise (a transposed B).
  (func $pack (param $b i32) (param $sbk i32) (param $sbj i32) (param $k0 i32) (param $k1 i32) (param $j i32) (param $n i32) (param $dst i32)
    (local $src i32) (local $at i32) (local $c i32) (local $cols i32)
    (local.set $src (i32.add (local.get $b) (i32.add (i32.mul (local.get $k0) (local.get $sbk)) (i32.mul (local.get $j) (local.get $sbj)))))
    (local.set $cols (i32.sub (local.get $n) (local.get $j)))
    (if (i32.gt_u (local.get $cols) (i32.const 8)) (then (local.set $cols (i32.const 8))))
    (if (i32.and (i32.eq (local.get $cols) (i32.const 8)) (i32.eq (local.get $sbj) (i32.const 4)))
      (then
        (block $done (loop $each
          (br_if $done (i32.ge_u (local.get $k0) (local.get $k1)))
          (v128.store (local.get $dst) (v128.load (local.get $src)))
          (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $src)))
          (local.set $src (i32.add (local.get $src) (local.get $sbk)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
          (local.set $k0 (i32.add (local.get $k0) (i32.const 1)))
          (br $each))))
      (else
        (block $done (loop $each
          (br_if $done (i32.ge_u (local.get $k0) (local.get $k1)))
          (v128.store (local.get $dst) (v128.const i32x4 0 0 0 0))
          (v128.store offset=16 (local.get $dst) (v128.const i32x4 0 0 0 0))
          (local.set $at (local.get $src))
          (local.set $c (i32.const 0))
          (block $colsDone (loop $col
            (br_if $colsDone (i32.ge_u (local.get $c) (local.get $cols)))
            (f32.store (i32.add (local.get $dst) (i32.shl (local.get $c) (i32.const 2))) (f32.load (local.get $at)))
            (local.set $at (i32.add (local.get $at) (local.get $sbj)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $col)))
          (local.set $src (i32.add (local.get $src) (local.get $sbk)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
          (local.set $k0 (i32.add (local.get $k0) (i32.const 1)))
          (br $each))))))

  ;; Copies `rows` rows of `cols` floats from src (row stride ss bytes) to dst (stride ds): a
  ;; last panel narrower than 8 columns goes through a scratch tile of 8.
  (func $copy_cols (param $src i32) (param $ss i32) (param $dst i32) (param $ds i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $c i32)
    (block $rowsDone (loop $row
      (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $c (i32.const 0))
      (block $colsDone (loop $col
        (br_if $colsDone (i32.ge_u (local.get $c) (local.get $cols)))
        (f32.store (i32.add (i32.add (local.get $dst) (i32.mul (local.get $r) (local.get $ds))) (i32.shl (local.get $c) (i32.const 2)))
          (f32.load (i32.add (i32.add (local.get $src) (i32.mul (local.get $r) (local.get $ss))) (i32.shl (local.get $c) (i32.const 2)))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $col)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $row))))

  ;; Rows [r0, r1) of C's columns [j, j + cols) (cols ≤ 8) after the packed panel of k's rows
  ;; [k0, k0 + kc): tiles of 5 rows (the last smaller), each starting from zeros or the bias (the
  ;; first kc rows) or C so far. A panel narrower than 8 goes through the tile at ctile (and
  ;; its bias row at btile).
  (func $panel_rows (param $a i32) (param $sai i32) (param $sak i32) (param $panel i32) (param $k0 i32) (param $kc i32) (param $bias i32)
    (param $c i32) (param $cs i32) (param $j i32) (param $cols i32) (param $r0 i32) (param $r1 i32) (param $btile i32) (param $ctile i32)
    (local $i i32) (local $rows i32) (local $ap i32) (local $cp i32) (local $init i32) (local $src i32) (local $ss i32)
    (local.set $init (i32.or (i32.ne (local.get $k0) (i32.const 0)) (i32.ne (local.get $bias) (i32.const 0))))
    (local.set $i (local.get $r0))
    (block $rowsDone (loop $eachRows
      (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $r1)))
      (local.set $rows (i32.sub (local.get $r1) (local.get $i)))
      (if (i32.gt_u (local.get $rows) (i32.const 5)) (then (local.set $rows (i32.const 5))))
      (local.set $ap (i32.add (local.get $a) (i32.add (i32.mul (local.get $i) (local.get $sai)) (i32.mul (local.get $k0) (local.get $sak)))))
      (local.set $cp (i32.add (local.get $c) (i32.add (i32.mul (local.get $i) (local.get $cs)) (i32.shl (local.get $j) (i32.const 2)))))
      (if (i32.eq (local.get $cols) (i32.const 8))
        (then
          (if (local.get $k0)
            (then (local.set $src (local.get $cp)) (local.set $ss (local.get $cs)))
            (else (local.set $src (i32.add (local.get $bias) (i32.shl (local.get $j) (i32.const 2)))) (local.set $ss (i32.const 0))))
          (call $tile (local.get $rows) (local.get $ap) (local.get $sai) (local.get $sak) (local.get $panel) (local.get $kc) (local.get $cp) (local.get $cs) (local.get $init) (local.get $src) (local.get $ss)))
        (else
          (if (local.get $k0)
            (then
              (call $copy_cols (local.get $cp) (local.get $cs) (local.get $ctile) (i32.const 32) (local.get $rows) (local.get $cols))
              (local.set $src (local.get $ctile)) (local.set $ss (i32.const 32)))
            (else (local.set $src (local.get $btile)) (local.set $ss (i32.const 0))))
          (call $tile (local.get $rows) (local.get $ap) (local.get $sai) (local.get $sak) (local.get $panel) (local.get $kc) (local.get $ctile) (i32.const 32) (local.get $init) (local.get $src) (local.get $ss))
          (call $copy_cols (local.get $ctile) (i32.const 32) (local.get $cp) (local.get $cs) (local.get $rows) (local.get $cols))))
      (local.set $i (i32.add (local.get $i) (local.get $rows)))
      (br $eachRows))))

  ;; C = A·B (+ bias) on C's rows [rows0, rows1) and column panels [p0, p1) of 8 columns (the
  ;; last may be narrower): C [m, n] row-major and dense, A(i, k) at a + i·sai + k·sak, B(k, j)
  ;; at b + k·sbk + j·sbj (byte strides), bias [n] or 0 for none, k ≥ 1. For each block of 256
  ;; of k's rows, the panels are packed (panel p at scratch + p·8192), then the rows are swept in
  ;; blocks of 120, each block across the panels, so that its rows of A (120 KB) stay in the
  ;; second-level cache while the panels pass. Scratch holds every panel of C (8 KB each), then a
  ;; bias row and a tile for the narrow last panel.
  (func $gemm_block (param $a i32) (param $sai i32) (param $sak i32) (param $b i32) (param $sbk i32) (param $sbj i32) (param $bias i32)
    (param $c i32) (param $k i32) (param $n i32) (param $scratch i32) (param $rows0 i32) (param $rows1 i32) (param $p0 i32) (param $p1 i32)
    (local $btile i32) (local $ctile i32) (local $cs i32) (local $p i32) (local $j i32) (local $cols i32) (local $k0 i32) (local $k1 i32) (local $r0 i32) (local $r1 i32)
    (local.set $btile (i32.add (local.get $scratch) (i32.shl (i32.shr_u (i32.add (local.get $n) (i32.const 7)) (i32.const 3)) (i32.const 13))))
    (local.set $ctile (i32.add (local.get $btile) (i32.const 32)))
    (local.set $cs (i32.shl (local.get $n) (i32.const 2)))
    ;; the narrow last panel's bias row, padded with zeros
    (local.set $j (i32.shl (i32.sub (local.get $p1) (i32.const 1)) (i32.const 3)))
    (if (i32.and (i32.lt_u (i32.sub (local.get $n) (local.get $j)) (i32.const 8)) (i32.ne (local.get $bias) (i32.const 0))) (then
      (v128.store (local.get $btile) (v128.const i32x4 0 0 0 0))
      (v128.store offset=16 (local.get $btile) (v128.const i32x4 0 0 0 0))
      (call $copy_cols (i32.add (local.get $bias) (i32.shl (local.get $j) (i32.const 2))) (i32.const 0) (local.get $btile) (i32.const 0) (i32.const 1) (i32.sub (local.get $n) (local.get $j)))))
    (block $kDone (loop $eachK
      (br_if $kDone (i32.ge_u (local.get $k0) (local.get $k)))
      (local.set $k1 (i32.add (local.get $k0) (i32.const 256)))
      (if (i32.gt_u (local.get $k1) (local.get $k)) (then (local.set $k1 (local.get $k))))
      (local.set $p (local.get $p0))
      (block $packed (loop $pack
        (br_if $packed (i32.ge_u (local.get $p) (local.get $p1)))
        (call $pack (local.get $b) (local.get $sbk) (local.get $sbj) (local.get $k0) (local.get $k1) (i32.shl (local.get $p) (i32.const 3)) (local.get $n)
          (i32.add (local.get $scratch) (i32.shl (local.get $p) (i32.const 13))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $pack)))
      (local.set $r0 (local.get $rows0))
      (block $blocksDone (loop $eachBlock
        (br_if $blocksDone (i32.ge_u (local.get $r0) (local.get $rows1)))
        (local.set $r1 (i32.add (local.get $r0) (i32.const 120)))
        (if (i32.gt_u (local.get $r1) (local.get $rows1)) (then (local.set $r1 (local.get $rows1))))
        (local.set $p (local.get $p0))
        (block $panelsDone (loop $eachPanel
          (br_if $panelsDone (i32.ge_u (local.get $p) (local.get $p1)))
          (local.set $j (i32.shl (local.get $p) (i32.const 3)))
          (local.set $cols (i32.sub (local.get $n) (local.get $j)))
          (if (i32.gt_u (local.get $cols) (i32.const 8)) (then (local.set $cols (i32.const 8))))
          (call $panel_rows (local.get $a) (local.get $sai) (local.get $sak) (i32.add (local.get $scratch) (i32.shl (local.get $p) (i32.const 13)))
            (local.get $k0) (i32.sub (local.get $k1) (local.get $k0)) (local.get $bias) (local.get $c) (local.get $cs) (local.get $j) (local.get $cols)
            (local.get $r0) (local.get $r1) (local.get $btile) (local.get $ctile))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $eachPanel)))
        (local.set $r0 (local.get $r1))
        (br $eachBlock)))
      (local.set $k0 (local.get $k1))
      (br $eachK))))

  ;; C = A·B (+ bias) on C's column panels [p0, p1), all rows (arguments as $gemm_block's):
  ;; threads given disjoint runs of panels share one scratch, each packing its own panels. For
  ;; products of more columns than rows.
  (func (export "gemm") (param $a i32) (param $sai i32) (param $sak i32) (param $b i32) (param $sbk i32) (param $sbj i32) (param $bias i32)
    (param $c i32) (param $m i32) (param $k i32) (param $n i32) (param $scratch i32) (param $p0 i32) (param $p1 i32)
    (call $gemm_block (local.get $a) (local.get $sai) (local.get $sak) (local.get $b) (local.get $sbk) (local.get $sbj) (local.get $bias)
      (local.get $c) (local.get $k) (local.get $n) (local.get $scratch) (i32.const 0) (local.get $m) (local.get $p0) (local.get $p1)))

  ;; C = A·B (+ bias) on C's rows [40·q0, min(m, 40·q1)), all columns: for products of more rows
  ;; than columns (a batch of short sequences, the tied head's vocabulary), where a split by
  ;; columns would have every thread read all of A. Each chunk packs all of B's panels into
  ;; scratch slot $slot, the chunk's index that the kernel pool passes (module.ts's runSplit; as
  ;; many panels' bytes as $gemm_block's scratch a slot), so that no two threads share one.
  (func (export "gemm_rows") (param $a i32) (param $sai i32) (param $sak i32) (param $b i32) (param $sbk i32) (param $sbj i32) (param $bias i32)
    (param $c i32) (param $m i32) (param $k i32) (param $n i32) (param $scratch i32) (param $q0 i32) (param $q1 i32) (param $slot i32)
    (local $panels i32) (local $rows1 i32)
    (local.set $panels (i32.shr_u (i32.add (local.get $n) (i32.const 7)) (i32.const 3)))
    (local.set $rows1 (i32.mul (local.get $q1) (i32.const 40)))
    (if (i32.gt_u (local.get $rows1) (local.get $m)) (then (local.set $rows1 (local.get $m))))
    (call $gemm_block (local.get $a) (local.get $sai) (local.get $sak) (local.get $b) (local.get $sbk) (local.get $sbj) (local.get $bias)
      (local.get $c) (local.get $k) (local.get $n)
      (i32.add (local.get $scratch) (i32.mul (local.get $slot) (i32.add (i32.shl (local.get $panels) (i32.const 13)) (i32.const 192))))
      (i32.mul (local.get $q0) (i32.const 40)) (local.get $rows1) (i32.const 0) (local.get $panels)))

;; ---- Products of a few rows (a decoding step): y [m, n] = x [m, k] · W [k, n] (+ bias), m ≤ 4, over a
;; copy of W packed in panels of 16 columns, P[p] = W[0..k, 16p .. 16p + 16) row after row (64 bytes
;; a row, zeros past n), so that a panel is one stream and its 16 sums stay in four registers while
;; the whole of k goes by. A step's time is the time to read W: read as one stream per thread, at the
;; memory's speed. Each y[r, j] starts from the bias (0 for none) and adds x[r, i]·W[i, j] for i
;; ascending, a multiply then an add, whoever computes it — as XNNPACK and gemm_block do: the same bits.

  ;; P[p] for panels [p0, p1) of W [k, n] (row-major at $w) into $dst (k · 64 bytes a panel)
  (func (export "pack_panels") (param $w i32) (param $k i32) (param $n i32) (param $dst i32) (param $p0 i32) (param $p1 i32) (param $slot i32)
    (local $p i32) (local $i i32) (local $src i32) (local $d i32) (local $cols i32) (local $rowBytes i32)
    (local.set $rowBytes (i32.shl (local.get $n) (i32.const 2)))
    (local.set $p (local.get $p0))
    (block $done (loop $each
      (br_if $done (i32.ge_s (local.get $p) (local.get $p1)))
      (local.set $cols (i32.sub (local.get $n) (i32.shl (local.get $p) (i32.const 4))))
      (if (i32.gt_s (local.get $cols) (i32.const 16)) (then (local.set $cols (i32.const 16))))
      (local.set $src (i32.add (local.get $w) (i32.shl (local.get $p) (i32.const 6))))
      (local.set $d (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $p) (local.get $k)) (i32.const 6))))
      (local.set $i (i32.const 0))
      (block $doneRows (loop $eachRow
        (br_if $doneRows (i32.ge_s (local.get $i) (local.get $k)))
        (if (i32.eq (local.get $cols) (i32.const 16))
          (then
            (v128.store (local.get $d) (v128.load (local.get $src)))
            (v128.store offset=16 (local.get $d) (v128.load offset=16 (local.get $src)))
            (v128.store offset=32 (local.get $d) (v128.load offset=32 (local.get $src)))
            (v128.store offset=48 (local.get $d) (v128.load offset=48 (local.get $src))))
          (else
            (memory.fill (local.get $d) (i32.const 0) (i32.const 64))
            (memory.copy (local.get $d) (local.get $src) (i32.shl (local.get $cols) (i32.const 2)))))
        (local.set $src (i32.add (local.get $src) (local.get $rowBytes)))
        (local.set $d (i32.add (local.get $d) (i32.const 64)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $eachRow)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $each))))

  ;; y [m, n] = x [m, k] · W (+ bias [n] at $bias, 0 for none) on panels [p0, p1) of W packed by
  ;; pack_panels at $pw; $tmp: 64 bytes of scratch per slot (a last panel's partial row goes through it).
  (func (export "gemv_panels") (param $x i32) (param $m i32) (param $k i32) (param $pw i32) (param $n i32) (param $bias i32) (param $y i32)
    (param $tmp i32) (param $p0 i32) (param $p1 i32) (param $slot i32)
    (local $p i32) (local $r i32) (local $bp i32) (local $xp i32) (local $xe i32) (local $wp i32) (local $cols i32) (local $yp i32) (local $v v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $tmp (i32.add (local.get $tmp) (i32.shl (local.get $slot) (i32.const 6))))
    (local.set $p (local.get $p0))
    (block $done (loop $each
      (br_if $done (i32.ge_s (local.get $p) (local.get $p1)))
      (local.set $cols (i32.sub (local.get $n) (i32.shl (local.get $p) (i32.const 4))))
      (if (i32.gt_s (local.get $cols) (i32.const 16)) (then (local.set $cols (i32.const 16))))
      (local.set $r (i32.const 0))
      (block $doneRows (loop $eachRow
        (br_if $doneRows (i32.ge_s (local.get $r) (local.get $m)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (if (local.get $bias) (then
          (local.set $bp (i32.add (local.get $bias) (i32.shl (local.get $p) (i32.const 6))))
          (if (i32.eq (local.get $cols) (i32.const 16))
            (then
              (local.set $a0 (v128.load (local.get $bp)))
              (local.set $a1 (v128.load offset=16 (local.get $bp)))
              (local.set $a2 (v128.load offset=32 (local.get $bp)))
              (local.set $a3 (v128.load offset=48 (local.get $bp))))
            (else
              (memory.fill (local.get $tmp) (i32.const 0) (i32.const 64))
              (memory.copy (local.get $tmp) (local.get $bp) (i32.shl (local.get $cols) (i32.const 2)))
              (local.set $a0 (v128.load (local.get $tmp)))
              (local.set $a1 (v128.load offset=16 (local.get $tmp)))
              (local.set $a2 (v128.load offset=32 (local.get $tmp)))
              (local.set $a3 (v128.load offset=48 (local.get $tmp)))))))
        (local.set $wp (i32.add (local.get $pw) (i32.shl (i32.mul (local.get $p) (local.get $k)) (i32.const 6))))
        (local.set $xp (i32.add (local.get $x) (i32.shl (i32.mul (local.get $r) (local.get $k)) (i32.const 2))))
        (local.set $xe (i32.add (local.get $xp) (i32.shl (local.get $k) (i32.const 2))))
        (block $doneK (loop $eachK
          (br_if $doneK (i32.ge_u (local.get $xp) (local.get $xe)))
          (local.set $v (v128.load32_splat (local.get $xp)))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $v) (v128.load (local.get $wp)))))
          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $v) (v128.load offset=16 (local.get $wp)))))
          (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $v) (v128.load offset=32 (local.get $wp)))))
          (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $v) (v128.load offset=48 (local.get $wp)))))
          (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
          (local.set $wp (i32.add (local.get $wp) (i32.const 64)))
          (br $eachK)))
        (local.set $yp (i32.add (local.get $y) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $n)) (i32.shl (local.get $p) (i32.const 4))) (i32.const 2))))
        (if (i32.eq (local.get $cols) (i32.const 16))
          (then
            (v128.store (local.get $yp) (local.get $a0))
            (v128.store offset=16 (local.get $yp) (local.get $a1))
            (v128.store offset=32 (local.get $yp) (local.get $a2))
            (v128.store offset=48 (local.get $yp) (local.get $a3)))
          (else
            (v128.store (local.get $tmp) (local.get $a0))
            (v128.store offset=16 (local.get $tmp) (local.get $a1))
            (v128.store offset=32 (local.get $tmp) (local.get $a2))
            (v128.store offset=48 (local.get $tmp) (local.get $a3))
            (memory.copy (local.get $yp) (local.get $tmp) (i32.shl (local.get $cols) (i32.const 2)))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $eachRow)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $each))))
)
