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
  raw @16 :RawValue;               # revision 2 of the cluster protocol: see rawFlat
  annotations @17 :List(Annotation);
  alertKey @18 :Text;       # the survey's own id, losslessly (engine/model/alert_identity.h)
  limitMag @19 :Float64 = nan;  # limiting magnitude of the alert's own image
  # The survey record as decoded (a RawRecord), laid flat: empty when the alert has none. A tree of
  # RawValue (raw) costs a 24-byte pointer and a text of its own per value; this is written and
  # read in one pass over the record's nodes. All numbers little-endian; offsets from the start.
  #   header   u32 nodes, u32 shapes, u32 text bytes
  #   shapes   each: u32 length + the record name, u32 fields, each field u32 length + its name
  #   nodes    16 bytes each, node 0 the root: u8 kind, u8 bool, u16 0, u32 a, u64 b, where kind
  #            (a, b) is 0 null, 1 bool (the u8), 2 int (b), 3 double (b's bits), 4 text and
  #            5 bytes (a length, b offset into the text bytes), 6 list (a children, b the first
  #            child's node), 7 record (a fields, b the first child's node | the shape's number
  #            << 32), 8 the bytes of the alert's cutout a (not sent twice); a child's node comes
  #            after its parent's, and children are consecutive
  #   text     the texts and bytes end to end
  # What the decoder checks (engine/model/record_wire.cpp, RawFlatReader), failing the record
  # rather than reading past the bytes or looping (with "damaged raw payload: ...", except the
  # two cases of the last item, which say what they found):
  #   - sizes: at least one node (the root); the header's counts and each name's length fit the
  #     bytes, and after the shapes exactly 16 bytes a node plus the text bytes remain;
  #   - shapes: no more than nodes, at most 4,096 (RecordDecoder::Shapes::kMaxShapes), each one
  #     used by a record, and a record's field count equals its shape's;
  #   - a tree: a list's or record's children come after it and end within the nodes, and no
  #     node is the child of two parents (so no cycle, and no walk that visits a range of nodes
  #     many times); nesting is at most 512 levels deep (kMaxRawDepth);
  #   - a text or bytes node lies within the text bytes; a cutout reference (kind 8) names one of
  #     the alert's cutouts ("raw bytes refer to a cutout the alert does not have"); any other
  #     kind (a later revision's, or damage) is refused, never read as null ("raw value of a kind
  #     this build does not know (N)").
  # Its size: a Data field holds less than 2^29 bytes (the writer refuses a larger payload), and
  # the whole message is read under a traversal limit of 4 times its words plus 1,024.
  rawFlat @20 :Data;
  # The cutout fields the source left unread (nothing downstream uses them; empty: all read), and
  # the alert's file, which still holds them (AlertCore::cutouts_not_read).
  cutoutsNotRead @21 :List(Text);
  cutoutsFile @22 :Text;
}
