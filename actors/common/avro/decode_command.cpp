#include "actors/common/avro/decode_command.h"

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "actors/common/avro/decoder.h"
#include "actors/common/avro/json_output.h"
#include "engine/util/fault.h"

namespace ebs::avro {

namespace {

std::shared_ptr<const std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) ebs::fail(path, "cannot open file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) ebs::fail(path, "cannot read file");
  return std::make_shared<const std::string>(std::move(buffer).str());
}

}  // namespace

int run_decode(const DecodeOptions& options, std::ostream& out, std::ostream& err) {
  DecoderSources sources{std::make_shared<SchemaCache>(), nullptr, nullptr};
  try {
    if (!options.schema_dir.empty())
      sources.directory = std::make_shared<const SchemaDirectory>(SchemaDirectory::load(options.schema_dir));
  } catch (const Fault& fault) {
    err << fault.what() << "\n";
    return exit_code::failed;
  }
  if (!options.registry.empty())
    sources.registry = std::make_shared<SchemaRegistryClient>(options.registry);
  Decoder decoder(std::move(sources));

  bool any_failed = false;
  std::vector<RawRecord> records;
  std::string line;
  for (const std::string& path : options.files) {
    records.clear();
    try {
      decoder.decode(read_file(path), path, records);
    } catch (const Fault& fault) {
      err << fault.what() << "\n";
      any_failed = true;
      continue;  // print nothing of a bad file: half a file is worse than none
    }
    for (const RawRecord& record : records) {
      line.clear();
      append_json(record.root(), options.with_bytes, line);
      line += '\n';
      out << line;
    }
  }
  out.flush();
  return any_failed ? exit_code::failed : exit_code::ok;
}

void register_decode_commands(ebs::CommandRegistry& registry) {
  registry.add(
      "decode",
      "Decode Avro alerts (container files or Confluent-framed messages) to JSON lines",
      [](CLI::App& app) -> CommandRegistry::Runner {
        auto options = std::make_shared<DecodeOptions>();
        app.add_option("--schema-dir", options->schema_dir,
                       "Folder of .avsc writer schemas laid out as MAJOR/MINOR (Confluent frames)");
        app.add_option("--registry", options->registry,
                       "Schema registry URL (Confluent frames), e.g. http://localhost:8081");
        app.add_flag("--with-bytes", options->with_bytes,
                     "Print bytes fields as base64 instead of their length");
        app.add_option("files", options->files, "Avro files or messages")->required();
        return [options] { return run_decode(*options, std::cout, std::cerr); };
      });
}

}  // namespace ebs::avro
