// diff_contents() and merge() (cachepack/diff.h, cachepack/merge.h): what
// differs between two caches, and one cache from several, with conflicts
// settled by policy.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cachepack/artifact_source.h"
#include "cachepack/diff.h"
#include "cachepack/merge.h"
#include "cachepack/pack.h"
#include "tests/testing/result_matchers.h"

namespace cachepack {
namespace {

using ::testing::ElementsAre;
using testing::HasError;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::IsOk;

ByteSpan bytes_of(const std::string& text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

// Artifacts over strings that the test keeps alive.
struct Cache {
  explicit Cache(std::vector<std::vector<std::string>> rows)
      : rows_(std::move(rows)) {
    for (const auto& r : rows_) views_.push_back({r[0], r[1], bytes_of(r[2])});
    source_ = std::make_unique<ViewArtifactSource>(views_);
  }
  const ArtifactSource& source() const { return *source_; }
  ContentDigests digests() const {
    auto d = digest_contents(PackSource{.artifacts = source_.get()});
    EXPECT_THAT(d, IsOk());
    return d ? *d : ContentDigests{};
  }

 private:
  std::vector<std::vector<std::string>> rows_;
  std::vector<ArtifactView> views_;
  std::unique_ptr<ViewArtifactSource> source_;
};

// Records what merge() hands on, as "type key content".
class RecordingSink final : public PackSink {
 public:
  Result<void> begin_group(std::string_view) override { return {}; }
  Result<void> add(std::string_view type, std::string_view key,
                   ContentSource& content) override {
    CP_ASSIGN_OR_RETURN(auto bytes, read_all(content, "test"));
    added.push_back(
        std::string(type) + " " + std::string(key) + " " +
        std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    return {};
  }
  std::vector<std::string> added;
};

TEST(DiffContents, EqualCachesHaveNoDifferences) {
  Cache a({{"inductor", "k1", "x"}, {"pgo", "p", "y"}});
  Cache b({{"pgo", "p", "y"}, {"inductor", "k1", "x"}});
  EXPECT_THAT(diff_contents(a.digests(), b.digests()), IsEmpty());
}

TEST(DiffContents, ReportsKeysOnlyInEachSideAndChangedContentPerType) {
  Cache a({{"inductor", "same", "s"},
           {"inductor", "changed", "1"},
           {"inductor", "gone", "g"},
           {"autotune", "t", "a"}});
  Cache b({{"inductor", "same", "s"},
           {"inductor", "changed", "2"},
           {"inductor", "new", "n"}});
  auto d = diff_contents(a.digests(), b.digests());
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].type, "autotune");
  EXPECT_THAT(d[0].only_in_a, ElementsAre("t"));
  EXPECT_EQ(d[1].type, "inductor");
  EXPECT_THAT(d[1].only_in_a, ElementsAre("gone"));
  EXPECT_THAT(d[1].only_in_b, ElementsAre("new"));
  EXPECT_THAT(d[1].changed, ElementsAre("changed"));
}

TEST(DiffContents, ComparesAKeyHoldingSeveralContentsAsTheirSet) {
  Cache a({{"inductor", "k", "1"}, {"inductor", "k", "2"}});
  Cache b({{"inductor", "k", "2"}, {"inductor", "k", "1"}});
  Cache c({{"inductor", "k", "1"}});
  EXPECT_THAT(diff_contents(a.digests(), b.digests()), IsEmpty());
  auto d = diff_contents(a.digests(), c.digests());
  ASSERT_EQ(d.size(), 1u);
  EXPECT_THAT(d[0].changed, ElementsAre("k"));
}

TEST(Merge, RefusesAConflictNamingTypeKeyAndBothInputsBeforeWriting) {
  Cache a({{"inductor", "ok", "o"}, {"inductor", "k", "1"}});
  Cache b({{"inductor", "k", "2"}});
  std::vector<MergeInput> inputs = {{"a.cpk", &a.source()},
                                    {"b.bin", &b.source()}};
  RecordingSink sink;
  auto merged = merge(inputs, ConflictPolicy::kError, sink);
  ASSERT_THAT(merged,
              HasError(ErrorCode::kInvalidArgument, ErrorReason::kConflict));
  EXPECT_EQ(merged.error().where().key, "k");
  EXPECT_THAT(merged.error().message(), HasSubstr("inductor"));
  EXPECT_THAT(merged.error().message(), HasSubstr("a.cpk"));
  EXPECT_THAT(merged.error().message(), HasSubstr("b.bin"));
  EXPECT_THAT(sink.added, IsEmpty());
}

TEST(Merge, FirstKeepsTheFirstHoldersContents) {
  Cache a({{"inductor", "k", "1"}});
  Cache b({{"inductor", "k", "2"}, {"pgo", "p", "y"}});
  std::vector<MergeInput> inputs = {{"a", &a.source()}, {"b", &b.source()}};
  RecordingSink sink;
  auto merged = merge(inputs, ConflictPolicy::kFirst, sink);
  ASSERT_THAT(merged, IsOk());
  EXPECT_THAT(sink.added, ElementsAre("inductor k 1", "pgo p y"));
  EXPECT_EQ(merged->conflicts, 1u);
  EXPECT_EQ(merged->dropped, 1u);
}

TEST(Merge, LastKeepsTheLastHoldersContents) {
  Cache a({{"inductor", "k", "1"}});
  Cache b({{"inductor", "k", "2"}});
  Cache c({{"inductor", "k", "3"}});
  std::vector<MergeInput> inputs = {
      {"a", &a.source()}, {"b", &b.source()}, {"c", &c.source()}};
  RecordingSink sink;
  auto merged = merge(inputs, ConflictPolicy::kLast, sink);
  ASSERT_THAT(merged, IsOk());
  EXPECT_THAT(sink.added, ElementsAre("inductor k 3"));
  EXPECT_EQ(merged->conflicts, 2u);
  EXPECT_EQ(merged->dropped, 2u);
}

TEST(Merge, IdenticalArtifactsAreKeptOnceAndAreNoConflict) {
  Cache a({{"inductor", "k", "1"}, {"pgo", "p", "y"}});
  Cache b({{"inductor", "k", "1"}, {"autotune", "t", "z"}});
  std::vector<MergeInput> inputs = {{"a", &a.source()}, {"b", &b.source()}};
  RecordingSink sink;
  auto merged = merge(inputs, ConflictPolicy::kError, sink);
  ASSERT_THAT(merged, IsOk());
  EXPECT_THAT(sink.added,
              ElementsAre("inductor k 1", "pgo p y", "autotune t z"));
  EXPECT_EQ(merged->packed.duplicates, 1u);
  EXPECT_EQ(merged->conflicts, 0u);
}

TEST(Merge, SeveralContentsUnderOneKeyInOneInputAreNotAConflict) {
  Cache a({{"inductor", "k", "1"}, {"inductor", "k", "2"}});
  std::vector<MergeInput> inputs = {{"a", &a.source()}};
  RecordingSink sink;
  auto merged = merge(inputs, ConflictPolicy::kError, sink);
  ASSERT_THAT(merged, IsOk());
  EXPECT_THAT(sink.added, ElementsAre("inductor k 1", "inductor k 2"));
}

TEST(ConflictPolicy, ParsesTheCliNamesOnly) {
  EXPECT_EQ(parse_conflict_policy("error"), ConflictPolicy::kError);
  EXPECT_EQ(parse_conflict_policy("first"), ConflictPolicy::kFirst);
  EXPECT_EQ(parse_conflict_policy("last"), ConflictPolicy::kLast);
  EXPECT_EQ(parse_conflict_policy("newest"), std::nullopt);
}

}  // namespace
}  // namespace cachepack
