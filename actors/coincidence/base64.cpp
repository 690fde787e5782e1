#include "actors/coincidence/base64.h"

#include <openssl/evp.h>

#include <memory>

#include "engine/util/fault.h"

namespace ebs::coincidence {

namespace {

bool is_alphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}
bool is_blank(char c) { return c == '\n' || c == '\r' || c == ' ' || c == '\t'; }

}  // namespace

std::vector<std::uint8_t> decode_base64(std::string_view text, const std::string& place) {
  // OpenSSL treats '-' as an end-of-data marker and silently stops there; check the alphabet and
  // the padding ourselves so that a corrupt payload is never decoded as a shorter valid one.
  std::size_t symbols = 0, padding = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (is_blank(c)) continue;
    if (c == '=') {
      ++padding;
    } else if (!is_alphabet(c) || padding > 0) {
      fail(place, "invalid base64: unexpected character '" + std::string(1, c) + "' at offset " +
                      std::to_string(i));
    }
    ++symbols;
  }
  if (symbols % 4 != 0)
    fail(place, "invalid base64: " + std::to_string(symbols) +
                    " symbols, not a multiple of 4 (truncated?)");
  if (padding > 2) fail(place, "invalid base64: " + std::to_string(padding) + " padding characters");

  std::unique_ptr<EVP_ENCODE_CTX, decltype(&EVP_ENCODE_CTX_free)> ctx(EVP_ENCODE_CTX_new(),
                                                                       &EVP_ENCODE_CTX_free);
  if (!ctx) fail(place, "cannot allocate a base64 decoder");
  EVP_DecodeInit(ctx.get());
  std::vector<std::uint8_t> out(symbols / 4 * 3 + 3);
  std::size_t written = 0;
  // EVP_DecodeUpdate takes an int length: feed large payloads in chunks.
  constexpr std::size_t chunk = 1 << 24;
  for (std::size_t offset = 0; offset < text.size(); offset += chunk) {
    std::size_t n = std::min(chunk, text.size() - offset);
    int produced = 0;
    if (EVP_DecodeUpdate(ctx.get(), out.data() + written, &produced,
                         reinterpret_cast<const unsigned char*>(text.data() + offset),
                         static_cast<int>(n)) < 0)
      fail(place, "invalid base64 near offset " + std::to_string(offset));
    written += static_cast<std::size_t>(produced);
  }
  int produced = 0;
  if (EVP_DecodeFinal(ctx.get(), out.data() + written, &produced) < 0)
    fail(place, "invalid base64: incomplete final quantum");
  written += static_cast<std::size_t>(produced);
  out.resize(written);
  return out;
}

}  // namespace ebs::coincidence
