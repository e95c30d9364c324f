// A byte buffer that only grows at its end, for blobs of up to gigabytes.
#ifndef CACHEPACK_UTIL_APPEND_BUFFER_H_
#define CACHEPACK_UTIL_APPEND_BUFFER_H_

#include <cstddef>

#include "cachepack/error.h"

namespace cachepack {

// Its memory is one anonymous mapping. Growing moves page tables (mremap)
// instead of copying the bytes so far, and a mapping of 2 MiB or more asks
// for transparent huge pages: filling 100 MB then takes about 50 page
// faults instead of 25,600, which were most of the Mega-Cache writer's time
// (BENCHMARKS.md, row 4).
class AppendBuffer {
 public:
  AppendBuffer() = default;
  ~AppendBuffer();
  AppendBuffer(const AppendBuffer&) = delete;
  AppendBuffer& operator=(const AppendBuffer&) = delete;

  // Makes room for n more bytes at the end and returns where they start;
  // size() grows by n and the caller fills them. Pointers from earlier
  // calls are invalid afterwards. kResourceExhausted when the system has no
  // memory for it; the buffer is unchanged then.
  Result<std::byte*> extend(size_t n);
  // Drops the bytes past `size` (at most size()); keeps the memory.
  void truncate(size_t size);

  std::byte* data() { return data_; }
  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  std::byte* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace cachepack

#endif  // CACHEPACK_UTIL_APPEND_BUFFER_H_
