#include "engine/model/record.h"

#include <array>

namespace ebs {

namespace {
struct PortTypeName {
  PortType type;
  std::string_view name;
};
constexpr std::array<PortTypeName, 6> kPortTypeNames{{{PortType::alert, "Alert"},
                                                       {PortType::sky_event, "SkyEvent"},
                                                       {PortType::coincidence, "Coincidence"},
                                                       {PortType::dead_letter, "DeadLetter"},
                                                       {PortType::classification, "Classification"},
                                                       {PortType::any, "Any"}}};
}  // namespace

std::string_view to_string(PortType type) {
  for (const auto& entry : kPortTypeNames)
    if (entry.type == type) return entry.name;
  return "Any";
}

std::optional<PortType> parse_port_type(std::string_view name) {
  for (const auto& entry : kPortTypeNames)
    if (entry.name == name) return entry.type;
  return std::nullopt;
}

bool port_accepts(PortType to, PortType from) { return to == PortType::any || to == from; }

std::string_view to_string(Annotation::Kind kind) {
  switch (kind) {
    case Annotation::Kind::crossmatch: return "crossmatch";
    case Annotation::Kind::classification: return "classification";
    case Annotation::Kind::score: return "score";
    case Annotation::Kind::tag: return "tag";
  }
  return "tag";
}

AnnotationChain AnnotationChain::append(Annotation annotation) const {
  AnnotationChain next;
  next.head_ = std::make_shared<const Node>(Node{std::move(annotation), head_, size() + 1});
  return next;
}

std::vector<const Annotation*> AnnotationChain::list() const {
  std::vector<const Annotation*> out(size());
  size_t i = out.size();
  for (const Node* n = head_.get(); n; n = n->previous.get()) out[--i] = &n->annotation;
  return out;
}

std::string alert_place(const AlertCore& a) {
  return a.survey + " alert " + (a.alert_key.empty() ? std::to_string(a.alert_id) : a.alert_key) + " (" +
         a.object_id + ")";
}

std::optional<std::string> coordinate_problem(const AlertCore& a) {
  if (!std::isfinite(a.ra) || a.ra < 0 || a.ra >= 360) return "ra " + std::to_string(a.ra) + " is not in [0, 360)";
  if (!std::isfinite(a.dec) || a.dec < -90 || a.dec > 90)
    return "dec " + std::to_string(a.dec) + " is not in [-90, 90]";
  return std::nullopt;
}

void count_history_detections(AlertCore& alert) {
  uint32_t n = 0;
  for (const Photometry& p : alert.history) n += p.kind == Photometry::Kind::detection;
  alert.history_detections = n;
}

std::string_view to_string(Photometry::Kind kind) {
  switch (kind) {
    case Photometry::Kind::detection: return "detection";
    case Photometry::Kind::upper_limit: return "upper_limit";
    case Photometry::Kind::forced: return "forced";
  }
  return "detection";
}

std::string_view to_string(Cutout::Kind kind) {
  switch (kind) {
    case Cutout::Kind::science: return "science";
    case Cutout::Kind::template_: return "template";
    case Cutout::Kind::difference: return "difference";
  }
  return "science";
}

std::string_view to_string(SkyEvent::Kind kind) {
  switch (kind) {
    case SkyEvent::Kind::gravitational_wave: return "gravitational_wave";
    case SkyEvent::Kind::neutrino: return "neutrino";
    case SkyEvent::Kind::gamma_ray_burst: return "gamma_ray_burst";
    case SkyEvent::Kind::x_ray: return "x_ray";
    case SkyEvent::Kind::other: return "other";
  }
  return "other";
}

std::string_view to_string(Coincidence::Status status) {
  switch (status) {
    case Coincidence::Status::active: return "active";
    case Coincidence::Status::updated: return "updated";
    case Coincidence::Status::withdrawn: return "withdrawn";
  }
  return "active";
}

}  // namespace ebs
