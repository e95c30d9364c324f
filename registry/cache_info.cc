#include "cachepack/cache_info.h"

namespace cachepack {

void CacheInfo::add(std::string_view type, std::string_view key) {
  for (auto& [name, keys] : types_) {
    if (name == type) {
      keys.emplace_back(key);
      return;
    }
  }
  types_.emplace_back(std::string(type),
                      std::vector<std::string>{std::string(key)});
}

std::vector<std::string> CacheInfo::keys(std::string_view type) const {
  for (const auto& [name, keys] : types_) {
    if (name == type) return keys;
  }
  return {};
}

size_t CacheInfo::count(std::string_view type) const {
  for (const auto& [name, keys] : types_) {
    if (name == type) return keys.size();
  }
  return 0;
}

size_t CacheInfo::total() const {
  size_t n = 0;
  for (const auto& [_, keys] : types_) n += keys.size();
  return n;
}

std::vector<std::string> CacheInfo::types() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : types_) out.push_back(name);
  return out;
}

}  // namespace cachepack
