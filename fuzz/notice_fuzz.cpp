// GCN notices: LVK igwn.gwalert JSON (with its base64 multi-order sky map), GCN Kafka JSON,
// GraceDB records and VOEvent XML, parsed as `notice-files` and `gcn-kafka` do.
#include <algorithm>

#include "actors/common/notices/notice.h"
#include "actors/common/notices/notice_text.h"
#include "fuzz/fuzz_target.h"

EBS_FUZZ_ONE_INPUT(bytes) {
  // The maps cut out before the JSON parse: the cut text, restored, parses as the text does. The
  // check recurses through the JSON (restore, ==): a text with more brackets than a notice has
  // is left out, its depth would overflow the stack in the check, not in the notice's parse.
  if (std::count(bytes.begin(), bytes.end(), '[') + std::count(bytes.begin(), bytes.end(), '{') < 10000 &&
      !ebs::notices::cut_parses_as_whole(bytes))
    __builtin_trap();
  (void)ebs::notices::parse_notice(bytes, "fuzz");
}
