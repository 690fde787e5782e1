@0xdb486957da1f9343;
# An alert found together with a sky event, with every term of its significance.
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("ebs::wire");

struct SignificanceTerm {
  name @0 :Text;
  value @1 :Float64;
  source @2 :Text;   # where the constant or formula comes from
}

struct Coincidence {
  eventId @0 :Text;
  eventSequence @1 :UInt32;
  alertId @2 :Int64;
  objectId @3 :Text;
  status @4 :Status;
  enum Status {
    active @0;
    updated @1;
    withdrawn @2;
  }
  timeDifferenceSeconds @5 :Float64;
  searchedProbability @6 :Float64 = nan;
  falseAlarmRate @7 :Float64 = nan;
  terms @8 :List(SignificanceTerm);
  # A pair of sky events (GW with a GRB or neutrino): the second event; alertId 0, objectId "".
  otherEventId @9 :Text;
  otherEventSequence @10 :UInt32;
  # The alert as it was found: position (deg), magnitude, band and time (MJD TAI).
  alertRa @11 :Float64 = nan;
  alertDec @12 :Float64 = nan;
  alertMag @13 :Float64 = nan;
  alertBand @14 :Text;
  alertMjdTai @15 :Float64 = nan;
}
