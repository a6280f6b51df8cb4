//===- LlamaInterfaces.h - llama op interfaces ------------------*- C++ -*-===//
#ifndef LLAMAC_DIALECT_LLAMAINTERFACES_H
#define LLAMAC_DIALECT_LLAMAINTERFACES_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpDefinition.h"

#include "dialect/LlamaInterfaces.h.inc"

namespace mlir {
class DialectRegistry;
namespace llama {
/// DifferentiableOpInterface for other dialects' ops (tensor.expand_shape,
/// tensor.collapse_shape): register before differentiating.
void registerDifferentiableExternalModels(DialectRegistry &registry);
} // namespace llama
} // namespace mlir

#endif // LLAMAC_DIALECT_LLAMAINTERFACES_H
