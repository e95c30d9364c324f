// How an Error prints: code, reason, message, then where (file, offset,
// key), with long keys cut short in print but kept whole in the location.
#include "util/error.h"

#include <gtest/gtest.h>

namespace cachepack {
namespace {

TEST(Error, PrintsCodeReasonMessageAndWhere) {
  Error e(ErrorCode::kDataLoss, ErrorReason::kChecksumMismatch, "bad",
          ErrorLocation{.file = "f.cpk", .offset = 7, .key = "k\n"});
  EXPECT_EQ(e.to_string(),
            "data loss (checksum mismatch): bad [file f.cpk, offset 7, key "
            "\"k\\x0a\"]");
}

TEST(Error, PrintsAKeyOfUpTo200BytesWhole) {
  std::string key(200, 'k');
  Error e(ErrorCode::kNotFound, ErrorReason::kUnspecified, "absent",
          ErrorLocation{.key = key});
  EXPECT_EQ(e.to_string(), "not found: absent [key \"" + key + "\"]");
}

TEST(Error, CutsALongKeyInPrintButKeepsItWholeInTheLocation) {
  std::string key = "f" + std::string(9999, 'a');
  Error e(ErrorCode::kNotFound, ErrorReason::kUnspecified, "absent",
          ErrorLocation{.file = "b.cpk", .key = key});
  std::string printed = e.to_string();
  EXPECT_EQ(printed, "not found: absent [file b.cpk, key \"" +
                         key.substr(0, 200) + "...\" (10000 bytes)]");
  EXPECT_EQ(e.where().key, key);
}

TEST(Error, CutsALongKeyAtAUtf8Boundary) {
  // "é" is 2 bytes: byte 200 would split the 100th one.
  std::string key;
  for (int i = 0; i < 300; ++i) key += "\xc3\xa9";
  key = "x" + key;  // Now byte 200 is the second byte of an "é".
  Error e(ErrorCode::kNotFound, ErrorReason::kUnspecified, "absent",
          ErrorLocation{.key = key});
  EXPECT_EQ(e.to_string(), "not found: absent [key \"" + key.substr(0, 199) +
                               "...\" (601 bytes)]");
}

}  // namespace
}  // namespace cachepack
