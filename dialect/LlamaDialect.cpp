//===- LlamaDialect.cpp - the llama dialect -------------------------------===//
#include "dialect/LlamaDialect.h"
#include "dialect/LlamaOps.h"

#include "runtime/llama_abi.h"

#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::llama;

#include "dialect/LlamaDialect.cpp.inc"

void LlamaDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/LlamaOps.cpp.inc"
      >();
}

namespace {

enum class Place { Argument, Result };

/// Checks one llama.* attribute of a function argument or result.
LogicalResult verifyValueAttribute(Operation *op, NamedAttribute attr,
                                   Place place) {
  StringRef name = attr.getName().getValue();
  auto value = dyn_cast<StringAttr>(attr.getValue());
  auto fail = [&](const Twine &message) {
    return op->emitError() << "'" << name << "' " << message;
  };
  if (!value)
    return fail("must be a string");
  auto oneOf = [&](ArrayRef<StringRef> allowed) -> LogicalResult {
    if (llvm::is_contained(allowed, value.getValue()))
      return success();
    return fail("must be one of " + llvm::join(allowed, ", ") + ", got \"" +
                value.getValue() + "\"");
  };
  bool onArgument = place == Place::Argument;
  if (name == kInputAttr && onArgument)
    return oneOf({input::kTokens, input::kPosition, input::kLogitRows,
                  input::kLossMask, input::kStepParams, input::kSequenceEnds,
                  input::kMargins, input::kPPOParams, input::kOldLogprobs,
                  input::kAdvantages, input::kOldValues, input::kReturns});
  // Results, and the out-parameters bufferization makes of them (which keep
  // their attributes).
  if (name == kOutputAttr)
    return oneOf({output::kLogits, output::kLoss, output::kGradNorm,
                  output::kRewards, output::kLogprobs, output::kEntropy,
                  output::kValues, output::kClipFraction, output::kApproxKl});
  if (name == kUpdatedAttr)
    return oneOf({updated::kWeight, updated::kAdamM, updated::kAdamV});
  // A tensor's name: weights, caches, moments on arguments; gradients and
  // caches on results.
  bool namesTensor = name == kGradAttr || name == kKvCacheAttr ||
                     (onArgument && (name == kWeightAttr ||
                                     name == kAdamMAttr || name == kAdamVAttr));
  if (namesTensor)
    return value.getValue().empty() ? fail("must name a tensor") : success();
  return fail(Twine("is not an attribute of function ") +
              (onArgument ? "arguments" : "results"));
}

} // namespace

LogicalResult LlamaDialect::verifyRegionArgAttribute(Operation *op, unsigned,
                                                     unsigned,
                                                     NamedAttribute attr) {
  return verifyValueAttribute(op, attr, Place::Argument);
}

LogicalResult LlamaDialect::verifyRegionResultAttribute(Operation *op, unsigned,
                                                        unsigned,
                                                        NamedAttribute attr) {
  return verifyValueAttribute(op, attr, Place::Result);
}

LogicalResult LlamaDialect::verifyOperationAttribute(Operation *op,
                                                     NamedAttribute attr) {
  if (attr.getName() != kConfigAttr)
    return op->emitError() << "'" << attr.getName()
                           << "' is not an attribute of operations";
  if (!isa<ModuleOp>(op))
    return op->emitError() << "'" << kConfigAttr << "' belongs on the module";
  auto config = dyn_cast<DictionaryAttr>(attr.getValue());
  if (!config)
    return op->emitError() << "'" << kConfigAttr << "' must be a dictionary";
  // The keys of the artifact manifest's config, which is printed from it.
  for (StringRef key :
       {LLAMA_ABI_KEY_DIM, LLAMA_ABI_KEY_HIDDEN_DIM, LLAMA_ABI_KEY_N_LAYERS,
        LLAMA_ABI_KEY_N_HEADS, LLAMA_ABI_KEY_N_KV_HEADS, LLAMA_ABI_KEY_HEAD_DIM,
        LLAMA_ABI_KEY_VOCAB_SIZE, LLAMA_ABI_KEY_SEQ_LEN}) {
    auto size = config.getAs<IntegerAttr>(key);
    if (!size || size.getInt() <= 0)
      return op->emitError() << "'" << kConfigAttr << "' needs a positive "
                             << "integer '" << key << "'";
  }
  for (StringRef key : {LLAMA_ABI_KEY_NORM_EPS, LLAMA_ABI_KEY_ROPE_THETA})
    if (!config.getAs<FloatAttr>(key))
      return op->emitError()
             << "'" << kConfigAttr << "' needs a float '" << key << "'";
  if (!config.getAs<BoolAttr>(LLAMA_ABI_KEY_TIE_EMBEDDINGS))
    return op->emitError() << "'" << kConfigAttr << "' needs a boolean '"
                           << LLAMA_ABI_KEY_TIE_EMBEDDINGS << "'";
  return success();
}
