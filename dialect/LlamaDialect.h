//===- LlamaDialect.h - the llama dialect -----------------------*- C++ -*-===//
#ifndef LLAMAC_DIALECT_LLAMADIALECT_H
#define LLAMAC_DIALECT_LLAMADIALECT_H

#include "mlir/IR/Dialect.h"

#include "dialect/LlamaDialect.h.inc"

#endif // LLAMAC_DIALECT_LLAMADIALECT_H
