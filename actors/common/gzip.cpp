#include "actors/common/gzip.h"

#include <limits>

#include <zlib.h>

#include <algorithm>
#include <cstdlib>

#include "engine/util/fault.h"

namespace ebs {

namespace {

constexpr std::size_t kFitsRecord = 2880;
constexpr std::size_t kFitsCard = 80;

std::string megabytes(std::size_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

// The integer value of a header card "KEY     = value", if it is one.
bool card_integer(std::string_view card, std::string_view key, long long& value) {
  if (card.size() < 10 || card.substr(0, key.size()) != key || card.substr(8, 2) != "= ") return false;
  for (std::size_t i = key.size(); i < 8; ++i)
    if (card[i] != ' ') return false;
  std::string text(card.substr(10, 70));
  char* end = nullptr;
  value = std::strtoll(text.c_str(), &end, 10);
  return end != text.c_str();
}

std::size_t round_up_to_record(std::size_t bytes) { return (bytes + kFitsRecord - 1) / kFitsRecord * kFitsRecord; }

}  // namespace

bool is_gzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

std::size_t fits_declared_size(std::string_view head, const std::string& place) {
  std::size_t at = 0;
  for (int hdu = 1;; ++hdu) {
    long long bitpix = 0, naxis = 0, pcount = 0, gcount = 1;
    long long axes[1000] = {};
    bool ended = false;
    std::size_t card = at;
    for (; card + kFitsCard <= head.size(); card += kFitsCard) {
      std::string_view text = head.substr(card, kFitsCard);
      long long value = 0;
      if (text.substr(0, 8) == "END     ") {
        ended = true;
        break;
      }
      if (card_integer(text, "BITPIX", value)) bitpix = value;
      else if (card_integer(text, "NAXIS", value)) naxis = value;
      else if (card_integer(text, "PCOUNT", value)) pcount = value;
      else if (card_integer(text, "GCOUNT", value)) gcount = value;
      else if (text.substr(0, 5) == "NAXIS") {
        int n = std::atoi(std::string(text.substr(5, 3)).c_str());
        if (n >= 1 && n < 1000 && card_integer(text, "NAXIS" + std::to_string(n), value)) axes[n] = value;
      }
    }
    if (!ended)
      fail(place, "FITS header of HDU " + std::to_string(hdu) + " does not end within the first " +
                      std::to_string(head.size()) + " bytes");
    std::size_t data_start = round_up_to_record(card + kFitsCard);
    if (naxis < 0 || naxis >= 1000 || pcount < 0 || gcount < 0 || (bitpix != 8 && bitpix != 16 && bitpix != 32 &&
                                                                    bitpix != 64 && bitpix != -32 && bitpix != -64))
      fail(place, "FITS HDU " + std::to_string(hdu) + " has an invalid BITPIX/NAXIS/PCOUNT/GCOUNT");
    // Data bytes: |BITPIX|/8 x GCOUNT x (PCOUNT + NAXIS1 x ... x NAXISn), checked for overflow.
    unsigned long long elements = naxis > 0 ? 1 : 0;
    for (long long i = 1; i <= naxis; ++i) {
      if (axes[i] < 0 || __builtin_mul_overflow(elements, static_cast<unsigned long long>(axes[i]), &elements))
        fail(place, "FITS HDU " + std::to_string(hdu) + " declares a size that overflows (NAXIS" + std::to_string(i) +
                        " = " + std::to_string(axes[i]) + ")");
    }
    unsigned long long bytes = 0;
    if (naxis > 0 && (__builtin_add_overflow(elements, static_cast<unsigned long long>(pcount), &bytes) ||
                      __builtin_mul_overflow(bytes, static_cast<unsigned long long>(gcount), &bytes) ||
                      __builtin_mul_overflow(bytes, static_cast<unsigned long long>(std::llabs(bitpix) / 8), &bytes) ||
                      bytes > (std::size_t{1} << 62)))
      fail(place, "FITS HDU " + std::to_string(hdu) + " declares a size that overflows");
    at = data_start + round_up_to_record(static_cast<std::size_t>(bytes));
    if (bytes > 0) return at;
  }
}

InflateLimit fits_inflate_limit(std::size_t ceiling) {
  return {ceiling, 64 * kFitsRecord, fits_declared_size};
}

std::size_t fits_declared_size_of_hdus(std::string_view head, const std::string& place) {
  std::size_t at = fits_declared_size(head, place);  // the primary header must be whole and valid
  while (at < head.size()) {
    std::size_t next = 0;
    try {
      next = fits_declared_size(head.substr(at), place);
    } catch (const Fault&) {
      break;  // a header that does not end within the head (or is padding): the data stops here
    }
    if (next > std::numeric_limits<std::size_t>::max() - at) fail(place, "FITS HDUs declare a size that overflows");
    at += next;
  }
  return at;
}

InflateLimit fits_hdus_inflate_limit(std::size_t ceiling) {
  return {ceiling, 64 * kFitsRecord, fits_declared_size_of_hdus};
}

std::string gunzip(std::string_view bytes, const std::string& place, const InflateLimit& limit) {
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) fail(place, "cannot start gzip inflation");
  std::size_t cap = limit.ceiling;  // the most output allowed, lowered once the head declares a size
  bool declared = !limit.declared;
  std::string out(std::min<std::size_t>(std::max<std::size_t>(bytes.size() * 4, 1 << 16), cap + 1), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  auto give_up = [&](const std::string& why) {
    inflateEnd(&stream);
    fail(place, why);
  };
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    if (!declared && (stream.total_out >= limit.head_bytes)) {
      declared = true;
      std::size_t size = 0;
      try {
        size = limit.declared(std::string_view(out.data(), stream.total_out), place);
      } catch (...) {
        inflateEnd(&stream);
        throw;
      }
      if (size > limit.ceiling)
        give_up("declares " + std::to_string(size) + " bytes, more than the ceiling of " + megabytes(limit.ceiling));
      cap = size;
      if (stream.total_out >= cap) break;  // what the data declares is all there
    }
    // One byte past the cap tells "more than allowed" from "exactly the cap".
    if (stream.total_out == out.size()) out.resize(std::min(out.size() * 2, cap + 1));
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + stream.total_out);
    std::size_t room = out.size() - stream.total_out;
    if (!declared) room = std::min(room, limit.head_bytes - stream.total_out);
    stream.avail_out = static_cast<uInt>(std::min<std::size_t>(room, 1u << 30));
    status = inflate(&stream, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) {
      std::string reason = stream.msg ? stream.msg : "truncated or corrupt";
      give_up("cannot gunzip: corrupt gzip data (" + reason + ")");
    }
    if (stream.total_out > cap) {
      if (declared && limit.declared) break;  // the rest is past the declared data: not needed
      give_up("cannot gunzip: inflates to more than the ceiling of " + megabytes(limit.ceiling));
    }
    if (status == Z_OK && stream.avail_in == 0 && stream.avail_out != 0) give_up("cannot gunzip: truncated gzip data");
  }
  const std::size_t total = stream.total_out;
  inflateEnd(&stream);
  // Shorter than the head: all of it was seen, and what it declares still applies.
  if (!declared && limit.declared) {
    std::size_t size = limit.declared(std::string_view(out.data(), total), place);
    if (size > limit.ceiling)
      fail(place, "declares " + std::to_string(size) + " bytes, more than the ceiling of " + megabytes(limit.ceiling));
    cap = std::min(size, total);
  }
  out.resize(std::min<std::size_t>(total, cap));
  return out;
}

}  // namespace ebs
