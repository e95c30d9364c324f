// A bounds-checked pickle codec for the Python values PyTorch's runtime
// caches store (torch/_inductor/cache.py: keys str, int, tuple; values also
// bytes, dict, list), plus None and bool, which those hold inside. dumps()
// writes the bytes CPython 3.11's pickle.dumps(x, protocol) writes for the
// same value, so file names (sha256 of the pickled key) and files agree with
// PyTorch's; loads() reads any pickle of these kinds written with protocol 2
// to 5. Anything else (a float, a class instance, a recursive structure) is
// a typed error, never a guess. docs/RUNTIME.md has the details.
#ifndef CACHEPACK_PICKLE_H_
#define CACHEPACK_PICKLE_H_

#include <compare>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "cachepack/bytes.h"
#include "cachepack/error.h"

namespace cachepack::pickle {

// Python's None.
struct None {
  bool operator==(const None&) const = default;
};

// A Python int of any size: minimal two's-complement, little-endian bytes,
// as pickle's LONG1/LONG4 store them (empty for zero).
class Int {
 public:
  Int(int64_t value = 0);  // NOLINT: an int64 is an Int.
  static Int from_uint64(uint64_t value);
  // Any two's-complement little-endian bytes; normalized to minimal form.
  static Int from_le_bytes(ByteSpan bytes);
  // Decimal digits with an optional '-' (Python's int(text) without
  // underscores or spaces); nullopt if not that.
  static std::optional<Int> from_decimal(std::string_view text);

  const Bytes& le_bytes() const { return bytes_; }
  std::optional<int64_t> to_int64() const;
  bool negative() const;
  std::string to_decimal() const;

  bool operator==(const Int&) const = default;

 private:
  Bytes bytes_;
};

class Value;
struct Tuple {
  std::vector<Value> items;
};
struct List {
  std::vector<Value> items;
};
struct DictItem;
// Items in insertion order, as a Python dict iterates (and pickles) them.
struct Dict {
  std::vector<DictItem> items;
};

enum class Kind { kNone, kBool, kInt, kStr, kBytes, kTuple, kList, kDict };

// One Python value. Strings are UTF-8 (lone surrogates, which a Python str
// may hold, as their 3-byte forms); bytes are bytes.
class Value {
 public:
  Value() : v_(None{}) {}
  Value(None n) : v_(n) {}                           // NOLINT
  Value(bool b) : v_(b) {}                           // NOLINT
  Value(int i) : v_(Int(i)) {}                       // NOLINT
  Value(int64_t i) : v_(Int(i)) {}                   // NOLINT
  Value(Int i) : v_(std::move(i)) {}                 // NOLINT
  Value(std::string s) : v_(std::move(s)) {}         // NOLINT
  Value(std::string_view s) : v_(std::string(s)) {}  // NOLINT
  Value(const char* s) : v_(std::string(s)) {}       // NOLINT
  Value(Bytes b) : v_(std::move(b)) {}               // NOLINT
  Value(Tuple t) : v_(std::move(t)) {}               // NOLINT
  Value(List l) : v_(std::move(l)) {}                // NOLINT
  Value(Dict d) : v_(std::move(d)) {}                // NOLINT

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  template <typename T>
  const T* as() const {
    return std::get_if<T>(&v_);
  }
  template <typename T>
  T* as() {
    return std::get_if<T>(&v_);
  }
  // hash(x) would not raise: None, bool, int, str, bytes, and tuples of
  // those. Only such values can be dict keys.
  bool hashable() const;

  // Python's ==: True == 1, a dict equals one with the same items in any
  // order, a tuple never equals a list.
  friend bool operator==(const Value& a, const Value& b);

 private:
  std::variant<None, bool, Int, std::string, Bytes, Tuple, List, Dict> v_;
};

struct DictItem {
  Value key;
  Value value;
};

// Builders that read like Python literals: tuple({1, "a"}), bytes("\x00").
inline Value tuple(std::initializer_list<Value> items) {
  return Tuple{std::vector<Value>(items)};
}
inline Value list(std::initializer_list<Value> items) {
  return List{std::vector<Value>(items)};
}
inline Value dict(std::initializer_list<DictItem> items) {
  return Dict{std::vector<DictItem>(items)};
}
inline Value bytes(std::string_view b) { return to_bytes(b); }

// A string equal values share (Python's ==, so True and 1 map alike): the
// key of a hash map over Values.
std::string equality_key(const Value& value);

// Python's repr(value), for messages and Python-literal text formats.
std::string repr(const Value& value);

std::string_view to_string(Kind kind);

struct DumpOptions {
  int protocol = 4;      // 4 (Python 3.8-3.13's default) or 5 (3.14's).
  int max_depth = 1000;  // Nesting, as Python's recursion limit.
};

// pickle.dumps(value, protocol). Every object is written once except
// CPython's shared singletons, the empty and one-character (U+0000-U+00FF)
// strings and the empty and one-byte bytes, which a second occurrence
// refers back to as CPython's memo does; a value Python built with another
// shared object (an interned identifier string used twice, one tuple object
// in two places) pickles shorter in Python than here.
// kInvalidArgument / kUnsupportedPickle: a dict key that is not hashable or
// occurs twice, a str that is not UTF-8, nesting beyond max_depth, a
// protocol outside 4-5.
Result<Bytes> dumps(const Value& value, DumpOptions options = {});

struct LoadLimits {
  int max_depth = 1000;
  // Bound on the decoded value, in its bytes plus one per object; 0 means
  // 4 * input size + 1 MiB. Memo references copy the object they name, so
  // this is what keeps a small input from expanding without bound.
  uint64_t max_size = 0;
};

// pickle.loads(data) for the kinds above. kDataLoss with the offset of the
// opcode: truncated input, a length past the end, a bad memo index, an
// unhashable dict key, bytes after STOP, invalid UTF-8; kUnsupportedPickle:
// an opcode for another kind (float, global, ...) or a recursive structure;
// kResourceExhausted / kLimitExceeded: beyond the limits.
Result<Value> loads(ByteSpan data, LoadLimits limits = {});

// An instance of a plain Python class pickled by the object protocol's
// default (copyreg.__newobj__ with no arguments, then BUILD with its
// __dict__), as pickle.dumps writes a dataclass such as torch's CacheEntry:
// STACK_GLOBAL of `module`.`name`, EMPTY_TUPLE, NEWOBJ, the state dict,
// BUILD. dumps_object writes CPython's bytes for it (the state's strings
// and containers as dumps() writes them); loads_object reads only an
// instance of exactly that class (GLOBAL or STACK_GLOBAL, NEWOBJ with no
// arguments, one BUILD with a dict) and returns its state: any other class
// or construction is kDataLoss / kUnsupportedPickle at its offset, never
// imported or guessed.
struct ClassRef {
  std::string module;
  std::string name;
};
Result<Bytes> dumps_object(const ClassRef& cls, const Dict& state,
                           DumpOptions options = {});
Result<Dict> loads_object(ByteSpan data, const ClassRef& cls,
                          LoadLimits limits = {});

}  // namespace cachepack::pickle

#endif  // CACHEPACK_PICKLE_H_
