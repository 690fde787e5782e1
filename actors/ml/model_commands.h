// `ebs-flow model ...`: the model registry and offline training/evaluation (docs/ml.md).
//   model register  --registry R --name N --file MODEL [--feature-set S] [--training-data REF]
//   model list      --registry R [--name N]
//   model show      --registry R NAME [--version V]        (default: production, else latest)
//   model train     --data CSV --out MODEL.json|.ubj [--feature-set S] [--split object|time|none]
//                   [--trees N] [--depth D] [--eta E] [--register NAME --registry R]
//   model eval      --model REF --data CSV [--split ...] [--threshold T] [--record]
//   model compare   --a REF --b REF --data CSV [--split ...]
//   model promote   --registry R NAME --version V [--metric roc_auc] [--data CSV] [--force]
//   model synthetic --out CSV [--objects N] [--seed S]   (a labelled set from synthetic light curves)
//   model label     DB --file LABELS.csv [--source S]      (object labels into the repository's ml_labels)
//   model export    DB -o CSV [--feature-set S] [--label-source S] [--history-days D] [--latest-only]
//   model retrain   POLICY.yaml [--check] [--force]        (retraining policy: retrain_policy.h)
//   model shadow    [NAME] --registry R                   (live shadow-scoring agreement)
//   model retrain-log NAME --registry R
// train, eval, compare and promote take --repository DB (labelled stored alerts) instead of --data.
// Results are JSON lines on stdout; problems `PLACE: message` on stderr (exit 1).
// `--registry` defaults to $EBS_MODEL_REGISTRY.
#pragma once

#include "engine/cli/command_registry.h"

namespace ebs::ml {

void register_model_commands(ebs::CommandRegistry& registry);

}  // namespace ebs::ml

namespace ebs {
using ml::register_model_commands;
}  // namespace ebs
