#include "util/append_buffer.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace cachepack {
namespace {

constexpr size_t kSmallGranule = size_t{64} << 10;
constexpr size_t kHugePage = size_t{2} << 20;

size_t round_up(size_t n, size_t granule) {
  return (n + granule - 1) / granule * granule;
}

}  // namespace

AppendBuffer::~AppendBuffer() {
  if (data_ != nullptr) ::munmap(data_, capacity_);
}

Result<std::byte*> AppendBuffer::extend(size_t n) {
  if (n > capacity_ - size_) {
    if (n > SIZE_MAX / 2 - size_) {
      return make_error(ErrorCode::kResourceExhausted,
                        ErrorReason::kLimitExceeded,
                        "buffer of " + std::to_string(size_) +
                            " bytes cannot grow by " + std::to_string(n));
    }
    size_t wanted = std::max(size_ + n, 2 * capacity_);
    wanted = round_up(wanted, wanted >= kHugePage ? kHugePage : kSmallGranule);
    void* p = data_ == nullptr
                  ? ::mmap(nullptr, wanted, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                  : ::mremap(data_, capacity_, wanted, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) {
      int err = errno;
      return make_error(ErrorCode::kResourceExhausted,
                        ErrorReason::kLimitExceeded,
                        "no memory for a buffer of " + std::to_string(wanted) +
                            " bytes: " + std::strerror(err));
    }
    // Advice only: without transparent huge pages this is a no-op.
    if (wanted >= kHugePage) ::madvise(p, wanted, MADV_HUGEPAGE);
    data_ = static_cast<std::byte*>(p);
    capacity_ = wanted;
  }
  std::byte* at = data_ + size_;
  size_ += n;
  return at;
}

void AppendBuffer::truncate(size_t size) { size_ = std::min(size, size_); }

}  // namespace cachepack
