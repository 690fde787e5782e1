@0x8298483865459572;
# A record an actor could not handle, with why and where; replayable once the cause is fixed.
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("ebs::wire");

struct DeadLetter {
  actor @0 :Text;      # workflow actor id
  kind @1 :Text;       # fault kind: failed, overloaded, disconnected, unimplemented
  reason @2 :Text;
  place @3 :Text;      # file:line:col, topic/partition/offset, row, ...
  original @4 :Data;   # the original bytes (or the record's JSON)
  originalFormat @5 :Text;
  mjdTai @6 :Float64;  # when it happened
}
