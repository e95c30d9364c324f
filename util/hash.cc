#include "cachepack/hash.h"

#include <isa-l/crc.h>
#include <openssl/evp.h>

#include <limits>

namespace cachepack {

uint32_t crc32(ByteSpan data, uint32_t crc) {
  // ISA-L's CRC-32 is zlib's (gzip's reflected polynomial, same chaining),
  // computed with carry-less multiplication: about 3x zlib's speed here,
  // and the Mega-Cache format makes every read and write hash the whole
  // blob (BENCHMARKS.md, row 4).
  return crc32_gzip_refl(
      crc, reinterpret_cast<const unsigned char*>(data.data()), data.size());
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
