// An in-process backend: a map guarded by one mutex, with an optional byte
// budget enforced by evicting the least recently used entries. Used as the
// fast first tier and as the reference implementation in tests.
#ifndef CACHEPACK_BACKENDS_MEMORY_BACKEND_H_
#define CACHEPACK_BACKENDS_MEMORY_BACKEND_H_

#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "backends/maintenance.h"
#include "cachepack/backend.h"
#include "cachepack/url.h"

namespace cachepack {

struct MemoryOptions {
  // Budget for namespace + key + value bytes of all entries; 0 = no limit.
  uint64_t max_bytes = 0;
};

class MemoryBackend final : public Backend, public Maintainable {
 public:
  // N is MemoryOptions::max_bytes; 0 or absent: no limit.
  static constexpr std::string_view kUrlForm = "mem://[?max_bytes=N]";

  explicit MemoryBackend(MemoryOptions options = {});
  // From a URL of kUrlForm.
  static Result<std::unique_ptr<Backend>> open_url(const BackendUrl& url);

  std::string url() const override;
  // One map under one mutex decides every insert-if-absent in order; a
  // byte budget evicts, and an evicted key could be decided again.
  bool strongly_consistent() const override { return options_.max_bytes == 0; }
  uint64_t bytes_used() const;
  uint64_t evictions() const;

  Result<std::vector<NamespaceUsage>> usage() override;
  Result<GcReport> gc(uint64_t max_bytes) override;

 protected:
  Result<std::optional<Bytes>> do_get(std::string_view ns, std::string_view key,
                                      Deadline deadline) override;
  // kResourceExhausted when the value alone exceeds the budget.
  Result<bool> do_put(std::string_view ns, std::string_view key, ByteSpan value,
                      PutMode mode, Deadline deadline) override;
  // Reads the source into the stored value itself: one copy, not two.
  Result<bool> do_put_stream(std::string_view ns, std::string_view key,
                             ContentSource& source, PutMode mode,
                             Deadline deadline) override;
  Result<bool> do_contains(std::string_view ns, std::string_view key,
                           Deadline deadline) override;
  Result<bool> do_remove(std::string_view ns, std::string_view key,
                         Deadline deadline) override;
  Result<std::vector<std::string>> do_list(std::string_view ns,
                                           Deadline deadline) override;
  Result<std::vector<std::string>> do_namespaces(Deadline deadline) override;

 private:
  struct Id {
    std::string ns, key;
  };
  struct Entry {
    Bytes value;
    std::list<Id>::iterator lru;  // Position in lru_; front = most recent.
  };
  using Keys = std::map<std::string, Entry, std::less<>>;

  static uint64_t charge(std::string_view ns, std::string_view key,
                         size_t value_size) {
    return ns.size() + key.size() + value_size;
  }
  // kResourceExhausted when one entry alone exceeds the budget.
  Result<void> check_budget(std::string_view ns, std::string_view key,
                            uint64_t size) const;
  Result<bool> store(std::string_view ns, std::string_view key, Bytes value,
                     PutMode mode);
  Entry* find(std::string_view ns, std::string_view key);
  void erase(std::string_view ns, std::string_view key);
  // Evicts from the LRU end until used_ <= limit. Caller holds mutex_.
  uint64_t evict_to(uint64_t limit);

  const MemoryOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, Keys, std::less<>> entries_;
  std::list<Id> lru_;
  uint64_t used_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace cachepack

#endif  // CACHEPACK_BACKENDS_MEMORY_BACKEND_H_
