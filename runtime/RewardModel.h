//===- RewardModel.h - scoring with a compiled reward model -----*- C++ -*-===//
#ifndef LLAMAC_RUNTIME_REWARDMODEL_H
#define LLAMAC_RUNTIME_REWARDMODEL_H

#include "runtime/Artifact.h"
#include "runtime/Preferences.h"

#include <memory>
#include <string>
#include <vector>

namespace llamart {

/// The artifact at `path`, which must be a reward model (llamac --reward);
/// throws RuntimeError otherwise.
std::unique_ptr<Artifact> openRewardModel(const std::string &path);
/// ... that scores `policy`'s samples: throws unless the vocabularies match.
std::unique_ptr<Artifact> openRewardModelFor(const std::string &path,
                                             const Artifact &policy);

/// The reward of each sequence through the artifact's score entry point,
/// its rows at a time (a last partial chunk is filled with copies of its
/// first sequence, whose scores are dropped). `weights` are the artifact's,
/// manifest order. Throws if the artifact is not a reward model.
std::vector<float>
scoreSequences(const Artifact &artifact, const void *const *weights,
               const std::vector<const ScoredSequence *> &sequences);

/// How often the chosen response of each pair scores higher.
PairAccuracy pairAccuracy(const Artifact &artifact, const void *const *weights,
                          const std::vector<PreferencePair> &pairs);

} // namespace llamart

#endif // LLAMAC_RUNTIME_REWARDMODEL_H
