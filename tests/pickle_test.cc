// The pickle codec against bytes CPython 3.11 wrote with pickle.dumps(x)
// (protocol 4, the default), and its reader against damaged input. The
// randomized comparison with Python itself is tests/python/test_runtime.py.
#include "cachepack/pickle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>

#include "tests/testing/result_matchers.h"

namespace cachepack {
namespace {

using testing::HasError;
using testing::IsOk;

Bytes from_hex(std::string_view hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::byte>(
        std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

struct Vector {
  const char* python;  // The literal Python pickled.
  pickle::Value value;
  const char* pickled_hex;
};

const std::vector<Vector>& vectors() {
  static const std::vector<Vector> v = {
      {R"(None)", pickle::None{}, "80044e2e"},
      {R"(True)", true, "8004882e"},
      {R"(False)", false, "8004892e"},
      {R"(0)", 0, "80044b002e"},
      {R"(255)", 255, "80044bff2e"},
      {R"(256)", 256, "80049504000000000000004d00012e"},
      {R"(65535)", 65535, "80049504000000000000004dffff2e"},
      {R"(65536)", 65536, "80049506000000000000004a000001002e"},
      {R"(-1)", -1, "80049506000000000000004affffffff2e"},
      {R"(2**31-1)", int64_t{2147483647}, "80049506000000000000004affffff7f2e"},
      {R"(2**31)", int64_t{2147483648},
       "80049508000000000000008a0500000080002e"},
      {R"(-2**31)", int64_t{-2147483648}, "80049506000000000000004a000000802e"},
      {R"(-2**31-1)", int64_t{-2147483649},
       "80049508000000000000008a05ffffff7fff2e"},
      {R"(2**63-1)", int64_t{9223372036854775807},
       "8004950b000000000000008a08ffffffffffffff7f2e"},
      {R"(2**63)", pickle::Int::from_uint64(9223372036854775808u),
       "8004950c000000000000008a090000000000000080002e"},
      {R"(-2**63)", std::numeric_limits<int64_t>::min(),
       "8004950b000000000000008a0800000000000000802e"},
      {R"('')", "", "80049504000000000000008c00942e"},
      {R"('a')", "a", "80049505000000000000008c0161942e"},
      {R"('héllo')", "h\u00e9llo",
       "8004950a000000000000008c0668c3a96c6c6f942e"},
      {R"('\u20ac')", "\u20ac", "80049507000000000000008c03e282ac942e"},
      {R"('\U0001F600')", "\U0001F600",
       "80049508000000000000008c04f09f9880942e"},
      {R"(b'')", pickle::bytes(""), "80049504000000000000004300942e"},
      {R"(b'x')", pickle::bytes("x"), "8004950500000000000000430178942e"},
      {R"(b'\x00\xff')", pickle::bytes(std::string_view("\x00\xff", 2)),
       "8004950600000000000000430200ff942e"},
      {R"(())", pickle::tuple({}), "8004292e"},
      {R"((1,))", pickle::tuple({1}), "80049505000000000000004b0185942e"},
      {R"((1, 2, 3))", pickle::tuple({1, 2, 3}),
       "80049509000000000000004b014b024b0387942e"},
      {R"((1, 2, 3, 4))", pickle::tuple({1, 2, 3, 4}),
       "8004950c00000000000000284b014b024b034b0474942e"},
      {R"([])", pickle::list({}), "80045d942e"},
      {R"([1])", pickle::list({1}), "80049506000000000000005d944b01612e"},
      {R"([1, 2])", pickle::list({1, 2}),
       "80049509000000000000005d94284b014b02652e"},
      {R"({})", pickle::dict({}), "80047d942e"},
      {R"({1: 2})", pickle::dict({{1, 2}}),
       "80049508000000000000007d944b014b02732e"},
      {R"({'a': [b'b', None], 3: (True,)})",
       pickle::dict({{"a", pickle::list({pickle::bytes("b"), pickle::None{}})},
                     {3, pickle::tuple({true})}}),
       "80049517000000000000007d94288c0161945d9428430162944e654b03888594752e"},
      {R"(('a', 'a'))", pickle::tuple({"a", "a"}),
       "80049509000000000000008c016194680086942e"},
      {R"(('ab', 'ab'))", pickle::tuple({"ab", "ab"}),
       "8004950d000000000000008c026162948c0261629486942e"},
      {R"(('fn', (('x', 2), {'k': b''})))",
       pickle::tuple(
           {"fn", pickle::tuple({pickle::tuple({"x", 2}),
                                 pickle::dict({{"k", pickle::bytes("")}})})}),
       "8004951c000000000000008c02666e948c0178944b0286947d948c016b9443009473869"
       "486942e"},
  };
  return v;
}

TEST(Pickle, DumpsWritesWhatPythonWrites) {
  for (const Vector& v : vectors()) {
    Result<Bytes> out = pickle::dumps(v.value);
    ASSERT_THAT(out, IsOk()) << v.python;
    EXPECT_EQ(to_hex(*out), v.pickled_hex) << v.python;
  }
}

TEST(Pickle, LoadsReadsWhatPythonWrote) {
  for (const Vector& v : vectors()) {
    Result<pickle::Value> in = pickle::loads(from_hex(v.pickled_hex));
    ASSERT_THAT(in, IsOk()) << v.python;
    EXPECT_TRUE(*in == v.value) << v.python << " read as " << pickle::repr(*in);
  }
}

TEST(Pickle, ProtocolFiveDiffersOnlyInItsHeader) {
  Result<Bytes> four = pickle::dumps(pickle::tuple({"k", 1}));
  Result<Bytes> five = pickle::dumps(pickle::tuple({"k", 1}), {.protocol = 5});
  ASSERT_THAT(four, IsOk());
  ASSERT_THAT(five, IsOk());
  EXPECT_EQ((*five)[1], std::byte{5});
  (*five)[1] = std::byte{4};
  EXPECT_EQ(*four, *five);
  EXPECT_THAT(
      pickle::dumps(1, {.protocol = 3}),
      HasError(ErrorCode::kInvalidArgument, ErrorReason::kUnsupportedPickle));
}

TEST(Pickle, BigIntsRoundTripThroughDecimal) {
  for (const char* text : {"0", "-1", "255", "-128", "-129",
                           "340282366920938463463374607431768211456",
                           "-340282366920938463463374607431768211457"}) {
    std::optional<pickle::Int> i = pickle::Int::from_decimal(text);
    ASSERT_TRUE(i) << text;
    EXPECT_EQ(i->to_decimal(), text);
    Result<Bytes> out = pickle::dumps(*i);
    ASSERT_THAT(out, IsOk());
    Result<pickle::Value> back = pickle::loads(*out);
    ASSERT_THAT(back, IsOk());
    EXPECT_EQ(pickle::repr(*back), text);
  }
  // 2**2100, pickled by Python with LONG4.
  std::optional<pickle::Int> big =
      pickle::Int::from_le_bytes(from_hex(std::string(524, '0') + "1000"));
  EXPECT_EQ(to_hex(*pickle::dumps(*big)).substr(0, 32),
            "8004950d010000000000008b07010000");
  EXPECT_FALSE(pickle::Int::from_decimal("12a"));
  EXPECT_FALSE(pickle::Int::from_decimal("-"));
}

TEST(Pickle, PythonEqualityTreatsBoolAsIntAndDictsAsUnordered) {
  EXPECT_TRUE(pickle::Value(true) == pickle::Value(1));
  EXPECT_FALSE(pickle::Value(pickle::tuple({1})) == pickle::list({1}));
  EXPECT_TRUE(pickle::dict({{1, "a"}, {2, "b"}}) ==
              pickle::dict({{2, "b"}, {1, "a"}}));
  EXPECT_FALSE(pickle::Value("a") == pickle::bytes("a"));
}

TEST(Pickle, DumpsRefusesWhatPythonCannotPickleAsADict) {
  EXPECT_THAT(
      pickle::dumps(pickle::dict({{pickle::list({}), 1}})),
      HasError(ErrorCode::kInvalidArgument, ErrorReason::kUnsupportedPickle));
  EXPECT_THAT(pickle::dumps(pickle::dict({{1, 1}, {true, 2}})),
              HasError(ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey));
  EXPECT_THAT(pickle::dumps(std::string("\xff")),
              HasError(ErrorCode::kInvalidArgument, ErrorReason::kInvalidUtf8));
}

TEST(Pickle, DumpsRefusesNestingBeyondTheLimit) {
  pickle::Value v = 1;
  for (int i = 0; i < 50; ++i) v = pickle::List{{v}};
  EXPECT_THAT(
      pickle::dumps(v, {.max_depth = 10}),
      HasError(ErrorCode::kInvalidArgument, ErrorReason::kLimitExceeded));
  EXPECT_THAT(pickle::dumps(v), IsOk());
}

TEST(Pickle, LoadsRefusesOtherKindsNamingTheOpcode) {
  // pickle.dumps(1.5): BINFLOAT.
  Result<pickle::Value> r =
      pickle::loads(from_hex("8004950a00000000000000473ff8000000000000002e"));
  ASSERT_THAT(r,
              HasError(ErrorCode::kDataLoss, ErrorReason::kUnsupportedPickle));
  EXPECT_EQ(r.error().where().offset, 11u);
  EXPECT_THAT(r.error().message(), ::testing::HasSubstr("0x47"));
  // pickle.dumps(set()): EMPTY_SET.
  EXPECT_THAT(pickle::loads(from_hex("80048f942e")),
              HasError(ErrorCode::kDataLoss, ErrorReason::kUnsupportedPickle));
}

TEST(Pickle, LoadsRefusesARecursiveList) {
  // l = []; l.append(l); pickle.dumps(l)
  EXPECT_THAT(pickle::loads(from_hex("80045d946800612e")),
              HasError(ErrorCode::kDataLoss, ErrorReason::kUnsupportedPickle));
}

TEST(Pickle, LoadsSharesMemoizedObjectsAsPythonDoes) {
  // a = []; x = [a, a], with a filled after both references in this
  // hand-made pickle: both places see the one list, as in Python.
  // ] MEMOIZE ( ] MEMOIZE h1 e  h1 K7 a POP .
  Result<pickle::Value> r =
      pickle::loads(from_hex("80045d94285d94680165"
                             "6801"
                             "4b0761302e"));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(pickle::repr(*r), "[[7], [7]]");
}

TEST(Pickle, LoadsKeepsTheFirstKeyAndTheLastValueOfARepeatedDictKey) {
  // {1: 'a', True: 'b'} as Python builds it: {1: 'b'}.
  // } MEMOIZE ( K1 X'a' 88 X'b' u .
  Result<pickle::Value> r =
      pickle::loads(from_hex("80047d94284b018c0161888c0162752e"));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(pickle::repr(*r), "{1: 'b'}");
  // An unhashable key: {[]: 1}.
  EXPECT_THAT(pickle::loads(from_hex("80047d945d4b01732e")),
              HasError(ErrorCode::kDataLoss, ErrorReason::kInvalidContent));
}

TEST(Pickle, LoadsBoundsTheExpansionOfMemoReferences) {
  // x0 = 'a'*1000; x(i+1) = [x(i)]*16 nested 6 levels: 16^6 * 1000 bytes
  // from an input of ~1 KiB.
  Bytes p = from_hex("8004");
  p.push_back(std::byte{'X'});
  for (uint8_t b : {0xe8, 0x03, 0x00, 0x00}) p.push_back(std::byte{b});
  p.insert(p.end(), 1000, std::byte{'a'});
  p.push_back(std::byte{0x94});  // memo 0
  p.push_back(std::byte{'0'});   // POP
  for (int level = 0; level < 6; ++level) {
    p.push_back(std::byte{']'});
    p.push_back(std::byte{'('});
    for (int k = 0; k < 16; ++k) {
      p.push_back(std::byte{'h'});
      p.push_back(static_cast<std::byte>(level));
    }
    p.push_back(std::byte{'e'});
    p.push_back(std::byte{0x94});                // memo level+1
    if (level < 5) p.push_back(std::byte{'0'});  // POP
  }
  p.push_back(std::byte{'.'});
  EXPECT_THAT(pickle::loads(p), HasError(ErrorCode::kResourceExhausted,
                                         ErrorReason::kLimitExceeded));
}

TEST(Pickle, LoadsRefusesTrailingBytesAndMissingStop) {
  EXPECT_THAT(pickle::loads(from_hex("80044e2e00")),
              HasError(ErrorCode::kDataLoss, ErrorReason::kTrailingBytes));
  EXPECT_THAT(pickle::loads(from_hex("80044e")),
              HasError(ErrorCode::kDataLoss, ErrorReason::kTooShort));
  EXPECT_THAT(pickle::loads({}),
              HasError(ErrorCode::kDataLoss, ErrorReason::kTooShort));
}

// Every proper prefix of every vector is refused with a typed error, never
// read past its end (run under ASan by tools/test.sh's sanitizer pass).
TEST(Pickle, EveryTruncationIsATypedError) {
  for (const Vector& v : vectors()) {
    Bytes full = from_hex(v.pickled_hex);
    for (size_t n = 0; n < full.size(); ++n) {
      Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
      Result<pickle::Value> r = pickle::loads(cut);
      ASSERT_FALSE(r) << v.python << " cut at " << n;
      EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss) << v.python << " " << n;
    }
  }
}

// Random byte changes to the vectors and random bytes: any result but a
// crash, a hang or an untyped failure; what is read re-encodes.
TEST(Pickle, DamagedInputNeverCrashes) {
  std::mt19937 rng(14);
  int decoded = 0;
  for (int round = 0; round < 20000; ++round) {
    const Vector& v = vectors()[rng() % vectors().size()];
    Bytes b = from_hex(v.pickled_hex);
    if (round % 4 == 0) {
      b.resize(rng() % 40);
      for (std::byte& x : b) x = static_cast<std::byte>(rng());
    } else {
      for (int k = 0, n = 1 + rng() % 3; k < n; ++k) {
        b[rng() % b.size()] = static_cast<std::byte>(rng());
      }
    }
    Result<pickle::Value> r = pickle::loads(b);
    if (r) {
      ++decoded;
      Result<Bytes> again = pickle::dumps(*r);
      if (again) {
        EXPECT_TRUE(*pickle::loads(*again) == *r);
      }
    } else {
      EXPECT_NE(r.error().code(), ErrorCode::kInternal);
      EXPECT_FALSE(r.error().message().empty());
    }
  }
  EXPECT_GT(decoded, 0);
}

}  // namespace
}  // namespace cachepack
