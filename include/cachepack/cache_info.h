// CacheInfo: which artifacts a save or load involved, as type -> keys in
// record order (PyTorch's torch.compiler._cache.CacheInfo).
#ifndef CACHEPACK_CACHE_INFO_H_
#define CACHEPACK_CACHE_INFO_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cachepack {

class CacheInfo {
 public:
  void add(std::string_view type, std::string_view key);

  // Keys of one type in record order (duplicates possible: the same key with
  // different content is two artifacts). Empty for an absent type; unlike
  // PyTorch's defaultdict, asking never creates the type.
  std::vector<std::string> keys(std::string_view type) const;
  size_t count(std::string_view type) const;
  size_t total() const;
  bool empty() const { return types_.empty(); }
  // Types in first-record order.
  std::vector<std::string> types() const;
  void clear() { types_.clear(); }

  friend bool operator==(const CacheInfo&, const CacheInfo&) = default;

 private:
  std::vector<std::pair<std::string, std::vector<std::string>>> types_;
};

}  // namespace cachepack

#endif  // CACHEPACK_CACHE_INFO_H_
