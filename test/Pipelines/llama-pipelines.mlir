// Tests the pipeline llama-opt registers: the same stages and options as
// llamac, so llama-opt reproduces what llamac does.

// llamac's tensor and target levels run by llama-opt on llamac's llama-level
// output give exactly llamac's LLVM dialect (both printed by llama-opt).
// llamac sizes the kernels' vectors for its target CPU (AVX2: 256 bits).
// RUN: rm -rf %t && mkdir -p %t
// RUN: llamac tiny --train --batch 2 --seq 8 --emit=llama -o %t/llama.mlir
// RUN: llama-opt %t/llama.mlir --llama-tensor-level="vector-bits=256" --llama-target-level -o %t/by-llama-opt.mlir
// RUN: llamac tiny --cpu=x86-64-v3 --train --batch 2 --seq 8 --emit=llvm-dialect | llama-opt -o %t/by-llamac.mlir
// RUN: diff %t/by-llama-opt.mlir %t/by-llamac.mlir
// RUN: FileCheck %s --check-prefix=LLVM < %t/by-llamac.mlir
// LLVM: llvm.func @llama_train_step(

// The llama level takes the optimizer's options.
// RUN: llama-opt %s --llama-level="beta1=0.8 weight-decay=0.05 max-grad-norm=0.5" | FileCheck %s --check-prefix=STEP
// STEP-LABEL: func.func @loss_grad(
// STEP-LABEL: func.func @train_step(
// STEP: llama.global_norm
// STEP: llama.adamw {{.*}} {beta1 = 8.000000e-01 : f64, {{.*}}max_grad_norm = 5.000000e-01 : f64, weight_decay = 5.000000e-02 : f64}

// The whole pipeline from the llama dialect to the LLVM dialect, in one go.
// RUN: llama-opt %s --llama-to-llvm | FileCheck %s --check-prefix=ALL
// ALL: llvm.func @llama_train_step(
// ALL: llvm.mlir.global external constant @llama_manifest(

// An unknown target is an error that names the choices.
// RUN: not llama-opt %s --llama-to-llvm="target=tpu" 2>&1 | FileCheck %s --check-prefix=TARGET
// TARGET: Cannot find option named 'tpu'!

module {
  func.func @loss(%tokens: tensor<2x5xi32> {llama.input = "tokens"}, %mask: tensor<2x4xf32> {llama.input = "loss_mask"},
                  %embed: tensor<16x8xf32> {llama.weight = "embed"}) -> (tensor<f32> {llama.output = "loss"}) {
    %in = tensor.extract_slice %tokens[0, 0] [2, 4] [1, 1] : tensor<2x5xi32> to tensor<2x4xi32>
    %tgt = tensor.extract_slice %tokens[0, 1] [2, 4] [1, 1] : tensor<2x5xi32> to tensor<2x4xi32>
    %x = llama.embedding %embed[%in] : (tensor<16x8xf32>, tensor<2x4xi32>) -> tensor<2x4x8xf32>
    %logits = llama.linear %x, %embed : (tensor<2x4x8xf32>, tensor<16x8xf32>) -> tensor<2x4x16xf32>
    %loss = llama.cross_entropy %logits, %tgt, %mask : (tensor<2x4x16xf32>, tensor<2x4xi32>, tensor<2x4xf32>) -> tensor<f32>
    return %loss : tensor<f32>
  }
}
