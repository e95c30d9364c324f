#include "backends/read_only_backend.h"

namespace cachepack {
namespace {

class ReadOnlyBackend : public Backend, public MultiValued {
 public:
  explicit ReadOnlyBackend(std::unique_ptr<Backend> inner)
      : inner_(std::move(inner)),
        multi_(dynamic_cast<MultiValued*>(inner_.get())) {}

  std::string url() const override { return inner_->url(); }

  bool multi_valued(std::string_view ns) const override {
    return multi_ != nullptr && multi_->multi_valued(ns);
  }
  Result<std::vector<Bytes>> get_all(std::string_view ns, std::string_view key,
                                     Deadline deadline) override {
    if (multi_ != nullptr) return multi_->get_all(ns, key, deadline);
    CP_ASSIGN_OR_RETURN(auto value, inner_->get(ns, key, deadline));
    std::vector<Bytes> out;
    if (value) out.push_back(std::move(*value));
    return out;
  }
  Result<bool> add_stream(std::string_view /*ns*/, std::string_view key,
                          ContentSource& /*value*/, PutMode /*mode*/,
                          Deadline /*deadline*/) override {
    return denied("add", key);
  }

 protected:
  tl::unexpected<Error> denied(std::string_view op,
                               std::string_view key) const {
    return backend_error(ErrorCode::kPermissionDenied, op,
                         "the backend was opened with readonly=1", key);
  }

  Result<std::optional<Bytes>> do_get(std::string_view ns, std::string_view key,
                                      Deadline deadline) override {
    return inner_->get(ns, key, deadline);
  }
  Result<bool> do_put(std::string_view /*ns*/, std::string_view key,
                      ByteSpan /*value*/, PutMode /*mode*/,
                      Deadline /*deadline*/) override {
    return denied("put", key);
  }
  Result<bool> do_put_stream(std::string_view /*ns*/, std::string_view key,
                             ContentSource& /*source*/, PutMode /*mode*/,
                             Deadline /*deadline*/) override {
    return denied("put", key);
  }
  Result<bool> do_contains(std::string_view ns, std::string_view key,
                           Deadline deadline) override {
    return inner_->contains(ns, key, deadline);
  }
  Result<bool> do_remove(std::string_view /*ns*/, std::string_view key,
                         Deadline /*deadline*/) override {
    return denied("remove", key);
  }
  Result<std::vector<std::string>> do_list(std::string_view ns,
                                           Deadline deadline) override {
    return inner_->list(ns, deadline);
  }
  Result<std::vector<std::string>> do_namespaces(Deadline deadline) override {
    return inner_->namespaces(deadline);
  }
  std::vector<Result<std::optional<Bytes>>> do_get_many(
      std::span<const KeyRef> keys, Deadline deadline) override {
    return inner_->get_many(keys, deadline);
  }
  std::vector<Result<bool>> do_put_many(std::span<const PutRequest> requests,
                                        PutMode /*mode*/,
                                        Deadline /*deadline*/) override {
    std::vector<Result<bool>> out;
    out.reserve(requests.size());
    for (const auto& r : requests) out.push_back(denied("put", r.key));
    return out;
  }

  std::unique_ptr<Backend> inner_;
  MultiValued* multi_;
};

class ReadOnlyMaintainable final : public ReadOnlyBackend, public Maintainable {
 public:
  ReadOnlyMaintainable(std::unique_ptr<Backend> inner, Maintainable& m)
      : ReadOnlyBackend(std::move(inner)), maintainable_(m) {}

  Result<std::vector<NamespaceUsage>> usage() override {
    return maintainable_.usage();
  }
  Result<GcReport> gc(uint64_t /*max_bytes*/) override {
    return denied("gc", "");
  }

 private:
  Maintainable& maintainable_;
};

}  // namespace

std::unique_ptr<Backend> make_read_only(std::unique_ptr<Backend> inner) {
  if (auto* m = dynamic_cast<Maintainable*>(inner.get())) {
    return std::make_unique<ReadOnlyMaintainable>(std::move(inner), *m);
  }
  return std::make_unique<ReadOnlyBackend>(std::move(inner));
}

}  // namespace cachepack
