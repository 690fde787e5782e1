// GCN notices: LVK igwn.gwalert JSON (with its base64 multi-order sky map), GCN Kafka JSON,
// GraceDB records and VOEvent XML, parsed as `notice-files` and `gcn-kafka` do.
#include "actors/common/notices/notice.h"
#include "fuzz/fuzz_target.h"

EBS_FUZZ_ONE_INPUT(bytes) { (void)ebs::notices::parse_notice(bytes, "fuzz"); }
