// The one error type of cachepack, returned as a value through Result<T>.
// `code` says what the caller should do next (retry, fix input, register a
// type...); `reason` says precisely what went wrong; `where` says at which
// file, byte offset and key, so a corrupt blob can be found with a hex editor.
#ifndef CACHEPACK_ERROR_H_
#define CACHEPACK_ERROR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

// Every Result must be looked at: an ignored one is an unchecked error.
// Result is an alias of tl::expected, which Debian's libexpected-dev 1.0
// does not mark [[nodiscard]], and an alias cannot carry the attribute. A
// redeclaration can ([dcl.attr.nodiscard]), but only before the definition,
// so this header must be the one that includes <tl/expected.hpp>.
#ifdef TL_EXPECTED_HPP
#error \
    "include cachepack/error.h, not <tl/expected.hpp>, so Result is nodiscard"
#endif
namespace tl {
template <class T, class E>
class [[nodiscard]] expected;
}  // namespace tl
#include <tl/expected.hpp>

namespace cachepack {

// Coarse categories, chosen by what the caller does next (after absl's
// canonical codes).
enum class ErrorCode {
  kInvalidArgument,    // The caller passed something wrong: fix the call.
  kNotFound,           // A named thing (file, type) does not exist.
  kAlreadyExists,      // Creating something that exists (e.g. a type name).
  kDataLoss,           // Input bytes are corrupt or not what they claim.
  kUnimplemented,      // Valid but unsupported (version, unknown type).
  kPermissionDenied,   // Untrusted or missing signature, access refused.
  kResourceExhausted,  // A configured limit was hit.
  kUnavailable,        // A server or resource is down: retry later.
  kDeadlineExceeded,   // A timeout expired.
  kIoError,            // The local system failed (disk full, EIO...).
  kInternal,           // A bug in cachepack.
};

// Precise reasons. Later format or backend errors add values here.
enum class ErrorReason {
  kUnspecified,
  kTooShort,            // Input ends before a fixed-size field.
  kChecksumMismatch,    // Stored checksum differs from the computed one.
  kUnsupportedVersion,  // Format version this reader does not know.
  kUnknownType,         // Artifact type name not registered.
  kInvalidUtf8,         // A string field is not valid UTF-8.
  kInvalidBase64,       // A string field is not valid base64.
  kLengthOverrun,       // A length or count exceeds the bytes left.
  kTrailingBytes,       // Bytes after the last complete record.
  kInvalidKey,          // A key breaks its type's rules.
  kInvalidContent,      // Content breaks its type's rules.
  kBadMagic,            // Not a file of the expected format.
  kLimitExceeded,       // A configured size/count limit.
  kSignature,           // Signature missing, malformed or not trusted.
  kBadFooter,           // A bundle's footer is missing or malformed.
  kBadIndex,            // A bundle's index is malformed or inconsistent.
  kDecompression,       // Stored bytes do not decompress to what they claim.
  kUnsafePath,   // A link, FIFO or device inside a cache root where a file or
                 // directory belongs: never followed or opened.
  kBrokenPipe,   // The reader of a pipe or socket has gone (EPIPE).
  kInvalidJson,  // Text that should be JSON of a given shape is not.
  kEnvironmentMismatch,  // A bundle's recorded environment differs from the
                         // target's where PyTorch's cache keys differ.
  kConflict,  // One key holds different contents in two inputs (merge).
  kUnsupportedPickle,  // A Python value or pickle opcode outside the kinds
                       // cachepack's pickle codec reads and writes.
  // The runtime caches (docs/RUNTIME.md), one per exception class of
  // torch/_inductor/runtime/caching/exceptions.py:
  kLockTimeout,      // LockTimeoutError: a thread lock not taken in time.
  kFileLockTimeout,  // FileLockTimeoutError: a lock file not taken in time.
  kKeyEncoding,      // KeyEncodingError: a cache key cannot be pickled.
  kValueEncoding,    // ValueEncodingError: a cache value cannot be pickled.
  kValueDecoding,    // ValueDecodingError: a stored value does not unpickle.
  // Generation A of the runtime caches (fcache/dcache/icache, older torch;
  // docs/RUNTIME.md), one per exception class:
  kKeyPickling,      // KeyPicklingError: a key the memo caches cannot pickle.
  kValuePickling,    // ValuePicklingError: a value they cannot pickle.
  kValueUnPickling,  // ValueUnPicklingError: a stored value that does not
                     // unpickle.
  kCustomParamsEncoderRequired,   // CustomParamsEncoderRequiredError.
  kCustomResultEncoderRequired,   // CustomResultEncoderRequiredError.
  kCustomResultDecoderRequired,   // CustomResultDecoderRequiredError.
  kDeterministicCachingDisabled,  // DeterministicCachingDisabledError.
  kDeterministicCachingRequiresStrongConsistency,  // DeterministicCachingRequiresStrongConsistencyError.
  kStrictDeterministicCachingKeyNotFound,  // StrictDeterministicCachingKeyNotFoundError.
  kDeterministicCachingInvalidConfiguration,  // DeterministicCachingInvalidConfigurationError.
  kStrictDeterministicCachingInsertion,  // StrictDeterministicCachingInsertionError.
  kDeterministicCachingIMCDumpConflict,  // DeterministicCachingIMCDumpConflictError.
  kCacheMiss,  // A memoizer's replay found no entry (torch's KeyError).
};

struct ErrorLocation {
  std::string file;                // Empty when the input is not a file.
  std::string url;                 // The backend's URL, when a backend failed.
  std::optional<uint64_t> offset;  // Byte offset in the input.
  std::optional<std::string> key;  // Artifact key, if one is involved.
};

class Error {
 public:
  Error(ErrorCode code, ErrorReason reason, std::string message,
        ErrorLocation where = {})
      : code_(code),
        reason_(reason),
        message_(std::move(message)),
        where_(std::move(where)) {}

