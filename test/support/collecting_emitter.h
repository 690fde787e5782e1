// An Emitter for unit tests of actor logic: keeps what the logic sends and counts the rest.
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/graph/actor_registry.h"
#include "engine/runtime/actor_logic.h"

namespace ebs::test {

class CollectingEmitter final : public Emitter {
 public:
  std::map<size_t, std::vector<BatchView>> sent;  // per port
  uint64_t forwarded_records = 0, emitted_records = 0, filtered_records = 0, failed_records = 0;
  uint64_t read_records = 0, delivered_records = 0;
  std::vector<Fault> faults;
  std::vector<std::string> originals;  // failed_raw's original bytes, in order (failed: empty)
  std::vector<Fault> aborted;  // abort_run

  void forward(size_t port, BatchView batch) override {
    forwarded_records += batch.size();
    sent[port].push_back(std::move(batch));
  }
  void emit(size_t port, BatchView batch) override {
    emitted_records += batch.size();
    sent[port].push_back(std::move(batch));
  }
  void filtered(size_t n) override { filtered_records += n; }
  void failed(const RecordPtr&, const Fault& fault, const std::vector<AckRef>&) override {
    ++failed_records;
    faults.push_back(fault);
    originals.emplace_back();
  }
  void failed_raw(std::string original, std::string, const Fault& fault, const std::vector<AckRef>&) override {
    ++failed_records;
    faults.push_back(fault);
    originals.push_back(std::move(original));
  }
  void read(size_t n) override { read_records += n; }
  void delivered(size_t n) override { delivered_records += n; }
  void abort_run(const Fault& fault) override { aborted.push_back(fault); }

  // Every record sent on `port`, in order.
  std::vector<RecordPtr> records(size_t port = 0) const {
    std::vector<RecordPtr> out;
    auto it = sent.find(port);
    if (it == sent.end()) return out;
    for (const BatchView& b : it->second)
      for (size_t i = 0; i < b.size(); ++i) out.push_back(b.record(i));
    return out;
  }
};

// A context for one instance of `type` with `yaml` as its config.
inline ActorContext make_context(const ActorType& type, const std::string& yaml, const std::string& run_dir = ".") {
  ActorContext c;
  c.actor_id = "under_test";
  c.type_name = type.name;
  c.type_version = type.version;
  c.type = &type;
  c.run_dir = run_dir;
  c.config = ActorConfig(YAML::Load(yaml.empty() ? "{}" : yaml), "test.yaml", &type.config);
  return c;
}

// One open instance of a registered actor type, configured by `yaml` as a workflow's actor is: the
// steps every actor test starts with. It owns the registry the instance's type lives in, so it is
// neither copied nor moved.
class OpenActor {
 public:
  OpenActor(void (*register_types)(ActorRegistry&), const std::string& type_name, const std::string& yaml,
            const std::string& run_dir = ".") {
    register_types(registry_);
    const ActorType* type = registry_.find(type_name);
    if (!type) throw std::logic_error("OpenActor: no actor type '" + type_name + "' registered");
    context_ = make_context(*type, yaml, run_dir);
    logic_ = type->create(context_);
    logic_->open(context_);
  }
  OpenActor(const OpenActor&) = delete;
  OpenActor& operator=(const OpenActor&) = delete;

  // One batch of `records` of `type` on input `port` into `out`.
  void run(std::vector<RecordPtr> records, CollectingEmitter& out, PortType type = PortType::alert, size_t port = 0) {
    logic_->on_batch(port, BatchView::make(type, std::move(records), {}), out);
  }
  ActorLogic& logic() { return *logic_; }

 private:
  ActorRegistry registry_;
  ActorContext context_;
  std::unique_ptr<ActorLogic> logic_;
};

}  // namespace ebs::test
