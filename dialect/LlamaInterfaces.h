//===- LlamaInterfaces.h - llama op interfaces ------------------*- C++ -*-===//
#ifndef LLAMAC_DIALECT_LLAMAINTERFACES_H
#define LLAMAC_DIALECT_LLAMAINTERFACES_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpDefinition.h"

#include "dialect/LlamaInterfaces.h.inc"

#endif // LLAMAC_DIALECT_LLAMAINTERFACES_H
