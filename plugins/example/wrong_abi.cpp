// A plugin built for another plugin ABI: the loader must refuse it (engine/plugin tests).
#undef EBS_FLOW_PLUGIN_ABI_VERSION
#include "engine/plugin/plugin_api.h"
#undef EBS_FLOW_PLUGIN_ABI_VERSION
#define EBS_FLOW_PLUGIN_ABI_VERSION 999

namespace {
void register_nothing(ebs::ActorRegistry&, ebs::CommandRegistry&) {}
}  // namespace

EBS_FLOW_PLUGIN("wrong-abi", register_nothing)
