//===- LlamaInterfaces.td - llama op interfaces ------------*- tablegen -*-===//

#ifndef LLAMA_INTERFACES_TD
#define LLAMA_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Llama_DifferentiableOpInterface
    : OpInterface<"DifferentiableOpInterface"> {
  let cppNamespace = "::mlir::llama";
  let description = [{
    An op that supplies its vector-Jacobian product: the autodiff pass walks
    a function backwards and asks each op for the cotangents of its operands
    given the cotangents of its results.
  }];
  let methods = [
    InterfaceMethod<[{
        Builds, at the builder's insertion point, the cotangent of each
        operand given `resultGradients` (one per result, null where a result
        has none). Returns one value per operand, null for operands without
        a gradient (token ids, positions, masks).
      }],
      "::llvm::SmallVector<::mlir::Value>", "buildGradient",
      (ins "::mlir::OpBuilder &":$builder,
           "::mlir::ValueRange":$resultGradients)>
  ];
}

#endif // LLAMA_INTERFACES_TD
