#include "cachepack/error.h"

#include <string>

#include "util/text.h"

namespace cachepack {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kAlreadyExists:
      return "already exists";
    case ErrorCode::kDataLoss:
      return "data loss";
    case ErrorCode::kUnimplemented:
      return "unsupported";
    case ErrorCode::kPermissionDenied:
      return "permission denied";
    case ErrorCode::kResourceExhausted:
      return "resource exhausted";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kDeadlineExceeded:
      return "deadline exceeded";
    case ErrorCode::kIoError:
      return "I/O error";
    case ErrorCode::kInternal:
      return "internal error";
  }
  return "unknown error";
}

std::string_view to_string(ErrorReason reason) {
  switch (reason) {
    case ErrorReason::kUnspecified:
      return "";
    case ErrorReason::kTooShort:
      return "too short";
    case ErrorReason::kChecksumMismatch:
      return "checksum mismatch";
    case ErrorReason::kUnsupportedVersion:
      return "unsupported version";
    case ErrorReason::kUnknownType:
      return "unknown type";
    case ErrorReason::kInvalidUtf8:
      return "invalid UTF-8";
    case ErrorReason::kInvalidBase64:
      return "invalid base64";
    case ErrorReason::kLengthOverrun:
      return "length overrun";
    case ErrorReason::kTrailingBytes:
      return "trailing bytes";
    case ErrorReason::kInvalidKey:
      return "invalid key";
    case ErrorReason::kInvalidContent:
      return "invalid content";
    case ErrorReason::kBadMagic:
      return "bad magic";
    case ErrorReason::kLimitExceeded:
      return "limit exceeded";
    case ErrorReason::kSignature:
      return "signature";
    case ErrorReason::kBadFooter:
      return "bad footer";
    case ErrorReason::kBadIndex:
      return "bad index";
    case ErrorReason::kDecompression:
      return "decompression";
    case ErrorReason::kUnsafePath:
      return "unsafe path";
    case ErrorReason::kBrokenPipe:
      return "broken pipe";
    case ErrorReason::kInvalidJson:
      return "invalid JSON";
    case ErrorReason::kEnvironmentMismatch:
      return "environment mismatch";
    case ErrorReason::kConflict:
      return "conflict";
    case ErrorReason::kUnsupportedPickle:
      return "unsupported pickle";
    case ErrorReason::kLockTimeout:
      return "lock timeout";
    case ErrorReason::kFileLockTimeout:
      return "file lock timeout";
    case ErrorReason::kKeyEncoding:
      return "key encoding";
    case ErrorReason::kValueEncoding:
      return "value encoding";
    case ErrorReason::kValueDecoding:
      return "value decoding";
    case ErrorReason::kKeyPickling:
      return "key pickling";
    case ErrorReason::kValuePickling:
      return "value pickling";
    case ErrorReason::kValueUnPickling:
      return "value unpickling";
    case ErrorReason::kCustomParamsEncoderRequired:
      return "custom params encoder required";
    case ErrorReason::kCustomResultEncoderRequired:
      return "custom result encoder required";
    case ErrorReason::kCustomResultDecoderRequired:
      return "custom result decoder required";
    case ErrorReason::kDeterministicCachingDisabled:
      return "deterministic caching disabled";
    case ErrorReason::kDeterministicCachingRequiresStrongConsistency:
      return "deterministic caching requires strong consistency";
    case ErrorReason::kStrictDeterministicCachingKeyNotFound:
      return "strict deterministic caching key not found";
    case ErrorReason::kDeterministicCachingInvalidConfiguration:
      return "deterministic caching invalid configuration";
    case ErrorReason::kStrictDeterministicCachingInsertion:
      return "strict deterministic caching insertion";
    case ErrorReason::kDeterministicCachingIMCDumpConflict:
      return "deterministic caching IMC dump conflict";
    case ErrorReason::kCacheMiss:
      return "cache miss";
  }
  return "";
}

