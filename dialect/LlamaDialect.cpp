//===- LlamaDialect.cpp - the llama dialect -------------------------------===//
#include "dialect/LlamaDialect.h"
#include "dialect/LlamaOps.h"

using namespace mlir;
using namespace mlir::llama;

#include "dialect/LlamaDialect.cpp.inc"

void LlamaDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/LlamaOps.cpp.inc"
      >();
}
