#include "engine/model/record_bytes.h"

#include <algorithm>

namespace ebs {

namespace {

std::size_t annotation_bytes(const AnnotationChain& chain) {
  std::size_t bytes = 0;
  for (const Annotation* a : chain.list())
    bytes += sizeof(Annotation) + a->catalogue.size() + a->source_id.size() + a->object_type.size() +
             a->name.size() + a->details.size();
  return bytes;
}

}  // namespace

std::size_t record_bytes(const Record& record) {
  switch (record.type()) {
    case PortType::alert: {
      const auto& alert = static_cast<const Alert&>(record);
      const AlertCore& c = alert.core();
      std::size_t decoded = c.raw.bytes();  // the nodes and the texts they view
      // The buffer the texts view into stays alive whole (a file's header and varints too).
      if (c.kept_bytes > 0) decoded = std::max(decoded, c.raw.nodes().size() * sizeof(RawNode) + c.kept_bytes);
      for (const Cutout& cutout : c.cutouts) decoded += sizeof(Cutout) + cutout.bytes.size();
      return sizeof(Alert) + sizeof(AlertCore) + decoded +
             c.history.size() * sizeof(Photometry) + annotation_bytes(alert.annotations());
    }
    case PortType::sky_event: {
      const auto& e = static_cast<const SkyEvent&>(record);
      return sizeof(SkyEvent) + e.notice_json.size() + e.localization.skymap_fits.size() +
             e.localization.skymap_url.size();
    }
    case PortType::dead_letter: {
      const auto& d = static_cast<const DeadLetter&>(record);
      return sizeof(DeadLetter) + d.original.size() + d.reason.size() + d.place.size();
    }
    case PortType::coincidence:
      return sizeof(Coincidence) + static_cast<const Coincidence&>(record).terms.size() * sizeof(SignificanceTerm);
    case PortType::classification: {
      const auto& c = static_cast<const Classification&>(record);
      return sizeof(Classification) + c.alert_key.size() + c.object_id.size() + c.survey.size() + c.broker_name.size() +
             c.broker_version.size() + c.classifier_name.size() + c.classifier_params.size() +
             c.classes.size() * sizeof(ClassProbability);
    }
    default:
      return 256;  // a record type of a plugin: small, and never zero
  }
}

}  // namespace ebs
