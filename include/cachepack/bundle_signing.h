// Ed25519 keys and signatures for cachepack bundles, through OpenSSL 3, and
// sign_bundle(), which signs a bundle file in place. Private keys live in PEM
// files (PKCS#8); public keys in PEM files (SubjectPublicKeyInfo) or as 32
// raw bytes inside a bundle.
#ifndef CACHEPACK_BUNDLE_SIGNING_H_
#define CACHEPACK_BUNDLE_SIGNING_H_

#include <array>
#include <memory>
#include <string>

#include "cachepack/bundle_format.h"
#include "cachepack/bytes.h"
#include "cachepack/error.h"

namespace cachepack::bundle {

using PublicKey = std::array<std::byte, kPublicKeySize>;
using Signature = std::array<std::byte, kSignatureSize>;

// An Ed25519 private key. Move-only; the OpenSSL key is freed with it.
class SigningKey {
 public:
  static Result<SigningKey> generate();
  // kNotFound / kIoError for the file, kInvalidArgument if it is not an
  // Ed25519 private key in PEM.
  static Result<SigningKey> load_pem(const std::string& path);
  static Result<SigningKey> from_pem(std::string_view pem);

  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  ~SigningKey();

  PublicKey public_key() const;
  Result<Signature> sign(ByteSpan message) const;
  std::string private_pem() const;
  std::string public_pem() const;

 private:
  struct Impl;
  explicit SigningKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads a public key from a PEM file (or the private key's PEM, whose public
// half is taken).
Result<PublicKey> load_public_key(const std::string& path);
Result<PublicKey> public_key_from_pem(std::string_view pem);

bool verify_signature(const PublicKey& key, ByteSpan message,
                      const Signature& signature);

// Writes the private key to `path` (mode 0600) and the public key to
// `path + ".pub"`. kAlreadyExists if either exists.
Result<PublicKey> write_key_pair(const std::string& path);

// Adds a signature by `key` to an existing bundle without rewriting it: a
// new signature block (the old signatures plus this one) and a new footer
// are appended, so an interrupted sign leaves the bundle as it was. A
// damaged newest footer is handled as in WriterOptions::discard_damaged_tail.
Result<void> sign_bundle(const std::string& path, const SigningKey& key,
                         bool fsync = false, bool discard_damaged_tail = false);

}  // namespace cachepack::bundle

#endif  // CACHEPACK_BUNDLE_SIGNING_H_