  ErrorCode code() const { return code_; }
  ErrorReason reason() const { return reason_; }
  const std::string& message() const { return message_; }
  const ErrorLocation& where() const { return where_; }

  // Adds context discovered by an outer layer (e.g. the file name that the
  // parser, which saw only bytes, did not know).
  Error& in_file(std::string file) & {
    where_.file = std::move(file);
    return *this;
  }
  Error&& in_file(std::string file) && {
    where_.file = std::move(file);
    return std::move(*this);
  }
  Error&& at_offset(uint64_t offset) && {
    where_.offset = offset;
    return std::move(*this);
  }
  Error&& with_key(std::string key) && {
    where_.key = std::move(key);
    return std::move(*this);
  }

  // "data loss (checksum mismatch): <message> [file F, offset N, key K]";
  // a backend error names its URL instead: "[url redis://host:6379, key K]".
  // A key longer than kPrintedKeyBytes is cut there (at a UTF-8 boundary)
  // and followed by its length: `key "f3ab..." (10000 bytes)`; where().key
  // keeps it whole.
  std::string to_string() const;
  static constexpr size_t kPrintedKeyBytes = 200;

 private:
  ErrorCode code_;
  ErrorReason reason_;
  std::string message_;
  ErrorLocation where_;
};

std::string_view to_string(ErrorCode code);
std::string_view to_string(ErrorReason reason);

// Stable snake_case names ("data_loss", "checksum_mismatch"): what JSON
// output and the Python package's exceptions call the codes and reasons.
std::string_view identifier(ErrorCode code);
std::string_view identifier(ErrorReason reason);

template <typename T>
using Result = tl::expected<T, Error>;

// Add where a failure happened as it propagates, so the location is part of
// the propagating expression rather than a hand-written error branch:
//   CP_ASSIGN_OR_RETURN(auto key, in_file(SigningKey::from_pem(text), path));
template <typename T>
Result<T> in_file(Result<T>&& result, std::string file) {
  if (!result) return tl::unexpected(std::move(result.error()).in_file(file));
  return std::move(result);
}
template <typename T>
Result<T> with_key(Result<T>&& result, std::string key) {
  if (!result) return tl::unexpected(std::move(result.error()).with_key(key));
  return std::move(result);
}
template <typename T>
Result<T> at_offset(Result<T>&& result, uint64_t offset) {
  if (!result) {
    return tl::unexpected(std::move(result.error()).at_offset(offset));
  }
  return std::move(result);
}

// Shorthand for returning an error from a function returning Result<T>.
inline tl::unexpected<Error> make_error(ErrorCode code, ErrorReason reason,
                                        std::string message,
                                        ErrorLocation where = {}) {
  return tl::unexpected<Error>(
      Error(code, reason, std::move(message), std::move(where)));
}

inline tl::unexpected<Error> make_error(ErrorCode code, std::string message,
                                        ErrorLocation where = {}) {
  return make_error(code, ErrorReason::kUnspecified, std::move(message),
                    std::move(where));
}

// Corrupt input at a byte offset: the most common error of the codecs.
inline tl::unexpected<Error> data_loss(ErrorReason reason, uint64_t offset,
                                       std::string message) {
  return make_error(ErrorCode::kDataLoss, reason, std::move(message),
                    ErrorLocation{.offset = offset});
}

}  // namespace cachepack

// Propagation, after ccache's TRY and abseil's ASSIGN_OR_RETURN. Both work
// in any function returning a Result<U>, and return the error unchanged.
//
//   CP_TRY(writer.flush());  // Result<void> or Result<T>, value dropped
//   CP_ASSIGN_OR_RETURN(auto reader, BundleReader::open(path));
#define CP_TRY(...)                                               \
  do {                                                            \
    auto&& cp_try_result_ = (__VA_ARGS__);                        \
    if (!cp_try_result_) {                                        \
      return ::tl::unexpected(std::move(cp_try_result_).error()); \
    }                                                             \
  } while (false)

#define CP_ASSIGN_OR_RETURN(lhs, ...)                                 \
  CP_ASSIGN_OR_RETURN_IMPL_(CP_CONCAT_(cp_result_, __COUNTER__), lhs, \
                            __VA_ARGS__)

#define CP_CONCAT_INNER_(a, b) a##b
#define CP_CONCAT_(a, b) CP_CONCAT_INNER_(a, b)
#define CP_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, ...)             \
  auto tmp = (__VA_ARGS__);                                  \
  if (!tmp) return ::tl::unexpected(std::move(tmp).error()); \
  lhs = std::move(*tmp)

#endif  // CACHEPACK_ERROR_H_
