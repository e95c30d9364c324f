#include "cachepack/bundle_signing.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cachepack/bundle_reader.h"
#include "serializer/bundle_file.h"
#include "util/file.h"

namespace cachepack::bundle {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

tl::unexpected<Error> bad_key(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, ErrorReason::kSignature,
                    std::move(message));
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

Result<std::string> read_text(const std::string& path) {
  CP_ASSIGN_OR_RETURN(auto bytes, read_file(path));
  return std::string(as_chars(bytes));
}

Result<void> write_new_file(const std::string& path, std::string_view text,
                            mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) {
      return make_error(ErrorCode::kAlreadyExists,
                        "refusing to overwrite existing key file",
                        ErrorLocation{.file = path});
    }
    return io_error("create", path, errno);
  }
  if (auto ok = write_all(fd, as_bytes(text), path); !ok) {
    ::close(fd);
    return ok;
  }
  if (::close(fd) != 0) return io_error("close", path, errno);
  return {};
}

}  // namespace

struct SigningKey::Impl {
  PkeyPtr key;
};

SigningKey::SigningKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;
SigningKey::~SigningKey() = default;

Result<SigningKey> SigningKey::generate() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (raw == nullptr) {
    return make_error(ErrorCode::kInternal, ErrorReason::kSignature,
                      "OpenSSL could not generate an Ed25519 key");
  }
  auto impl = std::make_unique<Impl>();
  impl->key.reset(raw);
  return SigningKey(std::move(impl));
}

Result<SigningKey> SigningKey::from_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return bad_key("not a PEM private key");
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return bad_key("private key is not Ed25519");
  }
  auto impl = std::make_unique<Impl>();
  impl->key = std::move(key);
  return SigningKey(std::move(impl));
}

Result<SigningKey> SigningKey::load_pem(const std::string& path) {
  CP_ASSIGN_OR_RETURN(auto text, read_text(path));
  return in_file(from_pem(text), path);
}

PublicKey SigningKey::public_key() const {
  PublicKey out{};
  size_t len = out.size();
  EVP_PKEY_get_raw_public_key(
      impl_->key.get(), reinterpret_cast<unsigned char*>(out.data()), &len);
  return out;
}

Result<Signature> SigningKey::sign(ByteSpan message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  Signature sig{};
  size_t len = sig.size();
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr,
                         impl_->key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()),
                     &len,
                     reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1 ||
      len != sig.size()) {
    return make_error(ErrorCode::kInternal, ErrorReason::kSignature,
                      "OpenSSL failed to sign");
  }
  return sig;
}

std::string SigningKey::private_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), impl_->key.get(), nullptr, nullptr, 0,
                           nullptr, nullptr);
  return bio_text(bio.get());
}

std::string SigningKey::public_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), impl_->key.get());
  return bio_text(bio.get());
}

Result<PublicKey> public_key_from_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    auto priv = SigningKey::from_pem(pem);
    if (!priv) return bad_key("not a PEM public or private key");
    return priv->public_key();
  }
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return bad_key("public key is not Ed25519");
  }
  PublicKey out{};
  size_t len = out.size();
  EVP_PKEY_get_raw_public_key(
      key.get(), reinterpret_cast<unsigned char*>(out.data()), &len);
  return out;
}

Result<PublicKey> load_public_key(const std::string& path) {
  CP_ASSIGN_OR_RETURN(auto text, read_text(path));
  return in_file(public_key_from_pem(text), path);
}

bool verify_signature(const PublicKey& key, ByteSpan message,
                      const Signature& signature) {
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(key.data()), key.size()));
  if (!pkey) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr,
                                   pkey.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(
             ctx.get(),
             reinterpret_cast<const unsigned char*>(signature.data()),
             signature.size(),
             reinterpret_cast<const unsigned char*>(message.data()),
             message.size()) == 1;
}

Result<PublicKey> write_key_pair(const std::string& path) {
  CP_ASSIGN_OR_RETURN(auto key, SigningKey::generate());
  std::string pub_path = path + ".pub";
  if (::access(pub_path.c_str(), F_OK) == 0) {
    return make_error(ErrorCode::kAlreadyExists,
                      "refusing to overwrite existing key file",
                      ErrorLocation{.file = pub_path});
  }
  CP_TRY(write_new_file(path, key.private_pem(), 0600));
  // A private key without its public half would refuse the next keygen.
  UnlinkUnlessKept private_file(path);
  CP_TRY(write_new_file(pub_path, key.public_pem(), 0644));
  private_file.keep();
  return key.public_key();
}

Result<void> sign_bundle(const std::string& path, const SigningKey& key,
                         bool fsync, bool discard_damaged_tail) {
  CP_ASSIGN_OR_RETURN(Fd fd, open_locked(path));
  Footer footer;
  uint64_t end = 0;
  Bytes signatures;
  PublicKey pub = key.public_key();
  {
    CP_ASSIGN_OR_RETURN(auto reader,
                        BundleReader::open(path, repairing_reader_options()));
    CP_TRY(check_tail(reader, path, discard_damaged_tail));
    CP_ASSIGN_OR_RETURN(auto mapped, MappedFile::open(path));
    ByteSpan data = mapped.bytes();
    auto message = signature_message(
        data.first(kHeaderSize),
        data.subspan(reader.footer().index_offset, reader.footer().index_size));
    for (const SignatureInfo& s : reader.signatures()) {
      if (!s.valid || s.public_key == pub) continue;
      append_bytes(signatures, s.public_key);
      append_bytes(signatures, s.signature);
    }
    CP_ASSIGN_OR_RETURN(auto sig, key.sign(message));
    append_bytes(signatures, pub);
    append_bytes(signatures, sig);
    footer = reader.footer();
    end = reader.footer_offset() + kFooterSize;
    footer.previous_footer_offset = reader.footer_offset();
  }
  footer.signatures_offset = end;
  footer.signature_count = signatures.size() / kSignatureRecordSize;
  auto sealed = seal_footer(footer, signatures, end + signatures.size());
  append_bytes(signatures, sealed);
  if (::ftruncate(fd.get(), static_cast<off_t>(end)) != 0) {
    return io_error("truncate", path, errno);
  }
  CP_TRY(pwrite_all(fd.get(), signatures, end, path));
  if (fsync && ::fsync(fd.get()) != 0) return io_error("fsync", path, errno);
  if (::close(fd.release()) != 0) return io_error("close", path, errno);
  return {};
}

}  // namespace cachepack::bundle