std::string_view identifier(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kAlreadyExists:
      return "already_exists";
    case ErrorCode::kDataLoss:
      return "data_loss";
    case ErrorCode::kUnimplemented:
      return "unimplemented";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kResourceExhausted:
      return "resource_exhausted";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kDeadlineExceeded:
      return "deadline_exceeded";
    case ErrorCode::kIoError:
      return "io_error";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

std::string_view identifier(ErrorReason reason) {
  switch (reason) {
    case ErrorReason::kUnspecified:
      return "unspecified";
    case ErrorReason::kTooShort:
      return "too_short";
    case ErrorReason::kChecksumMismatch:
      return "checksum_mismatch";
    case ErrorReason::kUnsupportedVersion:
      return "unsupported_version";
    case ErrorReason::kUnknownType:
      return "unknown_type";
    case ErrorReason::kInvalidUtf8:
      return "invalid_utf8";
    case ErrorReason::kInvalidBase64:
      return "invalid_base64";
    case ErrorReason::kLengthOverrun:
      return "length_overrun";
    case ErrorReason::kTrailingBytes:
      return "trailing_bytes";
    case ErrorReason::kInvalidKey:
      return "invalid_key";
    case ErrorReason::kInvalidContent:
      return "invalid_content";
    case ErrorReason::kBadMagic:
      return "bad_magic";
    case ErrorReason::kLimitExceeded:
      return "limit_exceeded";
    case ErrorReason::kSignature:
      return "signature";
    case ErrorReason::kBadFooter:
      return "bad_footer";
    case ErrorReason::kBadIndex:
      return "bad_index";
    case ErrorReason::kDecompression:
      return "decompression";
    case ErrorReason::kUnsafePath:
      return "unsafe_path";
    case ErrorReason::kBrokenPipe:
      return "broken_pipe";
    case ErrorReason::kInvalidJson:
      return "invalid_json";
    case ErrorReason::kEnvironmentMismatch:
      return "environment_mismatch";
    case ErrorReason::kConflict:
      return "conflict";
    case ErrorReason::kUnsupportedPickle:
      return "unsupported_pickle";
    case ErrorReason::kLockTimeout:
      return "lock_timeout";
    case ErrorReason::kFileLockTimeout:
      return "file_lock_timeout";
    case ErrorReason::kKeyEncoding:
      return "key_encoding";
    case ErrorReason::kValueEncoding:
      return "value_encoding";
    case ErrorReason::kValueDecoding:
      return "value_decoding";
    case ErrorReason::kKeyPickling:
      return "key_pickling";
    case ErrorReason::kValuePickling:
      return "value_pickling";
    case ErrorReason::kValueUnPickling:
      return "value_unpickling";
    case ErrorReason::kCustomParamsEncoderRequired:
      return "custom_params_encoder_required";
    case ErrorReason::kCustomResultEncoderRequired:
      return "custom_result_encoder_required";
    case ErrorReason::kCustomResultDecoderRequired:
      return "custom_result_decoder_required";
    case ErrorReason::kDeterministicCachingDisabled:
      return "deterministic_caching_disabled";
    case ErrorReason::kDeterministicCachingRequiresStrongConsistency:
      return "deterministic_caching_requires_strong_consistency";
    case ErrorReason::kStrictDeterministicCachingKeyNotFound:
      return "strict_deterministic_caching_key_not_found";
    case ErrorReason::kDeterministicCachingInvalidConfiguration:
      return "deterministic_caching_invalid_configuration";
    case ErrorReason::kStrictDeterministicCachingInsertion:
      return "strict_deterministic_caching_insertion";
    case ErrorReason::kDeterministicCachingIMCDumpConflict:
      return "deterministic_caching_imc_dump_conflict";
    case ErrorReason::kCacheMiss:
      return "cache_miss";
  }
  return "unspecified";
}

namespace {

// A key as an error prints it: escaped, and cut short if it is long (keys
// are opaque bytes and may be megabytes).
std::string printed_key(std::string_view key) {
  if (key.size() <= Error::kPrintedKeyBytes) {
    return "\"" + printable(key) + "\"";
  }
  size_t n = Error::kPrintedKeyBytes;
  while (n > 0 && (static_cast<unsigned char>(key[n]) & 0xC0) == 0x80) --n;
  return "\"" + printable(key.substr(0, n)) + "...\" (" +
         std::to_string(key.size()) + " bytes)";
}

}  // namespace

std::string Error::to_string() const {
  std::string out(cachepack::to_string(code_));
  std::string_view reason = cachepack::to_string(reason_);
  if (!reason.empty()) {
    out += " (";
    out += reason;
    out += ")";
  }
  out += ": ";
  out += message_;
  std::string where;
  auto add = [&where](std::string part) {
    where += where.empty() ? "" : ", ";
    where += part;
  };
  if (!where_.file.empty()) add("file " + where_.file);
  if (!where_.url.empty()) add("url " + where_.url);
  if (where_.offset) add("offset " + std::to_string(*where_.offset));
  if (where_.key) add("key " + printed_key(*where_.key));
  if (!where.empty()) out += " [" + where + "]";
  return out;
}

}  // namespace cachepack
