@0xb1092e9a72efd30f;
# A multi-messenger event: a gravitational wave, a neutrino, a gamma-ray burst.
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("ebs::wire");

struct Localization {
  union {
    point @0 :Void;
    circle @1 :Float64;            # radius, degrees
    ellipse @2 :Ellipse;
    skymap @3 :Skymap;
  }
  ra @4 :Float64;
  dec @5 :Float64;
  containmentProbability @6 :Float64 = 0.9;

  struct Ellipse {
    semiMajorDeg @0 :Float64;
    semiMinorDeg @1 :Float64;
    positionAngleDeg @2 :Float64;  # from North through East
  }
  struct Skymap {
    fits @0 :Data;                 # the multi-order or flat HEALPix FITS file
    url @1 :Text;
    version @2 :Text;
  }
}

struct SkyEvent {
  eventId @0 :Text;           # superevent id, trigger id
  source @1 :Text;            # "lvk", "icecube", "swift", "fermi-gbm", ...
  kind @2 :Kind;
  enum Kind {
    gravitationalWave @0;
    neutrino @1;
    gammaRayBurst @2;
    xRay @3;
    other @4;
  }
  alertType @3 :Text;         # PRELIMINARY, INITIAL, UPDATE, RETRACTION, ...
  sequence @4 :UInt32;        # notice sequence / version
  mjdTai @5 :Float64;
  localization @6 :Localization;
  far @7 :Float64 = nan;      # false-alarm rate, Hz
  significance @8 :Float64 = nan;
  significant @9 :Bool;
  test @10 :Bool;             # mock, test or injection event
  retracted @11 :Bool;
  noticeJson @12 :Text;       # the original notice
}
