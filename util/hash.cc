#include "util/hash.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <limits>

namespace cachepack {

uint32_t crc32(ByteSpan data, uint32_t crc) {
  // zlib takes uInt lengths: feed spans larger than 4 GiB in slices.
  constexpr size_t kSlice = std::numeric_limits<uInt>::max();
  const auto* p = reinterpret_cast<const Bytef*>(data.data());
  size_t left = data.size();
  uLong value = crc;
  while (left > 0) {
    size_t n = left < kSlice ? left : kSlice;
    value = ::crc32(value, p, static_cast<uInt>(n));
    p += n;
    left -= n;
  }
  return static_cast<uint32_t>(value);
}

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
  ~State() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr);
}

Sha256::~Sha256() = default;

void Sha256::update(ByteSpan data) {
  EVP_DigestUpdate(state_->ctx, data.data(), data.size());
}

Sha256Digest Sha256::finish() {
  Sha256Digest digest{};
  unsigned int size = 0;
  EVP_DigestFinal_ex(state_->ctx,
                     reinterpret_cast<unsigned char*>(digest.data()), &size);
  return digest;
}

Sha256Digest sha256(ByteSpan data) {
  Sha256Digest digest{};
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(),
             reinterpret_cast<unsigned char*>(digest.data()), &size,
             EVP_sha256(), nullptr);
  return digest;
}

std::string sha256_hex(ByteSpan data) { return to_hex(sha256(data)); }

}  // namespace cachepack
