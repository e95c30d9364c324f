#include "cachepack/hash.h"

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

namespace {

// OpenSSL 3 looks an algorithm up through locked provider tables on every
// implicit fetch (EVP_sha256() passed to EVP_Digest*), which serialised the
// hashing threads of the bundle writer. Fetch once, keep for the process.
const EVP_MD* sha256_md() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

}  // namespace

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
  ~State() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(state_->ctx, sha256_md(), nullptr);
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
  // One context per thread, reused: no allocation or lookup per call.
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  Sha256Digest digest{};
  unsigned int size = 0;
  EVP_DigestInit_ex(ctx.get(), sha256_md(), nullptr);
  EVP_DigestUpdate(ctx.get(), data.data(), data.size());
  EVP_DigestFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(digest.data()),
                     &size);
  return digest;
}

std::string sha256_hex(ByteSpan data) { return to_hex(sha256(data)); }

}  // namespace cachepack
