//===- LlamaOps.h - llama dialect operations --------------------*- C++ -*-===//
#ifndef LLAMAC_DIALECT_LLAMAOPS_H
#define LLAMAC_DIALECT_LLAMAOPS_H

#include "dialect/LlamaDialect.h"
#include "dialect/LlamaInterfaces.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialect/LlamaOps.h.inc"

#endif // LLAMAC_DIALECT_LLAMAOPS_H
