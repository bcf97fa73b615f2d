;; The matrix product of a Dense layer in WebAssembly SIMD: four float32 lanes per instruction, four
;; rows per pass so each weight vector is loaded once for four rows, no bounds checks. About 8x the
;; scalar JavaScript loop. `npm run build:wasm` compiles this file into dense-wasm.ts; a test checks
;; that the compiled copy is fresh.
(module
  (memory (export "memory") 1)

  ;; out[r][j] = bias[j] + sum over k < inputs of x[r][k] * w[k][j], then max(0, .) when `relu`.
  ;; Addresses are in bytes, strides in floats. `rows` is a multiple of 4 (the caller pads), and
  ;; `width`, the row length of w, bias and out, a multiple of 4 (the caller pads with zeros).
  (func (export "dense")
    (param $x i32) (param $xStride i32) (param $rows i32) (param $inputs i32)
    (param $w i32) (param $bias i32) (param $width i32) (param $out i32) (param $relu i32)
    (local $rowBytes i32) (local $xBytes i32) (local $blockBytes i32) (local $end i32)
    (local $k i32) (local $wRow i32) (local $j i32) (local $at i32) (local $o i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $v v128)
    (local.set $rowBytes (i32.shl (local.get $width) (i32.const 2)))
    (local.set $xBytes (i32.shl (local.get $xStride) (i32.const 2)))
    (local.set $blockBytes (i32.shl (local.get $rowBytes) (i32.const 2)))
    (local.set $end (i32.add (local.get $out) (i32.mul (local.get $rows) (local.get $rowBytes))))
    (block $blocksDone
      (loop $eachBlock
        (br_if $blocksDone (i32.ge_u (local.get $out) (local.get $end)))

        ;; the block's four output rows start as the bias
        (local.set $j (i32.const 0))
        (block $biasDone
          (loop $eachBias
            (br_if $biasDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (local.set $v (v128.load (i32.add (local.get $bias) (local.get $j))))
            (local.set $o (i32.add (local.get $out) (local.get $j)))
            (v128.store (local.get $o) (local.get $v))
            (v128.store (i32.add (local.get $o) (local.get $rowBytes)) (local.get $v))
            (v128.store (i32.add (local.get $o) (i32.shl (local.get $rowBytes) (i32.const 1))) (local.get $v))
            (v128.store (i32.add (local.get $o) (i32.mul (local.get $rowBytes) (i32.const 3))) (local.get $v))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $eachBias)))

        ;; for each input k: the four rows' x[k] times weight row k, added to the output rows
        (local.set $wRow (local.get $w))
        (local.set $k (i32.const 0))
        (block $inputsDone
          (loop $eachInput
            (br_if $inputsDone (i32.ge_u (local.get $k) (local.get $inputs)))
            (local.set $at (i32.add (local.get $x) (i32.shl (local.get $k) (i32.const 2))))
            (local.set $x0 (f32x4.splat (f32.load (local.get $at))))
            (local.set $x1 (f32x4.splat (f32.load (i32.add (local.get $at) (local.get $xBytes)))))
            (local.set $x2 (f32x4.splat (f32.load (i32.add (local.get $at) (i32.shl (local.get $xBytes) (i32.const 1))))))
            (local.set $x3 (f32x4.splat (f32.load (i32.add (local.get $at) (i32.mul (local.get $xBytes) (i32.const 3))))))
            (local.set $j (i32.const 0))
            (block $vectorsDone
              (loop $eachVector
                (br_if $vectorsDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
                (local.set $v (v128.load (i32.add (local.get $wRow) (local.get $j))))
                (local.set $o (i32.add (local.get $out) (local.get $j)))
                (v128.store (local.get $o) (f32x4.add (v128.load (local.get $o)) (f32x4.mul (local.get $x0) (local.get $v))))
                (local.set $o (i32.add (local.get $o) (local.get $rowBytes)))
                (v128.store (local.get $o) (f32x4.add (v128.load (local.get $o)) (f32x4.mul (local.get $x1) (local.get $v))))
                (local.set $o (i32.add (local.get $o) (local.get $rowBytes)))
                (v128.store (local.get $o) (f32x4.add (v128.load (local.get $o)) (f32x4.mul (local.get $x2) (local.get $v))))
                (local.set $o (i32.add (local.get $o) (local.get $rowBytes)))
                (v128.store (local.get $o) (f32x4.add (v128.load (local.get $o)) (f32x4.mul (local.get $x3) (local.get $v))))
                (local.set $j (i32.add (local.get $j) (i32.const 16)))
                (br $eachVector)))
            (local.set $wRow (i32.add (local.get $wRow) (local.get $rowBytes)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $eachInput)))

        ;; relu, fused while the block is in cache
        (if (local.get $relu)
          (then
            (local.set $j (i32.const 0))
            (block $reluDone
              (loop $eachRelu
                (br_if $reluDone (i32.ge_u (local.get $j) (local.get $blockBytes)))
                (local.set $o (i32.add (local.get $out) (local.get $j)))
                (v128.store (local.get $o) (f32x4.max (v128.load (local.get $o)) (v128.const f32x4 0 0 0 0)))
                (local.set $j (i32.add (local.get $j) (i32.const 16)))
                (br $eachRelu)))))

        (local.set $x (i32.add (local.get $x) (i32.shl (local.get $xBytes) (i32.const 2))))
        (local.set $out (i32.add (local.get $out) (local.get $blockBytes)))
        (br $eachBlock)))))
