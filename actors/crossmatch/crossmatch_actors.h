// The `crossmatch` and `classify` actor types (docs/crossmatch.md, docs/sherlock.md).
//   crossmatch: annotates each alert with the nearest (or all) sources of several catalogues
//               within per-catalogue radii; every alert is forwarded.
//   classify:   Sherlock-style contextual classification from a YAML rule set
//               (catalogs/rules/sherlock.yaml): one classification annotation per alert.
// Both share one CatalogStore, so a catalogue named by several actors is loaded once.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "actors/common/catalog/catalog_store.h"
#include "engine/graph/actor_registry.h"
#include "engine/model/record.h"

namespace ebs {

struct ActorContext;

ActorType crossmatch_actor_type(std::shared_ptr<catalog::CatalogStore> store);
ActorType classify_actor_type(std::shared_ptr<catalog::CatalogStore> store);
// `tns`: the crossmatch with one catalogue, the TNS public objects, naming known transients.
ActorType tns_actor_type(std::shared_ptr<catalog::CatalogStore> store);

// Registers `crossmatch`, `classify` and `tns`, sharing one CatalogStore.
void register_crossmatch_actors(ActorRegistry& registry);

}  // namespace ebs
