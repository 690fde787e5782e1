#include "actors/common/ingest/container_file_stream.h"

#include <algorithm>
#include <filesystem>

#include "actors/common/avro/byte_reader.h"
#include "actors/common/avro/container_file.h"

namespace ebs::ingest {

namespace {
// A block's head: two Avro longs (object count, byte size) of at most 10 bytes each.
constexpr size_t kBlockHeadBytes = 20;
constexpr size_t kFirstHeaderRead = 64 * 1024;
}  // namespace

ContainerFileStream::ContainerFileStream(std::string path, MessageIngester& ingester)
    : path_(std::move(path)), ingester_(ingester), file_(path_, std::ios::binary) {
  std::error_code ec;
  size_ = std::filesystem::file_size(path_, ec);
  if (!file_ || ec) fail(path_, "cannot read");
  if (size_ <= kWholeFileBytes) whole_ = read_at(0, static_cast<size_t>(size_));
  read_header();
}

ContainerFileStream::ContainerFileStream(std::string path, std::shared_ptr<const void> owner, std::string_view bytes,
                                         MessageIngester& ingester)
    : path_(std::move(path)), ingester_(ingester), size_(bytes.size()), whole_{std::move(owner), bytes} {
  read_header();
}

void ContainerFileStream::read_header() {
  // The header's length is known only once it is parsed: read more until it parses or the file
  // (or the ceiling) ends; the last attempt's fault is the file's. Its schema is parsed once.
  size_t length = static_cast<size_t>(std::min<uint64_t>(size_, kFirstHeaderRead));
  auto fail_whole = [&](Fault fault) {
    pending_.push_back({nullptr, IngestFailure{std::move(fault), std::string(header_bytes_.view), "avro"}});
    header_bytes_ = {};
    ended_ = true;
  };
  while (true) {
    header_bytes_ = read_at(0, length);
    try {
      header_ = avro::read_container_header(header_bytes_.view, path_);
      break;
    } catch (const Fault& fault) {
      if (fault.kind() == FaultKind::failed && length < size_ && length < kMaxHeaderBytes) {
        length = static_cast<size_t>(std::min<uint64_t>({size_, uint64_t{length} * 4, kMaxHeaderBytes}));
        continue;
      }
      if (length < size_ && fault.kind() == FaultKind::failed)
        fail_whole(Fault(FaultKind::failed, path_ + ":byte 0",
                         "container header larger than " + std::to_string(kMaxHeaderBytes >> 20) + " MiB"));
      else
        fail_whole(fault);
      return;
    }
  }
  try {
    plan_ = ingester_.decoder().plan_for_container(
        header_.schema, static_cast<uint64_t>(header_.schema.data() - header_bytes_.view.data()), path_);
  } catch (const std::exception& error) {
    fail_whole(to_fault(error, path_));
    return;
  }
  position_ = header_.blocks_offset;
}

ContainerFileStream::Bytes ContainerFileStream::read_at(uint64_t offset, size_t length) {
  if (whole_.owner) {
    if (offset > whole_.view.size() || length > whole_.view.size() - offset)
      fail(path_ + ":byte " + std::to_string(whole_.view.size()), "cannot read");
    return {whole_.owner, whole_.view.substr(static_cast<size_t>(offset), length)};
  }
  std::shared_ptr<char[]> buffer(new char[length]);  // no zero fill: the read writes every byte used
  file_.clear();
  file_.seekg(static_cast<std::streamoff>(offset));
  file_.read(buffer.get(), static_cast<std::streamsize>(length));
  const size_t got = static_cast<size_t>(std::max<std::streamsize>(file_.gcount(), 0));
  if (got != length) fail(path_ + ":byte " + std::to_string(offset + got), "cannot read");
  std::string_view view(buffer.get(), length);
  return {std::move(buffer), view};
}

std::optional<IngestItem> ContainerFileStream::next() {
  while (pending_.empty() && !ended_) read_block();
  if (pending_.empty()) return std::nullopt;
  IngestItem item = std::move(pending_.front());
  pending_.pop_front();
  return item;
}

void ContainerFileStream::read_block() {
  if (position_ >= size_) {
    ended_ = true;
    return;
  }
  Bytes block_bytes;
  avro::ContainerBlock block;
  try {
    // The block's head says how long it is; then the whole block (data and sync marker) is read
    // and framed by ContainerBlocks, which places its faults in file offsets.
    Bytes head = read_at(position_, static_cast<size_t>(std::min<uint64_t>(kBlockHeadBytes, size_ - position_)));
    avro::ByteReader in(head.view, path_, position_);
    in.read_long();
    const char* size_at = in.position();
    int64_t data_size = in.read_long();
    uint64_t head_length = in.offset() - position_;
    if (data_size < 0 || static_cast<uint64_t>(data_size) > size_ - position_ - head_length)
      in.fail_at(size_at, "block size " + std::to_string(data_size) + " runs past the end of the file (" +
                              std::to_string(size_) + " bytes)");
    uint64_t block_length = std::min<uint64_t>(head_length + static_cast<uint64_t>(data_size) + 16, size_ - position_);
    block_bytes = read_at(position_, static_cast<size_t>(block_length));
    avro::ContainerBlocks blocks(block_bytes.view, header_, path_, position_);
    blocks.next(block);
  } catch (const std::exception& error) {
    fail_rest(error);
    return;
  }
  const uint64_t block_start = position_;
  position_ += block_bytes.view.size();

  std::vector<RawRecord> records;
  std::vector<std::string_view> encodings;
  std::optional<Fault> block_fault;
  // The plan that decodes this block, kept beside its records: the profiles are given exactly
  // the plan that decoded each record (ProfileSet::map's contract), converted once a block.
  const std::shared_ptr<const avro::DecodePlan> plan = plan_;
  const std::shared_ptr<const void> plan_that_decoded_records = plan;
  try {
    ingester_.decoder().decode_block(plan, block, block_bytes.owner, path_, records, &encodings);
  } catch (const std::exception& error) {
    block_fault = to_fault(error, path_ + ":byte " + std::to_string(block_start));
  }
  for (size_t i = 0; i < records.size(); ++i) {
    std::string place = path_ + " record " + std::to_string(records_seen_ + i);
    try {
      std::shared_ptr<const void> buffers = block.owner ? block.owner : block_bytes.owner;
      pending_.push_back({std::make_shared<const Alert>(ingester_.profiles().map(std::move(records[i]), buffers, place,
                                                                                    nullptr, 0, plan_that_decoded_records)),
                          std::nullopt});
    } catch (const std::exception& error) {
      std::string original = avro::container_file(header_.schema, avro::Codec::null, header_.sync,
                                                  avro::encode_block(1, encodings[i], header_.sync));
      pending_.push_back({nullptr, IngestFailure{to_fault(error, place), std::move(original), "avro"}});
    }
  }
  records_seen_ += static_cast<size_t>(std::max<int64_t>(block.object_count, 0));
  if (block_fault)
    pending_.push_back({nullptr, IngestFailure{*block_fault,
                                               avro::container_file(header_.schema, header_.codec, header_.sync,
                                                                    block_bytes.view),
                                               "avro"}});
}

void ContainerFileStream::fail_rest(const std::exception& error) {
  ended_ = true;
  Fault fault = to_fault(error, path_ + ":byte " + std::to_string(position_));
  std::string rest;
  try {
    rest = std::string(read_at(position_, static_cast<size_t>(std::min<uint64_t>(size_ - position_, kMaxRestBytes))).view);
  } catch (const Fault&) {
    // The file went away under us: the letter still names the place and the reason.
  }
  pending_.push_back({nullptr, IngestFailure{fault, avro::container_file(header_.schema, header_.codec, header_.sync, rest),
                                             "avro"}});
}

}  // namespace ebs::ingest
