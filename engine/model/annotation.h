// Annotations: what crossmatchers, classifiers and scorers say about an alert. They are appended
// to an alert, never overwritten: an AnnotationChain is a persistent list, so appending shares
// every earlier annotation instead of copying it.
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <vector>

namespace ebs {

struct Provenance {
  std::string actor;        // workflow actor id
  std::string actor_type;   // registered type name
  std::string version;      // actor type, rule set or model version
  std::string config_hash;  // hash of the config, catalogue or model file
};

struct Annotation {
  enum class Kind { crossmatch, classification, score, tag };
  Provenance provenance;
  Kind kind = Kind::tag;
  std::string catalogue;
  std::string source_id;
  double separation_arcsec = NAN;
  std::string object_type;
  double redshift = NAN;
  std::string name;    // class label, model name or tag
  double value = NAN;  // score or probability
  std::string details; // JSON
};

std::string_view to_string(Annotation::Kind kind);

class AnnotationChain {
 public:
  AnnotationChain() = default;
  // A new chain holding everything in this one plus `annotation`; this chain is unchanged.
  AnnotationChain append(Annotation annotation) const;
  size_t size() const { return head_ ? head_->depth : 0; }
  bool empty() const { return !head_; }
  // Oldest first.
  std::vector<const Annotation*> list() const;

 private:
  struct Node {
    Annotation annotation;
    std::shared_ptr<const Node> previous;
    size_t depth;
  };
  std::shared_ptr<const Node> head_;
};

}  // namespace ebs
