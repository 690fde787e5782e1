#include "actors/common/avro/libavro_reference.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "engine/util/fault.h"

namespace ebs::avro::reference {

namespace {

[[noreturn]] void avro_failed(const std::string& what) {
  ebs::fail("libavro", what + ": " + avro_strerror());
}

const char* kind_name(RawNode::Kind k) {
  switch (k) {
    case RawNode::Kind::Null: return "Null";
    case RawNode::Kind::Bool: return "Bool";
    case RawNode::Kind::Int: return "Int";
    case RawNode::Kind::Double: return "Double";
    case RawNode::Kind::String: return "String";
    case RawNode::Kind::Bytes: return "Bytes";
    case RawNode::Kind::List: return "List";
    case RawNode::Kind::Record: return "Record";
  }
  return "?";
}

std::string expect_kind(RawView actual, RawNode::Kind kind, const std::string& path) {
  if (!actual.valid()) return path + ": missing";
  if (actual.kind() != kind)
    return path + ": expected " + kind_name(kind) + ", got " + kind_name(actual.kind());
  return "";
}

bool same_double(double a, double b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace

void for_each_record(std::string_view container_bytes,
                     const std::function<void(avro_value_t&)>& visit) {
  FILE* memory = fmemopen(const_cast<char*>(container_bytes.data()), container_bytes.size(), "rb");
  if (!memory) fail("libavro", "fmemopen failed");
  avro_file_reader_t reader;
  if (avro_file_reader_fp(memory, "memory", 1, &reader)) avro_failed("avro_file_reader_fp");
  avro_schema_t schema = avro_file_reader_get_writer_schema(reader);
  avro_value_iface_t* iface = avro_generic_class_from_schema(schema);
  avro_value_t value;
  avro_generic_value_new(iface, &value);
  int rc;
  while ((rc = avro_file_reader_read_value(reader, &value)) == 0) visit(value);
  avro_value_decref(&value);
  avro_value_iface_decref(iface);
  avro_file_reader_close(reader);
  if (rc != EOF) avro_failed("avro_file_reader_read_value");
}

GenericReader::GenericReader(std::string_view schema_json) {
  avro_schema_error_t error;
  if (avro_schema_from_json(schema_json.data(), static_cast<int32_t>(schema_json.size()), &schema_,
                            &error))
    avro_failed("avro_schema_from_json");
  iface_ = avro_generic_class_from_schema(schema_);
  if (!iface_) avro_failed("avro_generic_class_from_schema");
  avro_generic_value_new(iface_, &value_);
  reader_ = avro_reader_memory(nullptr, 0);
}

GenericReader::~GenericReader() {
  avro_reader_free(reader_);
  avro_value_decref(&value_);
  avro_value_iface_decref(iface_);
  avro_schema_decref(schema_);
}

avro_value_t& GenericReader::read(std::string_view body) {
  avro_reader_memory_set_source(reader_, body.data(), static_cast<int64_t>(body.size()));
  avro_value_reset(&value_);
  if (avro_value_read(reader_, &value_)) avro_failed("avro_value_read");
  return value_;
}

void read_datum(std::string_view schema_json, std::string_view body,
                const std::function<void(avro_value_t&)>& visit) {
  GenericReader reader(schema_json);
  visit(reader.read(body));
}

std::string compare(avro_value_t& expected, RawView actual, const std::string& path) {
  using K = RawNode::Kind;
  std::string where = path.empty() ? "(root)" : path;
  switch (avro_value_get_type(&expected)) {
    case AVRO_NULL:
      return expect_kind(actual, K::Null, where);
    case AVRO_BOOLEAN: {
      int v;
      avro_value_get_boolean(&expected, &v);
      if (auto e = expect_kind(actual, K::Bool, where); !e.empty()) return e;
      return actual.node().boolean == (v != 0) ? "" : where + ": boolean differs";
    }
    case AVRO_INT32: {
      int32_t v;
      avro_value_get_int(&expected, &v);
      if (auto e = expect_kind(actual, K::Int, where); !e.empty()) return e;
      return actual.node().integer == v ? "" : where + ": expected " + std::to_string(v) + ", got " +
                                                   std::to_string(actual.node().integer);
    }
    case AVRO_INT64: {
      int64_t v;
      avro_value_get_long(&expected, &v);
      if (auto e = expect_kind(actual, K::Int, where); !e.empty()) return e;
      return actual.node().integer == v ? "" : where + ": expected " + std::to_string(v) + ", got " +
                                                   std::to_string(actual.node().integer);
    }
    case AVRO_FLOAT: {
      float v;
      avro_value_get_float(&expected, &v);
      if (auto e = expect_kind(actual, K::Double, where); !e.empty()) return e;
      return same_double(actual.node().number, v) ? "" : where + ": float differs";
    }
    case AVRO_DOUBLE: {
      double v;
      avro_value_get_double(&expected, &v);
      if (auto e = expect_kind(actual, K::Double, where); !e.empty()) return e;
      return same_double(actual.node().number, v) ? "" : where + ": double differs";
    }
    case AVRO_STRING: {
      const char* p;
      size_t size;
      avro_value_get_string(&expected, &p, &size);
      if (auto e = expect_kind(actual, K::String, where); !e.empty()) return e;
      std::string_view v(p, size ? size - 1 : 0);  // libavro counts the terminating NUL
      return actual.node().text == v ? "" : where + ": expected \"" + std::string(v) + "\", got \"" +
                                                std::string(actual.node().text) + "\"";
    }
    case AVRO_BYTES: {
      const void* p;
      size_t size;
      avro_value_get_bytes(&expected, &p, &size);
      if (auto e = expect_kind(actual, K::Bytes, where); !e.empty()) return e;
      std::string_view v(static_cast<const char*>(p), size);
      return actual.node().text == v ? "" : where + ": bytes differ";
    }
    case AVRO_FIXED: {
      const void* p;
      size_t size;
      avro_value_get_fixed(&expected, &p, &size);
      if (auto e = expect_kind(actual, K::Bytes, where); !e.empty()) return e;
      std::string_view v(static_cast<const char*>(p), size);
      return actual.node().text == v ? "" : where + ": fixed differs";
    }
    case AVRO_ENUM: {
      int v;
      avro_value_get_enum(&expected, &v);
      const char* symbol = avro_schema_enum_get(avro_value_get_schema(&expected), v);
      if (auto e = expect_kind(actual, K::String, where); !e.empty()) return e;
      return actual.node().text == symbol ? "" : where + ": enum symbol differs";
    }
    case AVRO_UNION: {
      avro_value_t branch;
      avro_value_get_current_branch(&expected, &branch);
      return compare(branch, actual, path);
    }
    case AVRO_RECORD: {
      if (auto e = expect_kind(actual, K::Record, where); !e.empty()) return e;
      size_t n;
      avro_value_get_size(&expected, &n);
      if (actual.size() != n)
        return where + ": expected " + std::to_string(n) + " fields, got " +
               std::to_string(actual.size());
      for (size_t i = 0; i < n; ++i) {
        avro_value_t child;
        const char* name;
        avro_value_get_by_index(&expected, i, &child, &name);
        if (actual.field_name(i) != name)
          return where + ": field " + std::to_string(i) + " is \"" +
                 std::string(actual.field_name(i)) + "\", expected \"" + name + "\"";
        if (auto e = compare(child, actual.child(i), path.empty() ? name : path + "." + name);
            !e.empty())
          return e;
      }
      return "";
    }
    case AVRO_ARRAY: {
      if (auto e = expect_kind(actual, K::List, where); !e.empty()) return e;
      size_t n;
      avro_value_get_size(&expected, &n);
      if (actual.size() != n)
        return where + ": expected " + std::to_string(n) + " items, got " +
               std::to_string(actual.size());
      for (size_t i = 0; i < n; ++i) {
        avro_value_t child;
        avro_value_get_by_index(&expected, i, &child, nullptr);
        if (auto e = compare(child, actual.child(i), path + "." + std::to_string(i)); !e.empty())
          return e;
      }
      return "";
    }
    case AVRO_MAP: {
      if (auto e = expect_kind(actual, K::List, where); !e.empty()) return e;
      size_t n;
      avro_value_get_size(&expected, &n);
      if (actual.size() != n)
        return where + ": expected " + std::to_string(n) + " map entries, got " +
               std::to_string(actual.size());
      for (size_t i = 0; i < n; ++i) {
        avro_value_t child;
        const char* key;
        avro_value_get_by_index(&expected, i, &child, &key);
        RawView entry = actual.child(i);
        std::string entry_path = path + "." + std::to_string(i);
        if (auto e = expect_kind(entry, K::Record, entry_path); !e.empty()) return e;
        if (entry.field("key").as_string() != std::string_view(key))
          return entry_path + ": map key differs";
        if (auto e = compare(child, entry.field("value"), entry_path + ".value"); !e.empty())
          return e;
      }
      return "";
    }
    default:
      return where + ": unexpected libavro type";
  }
}

void rewrite_with_codec(const std::vector<std::string>& in_paths, const std::string& out_path,
                        const char* codec, size_t block_size) {
  avro_file_writer_t writer = nullptr;
  avro_value_iface_t* iface = nullptr;
  avro_value_t value;
  for (const std::string& in_path : in_paths) {
    avro_file_reader_t reader;
    if (avro_file_reader(in_path.c_str(), &reader)) avro_failed("avro_file_reader " + in_path);
    if (!writer) {  // the first file's writer schema: all inputs must share it
      avro_schema_t schema = avro_file_reader_get_writer_schema(reader);
      std::remove(out_path.c_str());
      if (avro_file_writer_create_with_codec(out_path.c_str(), schema, &writer, codec, block_size))
        avro_failed("avro_file_writer_create_with_codec " + out_path);
      iface = avro_generic_class_from_schema(schema);
      avro_generic_value_new(iface, &value);
    }
    while (avro_file_reader_read_value(reader, &value) == 0)
      if (avro_file_writer_append_value(writer, &value)) avro_failed("avro_file_writer_append_value");
    avro_file_reader_close(reader);
  }
  if (!writer) ebs::fail("rewrite_with_codec", "no input files");
  avro_value_decref(&value);
  avro_value_iface_decref(iface);
  avro_file_writer_close(writer);
}

}  // namespace ebs::avro::reference
