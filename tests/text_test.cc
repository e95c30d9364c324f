#include "util/text.h"

#include <gtest/gtest.h>

namespace cachepack {
namespace {

TEST(Base64, EncodesLikePythonsB64encode) {
  EXPECT_EQ(base64_encode(as_bytes("")), "");
  EXPECT_EQ(base64_encode(as_bytes("f")), "Zg==");
  EXPECT_EQ(base64_encode(as_bytes("fo")), "Zm8=");
  EXPECT_EQ(base64_encode(as_bytes("foo")), "Zm9v");
  EXPECT_EQ(base64_encode(as_bytes("inductor")), "aW5kdWN0b3I=");
  EXPECT_EQ(base64_encode(as_bytes(std::string("\xff\xfe\x00", 3))), "//4A");
}

TEST(Base64, StrictDecodesOnlyCanonicalText) {
  EXPECT_EQ(base64_decode_strict("aW5kdWN0b3I="), "inductor");
  EXPECT_EQ(base64_decode_strict(""), "");
  EXPECT_EQ(base64_decode_strict("Zg=="), "f");
  EXPECT_FALSE(base64_decode_strict("Zg="));       // Length not x4.
  EXPECT_FALSE(base64_decode_strict("Zh=="));      // Non-zero unused bits.
  EXPECT_FALSE(base64_decode_strict("Zm9v\n"));    // Line break.
  EXPECT_FALSE(base64_decode_strict("Z!9v"));      // Outside the alphabet.
  EXPECT_FALSE(base64_decode_strict("Zg==Zg=="));  // Padding in the middle.
  EXPECT_FALSE(base64_decode_strict("Z==="));      // Too much padding.
  EXPECT_FALSE(base64_decode_strict("Zm9v-_=="));  // URL-safe alphabet.
}

TEST(Base64, LenientSkipsWhatPythonSkips) {
  // The quirk vector's key: PyTorch decodes it to 'main/quirk-136956'.
  EXPECT_EQ(base64_decode_lenient("bWFpbi9xd!W l\nyay0xMzY5NTY="),
            "main/quirk-136956");
  EXPECT_EQ(base64_decode_lenient("Zm9v\n"), "foo");
  // Decoding stops at a complete padding sequence.
  EXPECT_EQ(base64_decode_lenient("Zg==Zm9v"), "f");
  // One data character too many, or missing padding: "Incorrect padding".
  EXPECT_FALSE(base64_decode_lenient("Zm9vZ"));
  EXPECT_FALSE(base64_decode_lenient("Zg"));
  EXPECT_FALSE(base64_decode_lenient("Zg="));
}

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8(std::string("k\0nul", 5)));
  EXPECT_TRUE(is_valid_utf8("clé-✓"));
  EXPECT_TRUE(is_valid_utf8("テスト鍵"));
  EXPECT_TRUE(is_valid_utf8("🔥kernel🔥"));
}

TEST(Utf8, RejectsWhatPythonsStrictDecoderRejects) {
  EXPECT_FALSE(is_valid_utf8("\xc0\x80"));          // Overlong NUL.
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));      // Overlong '/'.
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // Surrogate U+D800.
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // Above U+10FFFF.
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("abc\xe2\x9c"));  // Truncated sequence.
  EXPECT_FALSE(is_valid_utf8("\x80"));         // Lone continuation.
}

TEST(Printable, EscapesControlBytesAndBackslash) {
  EXPECT_EQ(printable(std::string("a\0b\n\\", 5)), "a\\x00b\\x0a\\x5c");
  EXPECT_EQ(printable("clé"), "clé");
}

}  // namespace
}  // namespace cachepack
