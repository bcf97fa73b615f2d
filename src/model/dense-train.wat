;; The training step of a stack of Dense layers in WebAssembly SIMD (dense-train.ts drives it). Every
;; product of the forward and backward pass is one kernel, `product`, reading its left operand
;; through two strides, so x·W, dZ·Wᵀ (from a transposed copy of W) and xᵀ·dZ all run as a
;; broadcast of one left value times a row of the right one, with 4 rows x 8 columns of the result
;; held in registers across the whole inner sum. `npm run build:wasm` compiles this file into
;; dense-train-wasm.ts; a test checks that the compiled copy is fresh.
(module
  (memory (export "memory") 1)

  ;; out[i][j] = bias[j] + sum over t < inner of a[i*rowStride + t*colStride] * b[t][j], for i < rows
  ;; (a multiple of 4) and j < width (a multiple of 8, the row length of b and out); no bias when
  ;; `bias` is 0. Then, when `mask` is not 0, out[i][j] = 0 where mask[i][j] <= 0 (mask laid out
  ;; like out): relu's derivative when mask is the layer's output; when mask is `out` itself, relu
  ;; (the sums are compared, before they are stored).
  ;; Addresses are in bytes, strides in floats.
  (func (export "product")
    (param $a i32) (param $rowStride i32) (param $colStride i32) (param $rows i32) (param $inner i32)
    (param $b i32) (param $width i32) (param $bias i32) (param $out i32) (param $mask i32)
    (local $rowB i32) (local $colB i32) (local $widthB i32) (local $aEnd i32) (local $j i32)
    (local $ap i32) (local $bp i32) (local $t i32) (local $o i32) (local $m i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $w0 v128) (local $w1 v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $rowB (i32.shl (local.get $rowStride) (i32.const 2)))
    (local.set $colB (i32.shl (local.get $colStride) (i32.const 2)))
    (local.set $widthB (i32.shl (local.get $width) (i32.const 2)))
    (local.set $aEnd (i32.add (local.get $a) (i32.mul (local.get $rows) (local.get $rowB))))
    (block $blocksDone
      (loop $eachBlock
        (br_if $blocksDone (i32.ge_u (local.get $a) (local.get $aEnd)))
        (local.set $j (i32.const 0))
        (block $columnsDone
          (loop $eachColumns
            (br_if $columnsDone (i32.ge_u (local.get $j) (local.get $widthB)))
            (if (local.get $bias)
              (then
                (local.set $c00 (v128.load (i32.add (local.get $bias) (local.get $j))))
                (local.set $c01 (v128.load offset=16 (i32.add (local.get $bias) (local.get $j)))))
              (else
                (local.set $c00 (v128.const f32x4 0 0 0 0))
                (local.set $c01 (v128.const f32x4 0 0 0 0))))
            (local.set $c10 (local.get $c00)) (local.set $c11 (local.get $c01))
            (local.set $c20 (local.get $c00)) (local.set $c21 (local.get $c01))
            (local.set $c30 (local.get $c00)) (local.set $c31 (local.get $c01))
            (local.set $ap (local.get $a))
            (local.set $bp (i32.add (local.get $b) (local.get $j)))
            (local.set $t (local.get $inner))
            (block $innerDone
              (loop $eachInner
                (br_if $innerDone (i32.eqz (local.get $t)))
                (local.set $w0 (v128.load (local.get $bp)))
                (local.set $w1 (v128.load offset=16 (local.get $bp)))
                (local.set $x0 (v128.load32_splat (local.get $ap)))
                (local.set $x1 (v128.load32_splat (i32.add (local.get $ap) (local.get $rowB))))
                (local.set $x2 (v128.load32_splat (i32.add (local.get $ap) (i32.shl (local.get $rowB) (i32.const 1)))))
                (local.set $x3 (v128.load32_splat (i32.add (local.get $ap) (i32.mul (local.get $rowB) (i32.const 3)))))
                (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x0) (local.get $w0))))
                (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x0) (local.get $w1))))
                (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x1) (local.get $w0))))
                (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x1) (local.get $w1))))
                (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x2) (local.get $w0))))
                (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $x2) (local.get $w1))))
                (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x3) (local.get $w0))))
                (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $x3) (local.get $w1))))
                (local.set $ap (i32.add (local.get $ap) (local.get $colB)))
                (local.set $bp (i32.add (local.get $bp) (local.get $widthB)))
                (local.set $t (i32.sub (local.get $t) (i32.const 1)))
                (br $eachInner)))
            ;; the block's four rows, masked while in registers
            (local.set $o (i32.add (local.get $out) (local.get $j)))
            (if (local.get $mask)
              (then
                (if (i32.eq (local.get $mask) (local.get $out))
                  (then
                    (local.set $c00 (call $keep (local.get $c00) (local.get $c00)))
                    (local.set $c01 (call $keep (local.get $c01) (local.get $c01)))
                    (local.set $c10 (call $keep (local.get $c10) (local.get $c10)))
                    (local.set $c11 (call $keep (local.get $c11) (local.get $c11)))
                    (local.set $c20 (call $keep (local.get $c20) (local.get $c20)))
                    (local.set $c21 (call $keep (local.get $c21) (local.get $c21)))
                    (local.set $c30 (call $keep (local.get $c30) (local.get $c30)))
                    (local.set $c31 (call $keep (local.get $c31) (local.get $c31))))
                  (else
                    (local.set $m (i32.add (local.get $mask) (local.get $j)))
                    (local.set $c00 (call $keep (local.get $c00) (v128.load (local.get $m))))
                    (local.set $c01 (call $keep (local.get $c01) (v128.load offset=16 (local.get $m))))
                    (local.set $m (i32.add (local.get $m) (local.get $widthB)))
                    (local.set $c10 (call $keep (local.get $c10) (v128.load (local.get $m))))
                    (local.set $c11 (call $keep (local.get $c11) (v128.load offset=16 (local.get $m))))
                    (local.set $m (i32.add (local.get $m) (local.get $widthB)))
                    (local.set $c20 (call $keep (local.get $c20) (v128.load (local.get $m))))
                    (local.set $c21 (call $keep (local.get $c21) (v128.load offset=16 (local.get $m))))
                    (local.set $m (i32.add (local.get $m) (local.get $widthB)))
                    (local.set $c30 (call $keep (local.get $c30) (v128.load (local.get $m))))
                    (local.set $c31 (call $keep (local.get $c31) (v128.load offset=16 (local.get $m))))))))
            (v128.store (local.get $o) (local.get $c00))
            (v128.store offset=16 (local.get $o) (local.get $c01))
            (local.set $o (i32.add (local.get $o) (local.get $widthB)))
            (v128.store (local.get $o) (local.get $c10))
            (v128.store offset=16 (local.get $o) (local.get $c11))
            (local.set $o (i32.add (local.get $o) (local.get $widthB)))
            (v128.store (local.get $o) (local.get $c20))
            (v128.store offset=16 (local.get $o) (local.get $c21))
            (local.set $o (i32.add (local.get $o) (local.get $widthB)))
            (v128.store (local.get $o) (local.get $c30))
            (v128.store offset=16 (local.get $o) (local.get $c31))
            (local.set $j (i32.add (local.get $j) (i32.const 32)))
            (br $eachColumns)))
        (local.set $a (i32.add (local.get $a) (i32.shl (local.get $rowB) (i32.const 2))))
        (local.set $out (i32.add (local.get $out) (i32.shl (local.get $widthB) (i32.const 2))))
        (if (local.get $mask)
          (then (local.set $mask (i32.add (local.get $mask) (i32.shl (local.get $widthB) (i32.const 2))))))
        (br $eachBlock))))

  ;; v where m > 0, else 0
  (func $keep (param $v v128) (param $m v128) (result v128)
    (v128.and (local.get $v) (f32x4.gt (local.get $m) (v128.const f32x4 0 0 0 0))))

  ;; out[j] = sum over r < rows of a[r][j], for j < width (a multiple of 4, the row length of a).
  (func (export "columnSums") (param $a i32) (param $rows i32) (param $width i32) (param $out i32)
    (local $widthB i32) (local $j i32) (local $p i32) (local $end i32) (local $sum v128)
    (local.set $widthB (i32.shl (local.get $width) (i32.const 2)))
    (local.set $end (i32.add (local.get $a) (i32.mul (local.get $rows) (local.get $widthB))))
    (block $done
      (loop $eachVector
        (br_if $done (i32.ge_u (local.get $j) (local.get $widthB)))
        (local.set $sum (v128.const f32x4 0 0 0 0))
        (local.set $p (i32.add (local.get $a) (local.get $j)))
        (block $rowsDone
          (loop $eachRow
            (br_if $rowsDone (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $sum (f32x4.add (local.get $sum) (v128.load (local.get $p))))
            (local.set $p (i32.add (local.get $p) (local.get $widthB)))
            (br $eachRow)))
        (v128.store (i32.add (local.get $out) (local.get $j)) (local.get $sum))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $eachVector))))

  ;; a[i] *= b[i] for i < count (a multiple of 4): dropout's mask, forward and back.
  (func (export "multiply") (param $a i32) (param $b i32) (param $count i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $a) (i32.shl (local.get $count) (i32.const 2))))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
        (v128.store (local.get $a) (f32x4.mul (v128.load (local.get $a)) (v128.load (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br $each))))

  ;; One Adam step over `count` weights (a multiple of 4), as TF.js's AdamOptimizer takes it, with
  ;; the L2 penalty's gradient 2·l2·w added first: m and v updated in place, then
  ;; w -= rate · (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon), `unbias1` and `unbias2`
  ;; being those 1 - beta^t.
  (func (export "adam")
    (param $w i32) (param $g i32) (param $m i32) (param $v i32) (param $count i32)
    (param $rate f32) (param $beta1 f32) (param $beta2 f32) (param $unbias1 f32) (param $unbias2 f32)
    (param $epsilon f32) (param $l2 f32)
    (local $end i32) (local $grad v128) (local $mv v128) (local $vv v128)
    (local $b1 v128) (local $b2 v128) (local $c1 v128) (local $c2 v128) (local $u1 v128) (local $u2 v128)
    (local $lr v128) (local $eps v128) (local $decay v128)
    (local.set $b1 (f32x4.splat (local.get $beta1)))
    (local.set $b2 (f32x4.splat (local.get $beta2)))
    (local.set $c1 (f32x4.splat (f32.sub (f32.const 1) (local.get $beta1))))
    (local.set $c2 (f32x4.splat (f32.sub (f32.const 1) (local.get $beta2))))
    (local.set $u1 (f32x4.splat (local.get $unbias1)))
    (local.set $u2 (f32x4.splat (local.get $unbias2)))
    (local.set $lr (f32x4.splat (local.get $rate)))
    (local.set $eps (f32x4.splat (local.get $epsilon)))
    (local.set $decay (f32x4.splat (f32.mul (f32.const 2) (local.get $l2))))
    (local.set $end (i32.add (local.get $w) (i32.shl (local.get $count) (i32.const 2))))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $grad (f32x4.add (v128.load (local.get $g)) (f32x4.mul (local.get $decay) (v128.load (local.get $w)))))
        (local.set $mv (f32x4.add (f32x4.mul (local.get $b1) (v128.load (local.get $m))) (f32x4.mul (local.get $c1) (local.get $grad))))
        (local.set $vv
          (f32x4.add (f32x4.mul (local.get $b2) (v128.load (local.get $v)))
            (f32x4.mul (local.get $c2) (f32x4.mul (local.get $grad) (local.get $grad)))))
        (v128.store (local.get $m) (local.get $mv))
        (v128.store (local.get $v) (local.get $vv))
        (v128.store (local.get $w)
          (f32x4.sub (v128.load (local.get $w))
            (f32x4.mul (local.get $lr)
              (f32x4.div
                (f32x4.div (local.get $mv) (local.get $u1))
                (f32x4.add (f32x4.sqrt (f32x4.div (local.get $vv) (local.get $u2))) (local.get $eps))))))
        (local.set $w (i32.add (local.get $w) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $m (i32.add (local.get $m) (i32.const 16)))
        (local.set $v (i32.add (local.get $v) (i32.const 16)))
        (br $each))))

  ;; One plain gradient step, as TF.js's SGDOptimizer: w -= rate · (g + 2·l2·w).
  (func (export "sgd") (param $w i32) (param $g i32) (param $count i32) (param $rate f32) (param $l2 f32)
    (local $end i32) (local $lr v128) (local $decay v128) (local $wv v128)
    (local.set $lr (f32x4.splat (local.get $rate)))
    (local.set $decay (f32x4.splat (f32.mul (f32.const 2) (local.get $l2))))
    (local.set $end (i32.add (local.get $w) (i32.shl (local.get $count) (i32.const 2))))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $wv (v128.load (local.get $w)))
        (v128.store (local.get $w)
          (f32x4.sub (local.get $wv)
            (f32x4.mul (local.get $lr) (f32x4.add (v128.load (local.get $g)) (f32x4.mul (local.get $decay) (local.get $wv))))))
        (local.set $w (i32.add (local.get $w) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (br $each))))

  ;; wt[j][k] = w[k][j] for k < rows, j < cols: the copy of the weights the backward product reads.
  ;; `stride` and `tStride` are the row lengths of w and wt.
  (func (export "transpose") (param $w i32) (param $rows i32) (param $cols i32) (param $stride i32) (param $wt i32) (param $tStride i32)
    (local $k i32) (local $j i32) (local $src i32) (local $dst i32)
    (block $rowsDone
      (loop $eachRow
        (br_if $rowsDone (i32.ge_u (local.get $k) (local.get $rows)))
        (local.set $src (i32.add (local.get $w) (i32.shl (i32.mul (local.get $k) (local.get $stride)) (i32.const 2))))
        (local.set $dst (i32.add (local.get $wt) (i32.shl (local.get $k) (i32.const 2))))
        (local.set $j (i32.const 0))
        (block $colsDone
          (loop $eachCol
            (br_if $colsDone (i32.ge_u (local.get $j) (local.get $cols)))
            (f32.store (local.get $dst) (f32.load (local.get $src)))
            (local.set $src (i32.add (local.get $src) (i32.const 4)))
            (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $tStride) (i32.const 2))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $eachCol)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $eachRow)))))
