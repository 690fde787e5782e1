@0x9ab82a9c661a4d7e;
# What a crossmatcher, classifier or scorer says about an alert. Annotations are appended to an
# alert, never overwritten, and each names what produced it.
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("ebs::wire");

struct Provenance {
  actor @0 :Text;        # workflow actor id
  actorType @1 :Text;    # registered type name, e.g. "crossmatch"
  version @2 :Text;      # the actor type's (or rule set's / model's) version
  configHash @3 :Text;   # hash of the actor config, catalogue or model file
}

struct Annotation {
  provenance @0 :Provenance;
  kind @1 :Kind;
  enum Kind {
    crossmatch @0;
    classification @1;
    score @2;
    tag @3;
  }
  # crossmatch
  catalogue @2 :Text;
  sourceId @3 :Text;
  separationArcsec @4 :Float64;
  objectType @5 :Text;
  redshift @6 :Float64 = nan;
  # classification / score / tag
  name @7 :Text;         # class label, model name or tag
  value @8 :Float64 = nan;  # score or probability
  details @9 :Text;      # JSON with anything further (e.g. the rule that fired)
}
