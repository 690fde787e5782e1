@0xf316853f91027c92;
# A survey-agnostic alert. Survey profiles map ZTF, Rubin, ATLAS, ... records onto it; the raw record
# stays attached so filters can reach any survey field by path.
# Times are MJD TAI everywhere inside the engine.
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("ebs::wire");

using import "raw_value.capnp".RawValue;
using import "annotation.capnp".Annotation;

struct Photometry {
  mjdTai @0 :Float64;
  band @1 :Text;
  kind @2 :Kind;
  enum Kind {
    detection @0;
    upperLimit @1;
    forced @2;
  }
  mag @3 :Float64 = nan;
  magErr @4 :Float64 = nan;
  flux @5 :Float64 = nan;       # difference flux, nJy (may be negative)
  fluxErr @6 :Float64 = nan;
  limitMag @7 :Float64 = nan;   # upper limits: limiting magnitude
  isDiffPos @8 :Bool = true;    # false for negative subtractions
}

struct Cutout {
  kind @0 :Kind;
  enum Kind {
    science @0;
    template @1;
    difference @2;
  }
  format @1 :Text;   # "fits.gz", "fits", "jpeg"
  bytes @2 :Data;
}

struct Alert {
  alertId @0 :Int64;        # ZTF candid, Rubin diaSourceId; a hash of a text id (alertKey)
  objectId @1 :Text;        # ZTF objectId, Rubin diaObjectId
  survey @2 :Text;          # "ztf", "lsst", "atlas", "pgir", "sim", ...
  schemaVersion @3 :Text;
  ra @4 :Float64;           # degrees, ICRS
  dec @5 :Float64;
  mjdTai @6 :Float64;       # MJD TAI of the detection (visit middle)
  band @7 :Text;
  mag @8 :Float64 = nan;
  magErr @9 :Float64 = nan;
  flux @10 :Float64 = nan;  # nJy
  fluxErr @11 :Float64 = nan;
  isDiffPos @12 :Bool = true;
  realBogus @13 :Float64 = nan;
  history @14 :List(Photometry);   # previous detections, upper limits and forced photometry
  cutouts @15 :List(Cutout);
  raw @16 :RawValue;               # the survey record as decoded
  annotations @17 :List(Annotation);
  alertKey @18 :Text;       # the survey's own id, losslessly (engine/model/alert_identity.h)
  limitMag @19 :Float64 = nan;  # limiting magnitude of the alert's own image
}
