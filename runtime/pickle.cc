// The pickle codec of include/cachepack/pickle.h. The writer follows
// CPython 3.11's C pickler (Modules/_pickle.c) opcode for opcode, framing
// included; the reader is a stack machine over the opcodes of the supported
// kinds, building a graph of nodes (memo references share a node, as they
// share an object in Python) and then a tree from it, with every length
// checked against what is left and the tree's size bounded.
#include "cachepack/pickle.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <unordered_map>
#include <unordered_set>

namespace cachepack::pickle {
namespace {

// Opcodes (Lib/pickletools.py names).
constexpr uint8_t kMark = '(';
constexpr uint8_t kStop = '.';
constexpr uint8_t kPop = '0';
constexpr uint8_t kPopMark = '1';
constexpr uint8_t kDup = '2';
constexpr uint8_t kBinInt = 'J';
constexpr uint8_t kBinInt1 = 'K';
constexpr uint8_t kBinInt2 = 'M';
constexpr uint8_t kNone = 'N';
constexpr uint8_t kBinUnicode = 'X';
constexpr uint8_t kAppend = 'a';
constexpr uint8_t kDict = 'd';
constexpr uint8_t kEmptyDict = '}';
constexpr uint8_t kAppends = 'e';
constexpr uint8_t kBinGet = 'h';
constexpr uint8_t kLongBinGet = 'j';
constexpr uint8_t kList = 'l';
constexpr uint8_t kEmptyList = ']';
constexpr uint8_t kBinPut = 'q';
constexpr uint8_t kLongBinPut = 'r';
constexpr uint8_t kSetItem = 's';
constexpr uint8_t kTuple = 't';
constexpr uint8_t kEmptyTuple = ')';
constexpr uint8_t kSetItems = 'u';
constexpr uint8_t kBinBytes = 'B';
constexpr uint8_t kShortBinBytes = 'C';
constexpr uint8_t kProto = 0x80;
constexpr uint8_t kTuple1 = 0x85;
constexpr uint8_t kTuple2 = 0x86;
constexpr uint8_t kTuple3 = 0x87;
constexpr uint8_t kNewTrue = 0x88;
constexpr uint8_t kNewFalse = 0x89;
constexpr uint8_t kLong1 = 0x8a;
constexpr uint8_t kLong4 = 0x8b;
constexpr uint8_t kShortBinUnicode = 0x8c;
constexpr uint8_t kBinUnicode8 = 0x8d;
constexpr uint8_t kBinBytes8 = 0x8e;
constexpr uint8_t kMemoize = 0x94;
constexpr uint8_t kGlobal = 'c';
constexpr uint8_t kStackGlobal = 0x93;
constexpr uint8_t kNewObj = 0x81;
constexpr uint8_t kBuild = 'b';
constexpr uint8_t kFrame = 0x95;

constexpr size_t kBatchSize = 1000;         // _pickle.c BATCHSIZE
constexpr size_t kFrameSizeTarget = 65536;  // FRAME_SIZE_TARGET
constexpr size_t kFrameSizeMin = 4;         // FRAME_SIZE_MIN
constexpr size_t kFrameHeaderSize = 9;

// UTF-8 as Python's "surrogatepass" reads and writes it: well-formed
// sequences of any code point up to U+10FFFF, surrogates included.
bool valid_utf8_surrogatepass(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i < n) return false;
    for (size_t k = 1; k < n; ++k) {
      uint8_t d = static_cast<uint8_t>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff) return false;
    i += n;
  }
  return true;
}

// Number of code points, to tell CPython's one-character singletons.
size_t code_points(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<uint8_t>(c) & 0xc0) != 0x80;
  return n;
}

// CPython shares these objects, so its memo refers back to them.
bool is_singleton_str(std::string_view s) {
  if (s.empty()) return true;
  if (code_points(s) != 1) return false;
  uint8_t c = static_cast<uint8_t>(s[0]);
  return c < 0x80 || c == 0xc2 || c == 0xc3;  // U+0000..U+00FF
}

void append_le(Bytes& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) {
    out.push_back(static_cast<std::byte>(v & 0xff));
    v >>= 8;
  }
}

uint64_t read_le(const std::byte* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

class Encoder {
 public:
  explicit Encoder(DumpOptions options) : options_(options) {}

  Result<Bytes> run(const Value& value) {
    return run_with(&value, nullptr, {});
  }

  // save_global + save_reduce(copyreg.__newobj__, (cls,), state), as the C
  // pickler writes an instance of a plain class.
  Result<Bytes> run_object(const ClassRef& cls, const Dict& state) {
    return run_with(nullptr, &cls, state);
  }

 private:
  Result<Bytes> run_with(const Value* value, const ClassRef* cls,
                         const Dict& state) {
    if (options_.protocol < 4 || options_.protocol > 5) {
      return make_error(ErrorCode::kInvalidArgument,
                        ErrorReason::kUnsupportedPickle,
                        "pickle protocol " + std::to_string(options_.protocol) +
                            " is not supported (4 or 5)");
    }
    out_.push_back(std::byte{kProto});
    out_.push_back(static_cast<std::byte>(options_.protocol));
    framing_ = true;
    if (value) {
      CP_TRY(save(*value, 0));
    } else {
      opcode_boundary();
      CP_TRY(save(Value(cls->module), 1));
      CP_TRY(save(Value(cls->name), 1));
      op(kStackGlobal);
      memoize();
      op(kEmptyTuple);
      op(kNewObj);
      memoize();
      CP_TRY(save(Value(state), 1));
      op(kBuild);
    }
    op(kStop);
    commit_frame();
    return std::move(out_);
  }

  void begin_write(size_t n) {
    if (framing_ && !frame_start_) {
      frame_start_ = out_.size();
      out_.resize(out_.size() + kFrameHeaderSize);
    }
    out_.reserve(out_.size() + n);
  }
  void op(uint8_t code) {
    begin_write(1);
    out_.push_back(std::byte{code});
  }
  void op_le(uint8_t code, uint64_t v, int n) {
    begin_write(1 + n);
    out_.push_back(std::byte{code});
    append_le(out_, v, n);
  }
  void raw(ByteSpan data) {
    begin_write(data.size());
    append_bytes(out_, data);
  }

  void commit_frame() {
    if (!framing_ || !frame_start_) return;
    size_t start = *frame_start_;
    size_t len = out_.size() - start - kFrameHeaderSize;
    if (len >= kFrameSizeMin) {
      out_[start] = std::byte{kFrame};
      for (int i = 0; i < 8; ++i) {
        out_[start + 1 + i] = static_cast<std::byte>((len >> (8 * i)) & 0xff);
      }
    } else {
      out_.erase(
          out_.begin() + static_cast<std::ptrdiff_t>(start),
          out_.begin() + static_cast<std::ptrdiff_t>(start + kFrameHeaderSize));
    }
    frame_start_.reset();
  }

  // _Pickler_OpcodeBoundary, checked as each object's save() begins: a frame
  // that reached the target is closed.
  void opcode_boundary() {
    if (!framing_ || !frame_start_) return;
    if (out_.size() - *frame_start_ - kFrameHeaderSize >= kFrameSizeTarget) {
      commit_frame();
    }
  }

  // _Pickler_write_bytes: large data goes outside any frame.
  void write_with_header(uint8_t small, uint8_t medium, uint8_t large,
                         ByteSpan data) {
    Bytes header;
    size_t n = data.size();
    if (n <= 0xff) {
      header.push_back(std::byte{small});
      append_le(header, n, 1);
    } else if (n <= 0xffffffffu) {
      header.push_back(std::byte{medium});
      append_le(header, n, 4);
    } else {
      header.push_back(std::byte{large});
      append_le(header, n, 8);
    }
    bool bypass = n >= kFrameSizeTarget;
    if (bypass) {
      commit_frame();
      framing_ = false;
    }
    raw(header);
    raw(data);
    framing_ = true;
  }

  void memoize() {
    op(kMemoize);
    ++memo_size_;
  }

  // Returns true when `key` was memoized before and a reference was written.
  bool write_memo_ref(const std::string& key) {
    auto it = singletons_.find(key);
    if (it == singletons_.end()) return false;
    if (it->second <= 0xff) {
      op_le(kBinGet, it->second, 1);
    } else {
      op_le(kLongBinGet, it->second, 4);
    }
    return true;
  }

  Result<void> save(const Value& v, int depth) {
    if (depth > options_.max_depth) {
      return make_error(ErrorCode::kInvalidArgument,
                        ErrorReason::kLimitExceeded,
                        "value nested deeper than " +
                            std::to_string(options_.max_depth) + " levels");
    }
    opcode_boundary();
    return save_object(v, depth);
  }

  Result<void> save_object(const Value& v, int depth) {
    switch (v.kind()) {
      case Kind::kNone:
        op(kNone);
        return {};
      case Kind::kBool:
        op(*v.as<bool>() ? kNewTrue : kNewFalse);
        return {};
      case Kind::kInt:
        save_int(*v.as<Int>());
        return {};
      case Kind::kStr:
        return save_str(*v.as<std::string>());
      case Kind::kBytes:
        save_bytes(*v.as<Bytes>());
        return {};
      case Kind::kTuple:
        return save_tuple(v.as<Tuple>()->items, depth);
      case Kind::kList:
        return save_list(v.as<List>()->items, depth);
      case Kind::kDict:
        return save_dict(*v.as<Dict>(), depth);
    }
    return {};
  }

  void save_int(const Int& i) {
    std::optional<int64_t> small = i.to_int64();
    if (small && *small >= INT32_MIN && *small <= INT32_MAX) {
      int64_t x = *small;
      if (x >= 0 && x <= 0xff) {
        op_le(kBinInt1, static_cast<uint64_t>(x), 1);
      } else if (x >= 0 && x <= 0xffff) {
        op_le(kBinInt2, static_cast<uint64_t>(x), 2);
      } else {
        op_le(kBinInt, static_cast<uint32_t>(static_cast<int32_t>(x)), 4);
      }
      return;
    }
    const Bytes& b = i.le_bytes();
    if (b.size() <= 0xff) {
      op_le(kLong1, b.size(), 1);
    } else {
      op_le(kLong4, b.size(), 4);
    }
    raw(b);
  }

  Result<void> save_str(const std::string& s) {
    if (!valid_utf8_surrogatepass(s)) {
      return make_error(ErrorCode::kInvalidArgument, ErrorReason::kInvalidUtf8,
                        "a str to pickle is not UTF-8");
    }
    std::string memo_key;
    bool singleton = is_singleton_str(s);
    if (singleton) {
      memo_key = "s" + s;
      if (write_memo_ref(memo_key)) return {};
    }
    write_with_header(kShortBinUnicode, kBinUnicode, kBinUnicode8, as_bytes(s));
    if (singleton) singletons_[memo_key] = memo_size_;
    memoize();
    return {};
  }

  void save_bytes(const Bytes& b) {
    std::string memo_key;
    bool singleton = b.size() <= 1;
    if (singleton) {
      memo_key = "b" + std::string(as_chars(b));
      if (write_memo_ref(memo_key)) return;
    }
    write_with_header(kShortBinBytes, kBinBytes, kBinBytes8, b);
    if (singleton) singletons_[memo_key] = memo_size_;
    memoize();
  }

  Result<void> save_tuple(const std::vector<Value>& items, int depth) {
    if (items.empty()) {
      op(kEmptyTuple);
      return {};
    }
    if (items.size() > 3) op(kMark);
    for (const Value& item : items) CP_TRY(save(item, depth + 1));
    static constexpr uint8_t kByLength[] = {0, kTuple1, kTuple2, kTuple3};
    op(items.size() <= 3 ? kByLength[items.size()] : kTuple);
    memoize();
    return {};
  }

  Result<void> save_list(const std::vector<Value>& items, int depth) {
    op(kEmptyList);
    memoize();
    if (items.size() == 1) {
      CP_TRY(save(items[0], depth + 1));
      op(kAppend);
      return {};
    }
    for (size_t at = 0; at < items.size();) {
      op(kMark);
      size_t end = std::min(items.size(), at + kBatchSize);
      for (; at < end; ++at) CP_TRY(save(items[at], depth + 1));
      op(kAppends);
    }
    return {};
  }

  Result<void> save_dict(const Dict& d, int depth) {
    std::unordered_set<std::string> seen;
    for (const DictItem& item : d.items) {
      if (!item.key.hashable()) {
        return make_error(ErrorCode::kInvalidArgument,
                          ErrorReason::kUnsupportedPickle,
                          "dict key " + repr(item.key) + " is not hashable");
      }
      if (!seen.insert(equality_key(item.key)).second) {
        return make_error(ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey,
                          "dict key " + repr(item.key) + " occurs twice");
      }
    }
    op(kEmptyDict);
    memoize();
    if (d.items.size() == 1) {
      CP_TRY(save(d.items[0].key, depth + 1));
      CP_TRY(save(d.items[0].value, depth + 1));
      op(kSetItem);
      return {};
    }
    for (size_t at = 0; at < d.items.size();) {
      op(kMark);
      size_t end = std::min(d.items.size(), at + kBatchSize);
      for (; at < end; ++at) {
        CP_TRY(save(d.items[at].key, depth + 1));
        CP_TRY(save(d.items[at].value, depth + 1));
      }
      op(kSetItems);
    }
    return {};
  }

  DumpOptions options_;
  Bytes out_;
  bool framing_ = false;
  std::optional<size_t> frame_start_;
  uint64_t memo_size_ = 0;
  std::unordered_map<std::string, uint64_t> singletons_;
};

// ---- Reading ----------------------------------------------------------

// A decoded object before it becomes a Value: containers hold node ids, so
// a memo reference and the object it names are one node, and APPENDS to a
// list reached through the memo changes the one list.
struct Node {
  Kind kind = Kind::kNone;
  bool boolean = false;
  Int integer;
  std::string text;             // str or bytes
  std::vector<uint32_t> items;  // tuple/list items; dict key, value, ...
  std::unordered_map<std::string, size_t> dict_index;  // key -> item pair
  // loads_object's nodes: the allowed class, and an instance of it (whose
  // items hold its state dict once BUILD has run).
  enum class Special { kNo, kClass, kObject } special = Special::kNo;
};

class Decoder {
 public:
  Decoder(ByteSpan data, LoadLimits limits, const ClassRef* allowed = nullptr)
      : data_(data), limits_(limits), allowed_(allowed) {
    budget_ = limits.max_size != 0 ? limits.max_size
                                   : 4 * data.size() + (uint64_t{1} << 20);
  }

  Result<Value> run() {
    CP_ASSIGN_OR_RETURN(uint32_t top, run_to_stop());
    std::vector<bool> open(nodes_.size(), false);
    return build(top, 0, open);
  }

  // The state of the one instance of the allowed class the pickle holds.
  Result<Dict> run_object() {
    CP_ASSIGN_OR_RETURN(uint32_t top, run_to_stop());
    const Node& n = nodes_[top];
    if (n.special != Node::Special::kObject || n.items.size() != 1) {
      return fail(ErrorReason::kInvalidContent,
                  "the pickle is not an instance of " + allowed_name() +
                      " with its state");
    }
    std::vector<bool> open(nodes_.size(), false);
    CP_ASSIGN_OR_RETURN(Value state, build(n.items[0], 1, open));
    return std::move(*state.as<Dict>());
  }

 private:
  std::string allowed_name() const {
    return allowed_ ? allowed_->module + "." + allowed_->name : "?";
  }

  Result<uint32_t> run_to_stop() {
    while (true) {
      op_at_ = pos_;
      if (pos_ >= data_.size()) {
        return fail(ErrorReason::kTooShort, "pickle ends without STOP");
      }
      uint8_t code = static_cast<uint8_t>(data_[pos_++]);
      if (code == kStop) break;
      CP_TRY(step(code));
    }
    if (pos_ != data_.size()) {
      op_at_ = pos_;
      return fail(ErrorReason::kTrailingBytes,
                  std::to_string(data_.size() - pos_) + " bytes after STOP");
    }
    if (stack_.size() != 1 || !marks_.empty()) {
      return fail(ErrorReason::kInvalidContent,
                  "STOP with " + std::to_string(stack_.size()) +
                      " objects on the stack (expected 1)");
    }
    return stack_.back();
  }

  // GLOBAL's "module\nname\n" operands.
  Result<std::string> line() {
    size_t end = pos_;
    while (end < data_.size() && data_[end] != std::byte{'\n'}) ++end;
    if (end == data_.size()) {
      return fail(ErrorReason::kTooShort, "GLOBAL operand without newline");
    }
    std::string out(as_chars(data_.subspan(pos_, end - pos_)));
    pos_ = end + 1;
    return out;
  }

  Result<void> global(const std::string& module, const std::string& name) {
    if (!allowed_ || module != allowed_->module || name != allowed_->name) {
      return make_error(
          ErrorCode::kDataLoss, ErrorReason::kUnsupportedPickle,
          "pickle: class " + module + "." + name +
              (allowed_ ? " is not " + allowed_name()
                        : " (cachepack reads no class instances here)"),
          ErrorLocation{.offset = op_at_});
    }
    Node node;
    node.special = Node::Special::kClass;
    return push_new(std::move(node));
  }

  tl::unexpected<Error> fail(ErrorReason reason, std::string message) {
    return data_loss(reason, op_at_, "pickle: " + message);
  }
  tl::unexpected<Error> unsupported(uint8_t code) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "0x%02x", code);
    return make_error(
        ErrorCode::kDataLoss, ErrorReason::kUnsupportedPickle,
        std::string("pickle: opcode ") + hex +
            " is not one of the kinds cachepack reads (None, bool, int, "
            "str, bytes, tuple, list, dict)",
        ErrorLocation{.offset = op_at_});
  }

  Result<ByteSpan> take(uint64_t n) {
    if (n > data_.size() - pos_) {
      return fail(ErrorReason::kLengthOverrun,
                  "needs " + std::to_string(n) + " bytes, " +
                      std::to_string(data_.size() - pos_) + " left");
    }
    ByteSpan s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  Result<uint64_t> take_le(int n) {
    CP_ASSIGN_OR_RETURN(ByteSpan s, take(n));
    return read_le(s.data(), n);
  }

  Result<void> charge(uint64_t units) {
    if (units > budget_) {
      return make_error(ErrorCode::kResourceExhausted,
                        ErrorReason::kLimitExceeded,
                        "pickle: decoded value exceeds the size limit",
                        ErrorLocation{.offset = op_at_});
    }
    budget_ -= units;
    return {};
  }

  Result<uint32_t> add(Node node) {
    CP_TRY(charge(1 + node.text.size() + node.integer.le_bytes().size()));
    nodes_.push_back(std::move(node));
    return static_cast<uint32_t>(nodes_.size() - 1);
  }
  Result<void> push_new(Node node) {
    CP_ASSIGN_OR_RETURN(uint32_t id, add(std::move(node)));
    stack_.push_back(id);
    return {};
  }
  Result<uint32_t> pop() {
    if (stack_.size() <= floor()) {
      return fail(ErrorReason::kInvalidContent, "stack underflow");
    }
    uint32_t id = stack_.back();
    stack_.pop_back();
    return id;
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  Result<std::vector<uint32_t>> pop_mark() {
    if (marks_.empty()) return fail(ErrorReason::kInvalidContent, "no MARK");
    size_t at = marks_.back();
    marks_.pop_back();
    std::vector<uint32_t> items(stack_.begin() + at, stack_.end());
    stack_.resize(at);
    return items;
  }
  Result<Node*> top_of_kind(Kind kind) {
    if (stack_.size() <= floor()) {
      return fail(ErrorReason::kInvalidContent, "stack underflow");
    }
    Node* n = &nodes_[stack_.back()];
    if (n->kind != kind) {
      return fail(ErrorReason::kInvalidContent,
                  std::string("expected a ") + std::string(to_string(kind)) +
                      " on the stack, found a " +
                      std::string(to_string(n->kind)));
    }
    return n;
  }

  Result<void> text(Kind kind, uint64_t n) {
    CP_ASSIGN_OR_RETURN(ByteSpan s, take(n));
    Node node;
    node.kind = kind;
    node.text.assign(as_chars(s));
    if (kind == Kind::kStr && !valid_utf8_surrogatepass(node.text)) {
      return fail(ErrorReason::kInvalidUtf8, "str is not UTF-8");
    }
    return push_new(std::move(node));
  }
  Result<void> integer(Int value) {
    Node node;
    node.kind = Kind::kInt;
    node.integer = std::move(value);
    return push_new(std::move(node));
  }
  Result<void> tuple_of(std::vector<uint32_t> items) {
    Node node;
    node.kind = Kind::kTuple;
    node.items = std::move(items);
    CP_TRY(charge(node.items.size()));
    return push_new(std::move(node));
  }
  Result<void> append(uint32_t list, const std::vector<uint32_t>& items) {
    CP_TRY(charge(items.size()));
    Node& n = nodes_[list];
    n.items.insert(n.items.end(), items.begin(), items.end());
    return {};
  }

  // Python's key equality for a node that is a dict key.
  Result<std::string> key_of(uint32_t id) {
    std::vector<bool> open(nodes_.size(), false);
    uint64_t saved = budget_;
    CP_ASSIGN_OR_RETURN(Value v, build(id, 0, open));
    budget_ = saved;
    if (!v.hashable()) {
      return fail(ErrorReason::kInvalidContent,
                  "unhashable dict key " + repr(v));
    }
    return equality_key(v);
  }
  Result<void> set_items(uint32_t dict, const std::vector<uint32_t>& kv) {
    if (kv.size() % 2 != 0) {
      return fail(ErrorReason::kInvalidContent,
                  "odd number of items for SETITEMS");
    }
    CP_TRY(charge(kv.size()));
    for (size_t i = 0; i < kv.size(); i += 2) {
      CP_ASSIGN_OR_RETURN(std::string key, key_of(kv[i]));
      Node& n = nodes_[dict];
      auto [it, inserted] = n.dict_index.emplace(key, n.items.size());
      if (inserted) {
        n.items.push_back(kv[i]);
        n.items.push_back(kv[i + 1]);
      } else {
        n.items[it->second + 1] = kv[i + 1];  // Python keeps the first key.
      }
    }
    return {};
  }

  Result<void> memo_put(uint64_t index) {
    if (stack_.size() <= floor()) {
      return fail(ErrorReason::kInvalidContent, "memo put on an empty stack");
    }
    memo_[index] = stack_.back();
    return {};
  }
  Result<void> memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) {
      return fail(ErrorReason::kInvalidContent,
                  "memo index " + std::to_string(index) + " not defined");
    }
    stack_.push_back(it->second);
    return {};
  }

  Result<void> step(uint8_t code) {
    switch (code) {
      case kProto: {
        CP_ASSIGN_OR_RETURN(uint64_t v, take_le(1));
        if (v > 5) {
          return make_error(ErrorCode::kDataLoss,
                            ErrorReason::kUnsupportedVersion,
                            "pickle: protocol " + std::to_string(v),
                            ErrorLocation{.offset = op_at_});
        }
        return {};
      }
      case kFrame: {
        CP_ASSIGN_OR_RETURN(uint64_t n, take_le(8));
        if (n > data_.size() - pos_) {
          return fail(ErrorReason::kLengthOverrun,
                      "frame of " + std::to_string(n) + " bytes, " +
                          std::to_string(data_.size() - pos_) + " left");
        }
        return {};
      }
      case kMark:
        marks_.push_back(stack_.size());
        return {};
      case kPop: {
        CP_TRY(pop());
        return {};
      }
      case kPopMark: {
        CP_TRY(pop_mark());
        return {};
      }
      case kDup: {
        if (stack_.size() <= floor()) {
          return fail(ErrorReason::kInvalidContent, "DUP on an empty stack");
        }
        stack_.push_back(stack_.back());
        return {};
      }
      case kNone:
        return push_new(Node{});
      case kNewTrue:
      case kNewFalse: {
        Node node;
        node.kind = Kind::kBool;
        node.boolean = code == kNewTrue;
        return push_new(std::move(node));
      }
      case kBinInt1: {
        CP_ASSIGN_OR_RETURN(uint64_t v, take_le(1));
        return integer(Int(static_cast<int64_t>(v)));
      }
      case kBinInt2: {
        CP_ASSIGN_OR_RETURN(uint64_t v, take_le(2));
        return integer(Int(static_cast<int64_t>(v)));
      }
      case kBinInt: {
        CP_ASSIGN_OR_RETURN(uint64_t v, take_le(4));
        return integer(Int(static_cast<int32_t>(static_cast<uint32_t>(v))));
      }
      case kLong1:
      case kLong4: {
        CP_ASSIGN_OR_RETURN(uint64_t n, take_le(code == kLong1 ? 1 : 4));
        CP_ASSIGN_OR_RETURN(ByteSpan s, take(n));
        return integer(Int::from_le_bytes(s));
      }
      case kShortBinUnicode:
      case kShortBinBytes: {
        CP_ASSIGN_OR_RETURN(uint64_t n, take_le(1));
        return text(code == kShortBinBytes ? Kind::kBytes : Kind::kStr, n);
      }
      case kBinUnicode:
      case kBinBytes: {
        CP_ASSIGN_OR_RETURN(uint64_t n, take_le(4));
        return text(code == kBinBytes ? Kind::kBytes : Kind::kStr, n);
      }
      case kBinUnicode8:
      case kBinBytes8: {
        CP_ASSIGN_OR_RETURN(uint64_t n, take_le(8));
        return text(code == kBinBytes8 ? Kind::kBytes : Kind::kStr, n);
      }
      case kEmptyTuple:
        return tuple_of({});
      case kTuple1:
      case kTuple2:
      case kTuple3: {
        size_t n = code - kTuple1 + 1;
        if (stack_.size() < floor() + n) {
          return fail(ErrorReason::kInvalidContent, "stack underflow");
        }
        std::vector<uint32_t> items(stack_.end() - n, stack_.end());
        stack_.resize(stack_.size() - n);
        return tuple_of(std::move(items));
      }
      case kTuple: {
        CP_ASSIGN_OR_RETURN(std::vector<uint32_t> items, pop_mark());
        return tuple_of(std::move(items));
      }
      case kEmptyList:
      case kList: {
        std::vector<uint32_t> items;
        if (code == kList) {
          CP_ASSIGN_OR_RETURN(items, pop_mark());
        }
        Node node;
        node.kind = Kind::kList;
        CP_ASSIGN_OR_RETURN(uint32_t id, add(std::move(node)));
        stack_.push_back(id);
        return append(id, items);
      }
      case kAppend: {
        CP_ASSIGN_OR_RETURN(uint32_t item, pop());
        CP_TRY(top_of_kind(Kind::kList));
        return append(stack_.back(), {item});
      }
      case kAppends: {
        CP_ASSIGN_OR_RETURN(std::vector<uint32_t> items, pop_mark());
        CP_TRY(top_of_kind(Kind::kList));
        return append(stack_.back(), items);
      }
      case kEmptyDict:
      case kDict: {
        std::vector<uint32_t> kv;
        if (code == kDict) {
          CP_ASSIGN_OR_RETURN(kv, pop_mark());
        }
        Node node;
        node.kind = Kind::kDict;
        CP_ASSIGN_OR_RETURN(uint32_t id, add(std::move(node)));
        stack_.push_back(id);
        return set_items(id, kv);
      }
      case kSetItem: {
        CP_ASSIGN_OR_RETURN(uint32_t value, pop());
        CP_ASSIGN_OR_RETURN(uint32_t key, pop());
        CP_TRY(top_of_kind(Kind::kDict));
        return set_items(stack_.back(), {key, value});
      }
      case kSetItems: {
        CP_ASSIGN_OR_RETURN(std::vector<uint32_t> kv, pop_mark());
        CP_TRY(top_of_kind(Kind::kDict));
        return set_items(stack_.back(), kv);
      }
      case kMemoize:
        return memo_put(memo_.size());
      case kBinPut: {
        CP_ASSIGN_OR_RETURN(uint64_t i, take_le(1));
        return memo_put(i);
      }
      case kLongBinPut: {
        CP_ASSIGN_OR_RETURN(uint64_t i, take_le(4));
        return memo_put(i);
      }
      case kBinGet: {
        CP_ASSIGN_OR_RETURN(uint64_t i, take_le(1));
        return memo_get(i);
      }
      case kLongBinGet: {
        CP_ASSIGN_OR_RETURN(uint64_t i, take_le(4));
        return memo_get(i);
      }
      case kGlobal: {
        CP_ASSIGN_OR_RETURN(std::string module, line());
        CP_ASSIGN_OR_RETURN(std::string name, line());
        return global(module, name);
      }
      case kStackGlobal: {
        CP_ASSIGN_OR_RETURN(uint32_t name, pop());
        CP_ASSIGN_OR_RETURN(uint32_t module, pop());
        if (nodes_[name].kind != Kind::kStr ||
            nodes_[module].kind != Kind::kStr ||
            nodes_[name].special != Node::Special::kNo ||
            nodes_[module].special != Node::Special::kNo) {
          return fail(ErrorReason::kInvalidContent,
                      "STACK_GLOBAL needs two str operands");
        }
        return global(nodes_[module].text, nodes_[name].text);
      }
      case kNewObj: {
        CP_ASSIGN_OR_RETURN(uint32_t args, pop());
        CP_ASSIGN_OR_RETURN(uint32_t cls, pop());
        if (nodes_[cls].special != Node::Special::kClass) {
          return fail(ErrorReason::kInvalidContent,
                      "NEWOBJ of something that is not the class");
        }
        if (nodes_[args].kind != Kind::kTuple ||
            nodes_[args].special != Node::Special::kNo ||
            !nodes_[args].items.empty()) {
          return fail(ErrorReason::kUnsupportedPickle,
                      "NEWOBJ with arguments (" + allowed_name() +
                          " is built from no arguments)");
        }
        Node node;
        node.special = Node::Special::kObject;
        return push_new(std::move(node));
      }
      case kBuild: {
        CP_ASSIGN_OR_RETURN(uint32_t state, pop());
        if (stack_.size() <= floor()) {
          return fail(ErrorReason::kInvalidContent, "stack underflow");
        }
        Node& obj = nodes_[stack_.back()];
        if (obj.special != Node::Special::kObject || !obj.items.empty()) {
          return fail(ErrorReason::kInvalidContent,
                      "BUILD on something that is not a new instance");
        }
        if (nodes_[state].kind != Kind::kDict ||
            nodes_[state].special != Node::Special::kNo) {
          return fail(ErrorReason::kUnsupportedPickle,
                      "BUILD with a state that is not a dict");
        }
        obj.items.push_back(state);
        return {};
      }
      default:
        return unsupported(code);
    }
  }

  // The tree of a node; `open` marks the containers being built, so a
  // container reached again inside itself is a cycle.
  Result<Value> build(uint32_t id, int depth, std::vector<bool>& open) {
    if (depth > limits_.max_depth) {
      return make_error(ErrorCode::kResourceExhausted,
                        ErrorReason::kLimitExceeded,
                        "pickle: value nested deeper than " +
                            std::to_string(limits_.max_depth) + " levels",
                        ErrorLocation{.offset = op_at_});
    }
    const Node& n = nodes_[id];
    if (n.special != Node::Special::kNo) {
      return make_error(ErrorCode::kDataLoss, ErrorReason::kUnsupportedPickle,
                        "pickle: " + allowed_name() +
                            " appears inside a value (only at the top)",
                        ErrorLocation{.offset = op_at_});
    }
    CP_TRY(charge(1 + n.text.size() + n.integer.le_bytes().size()));
    switch (n.kind) {
      case Kind::kNone:
        return Value();
      case Kind::kBool:
        return Value(n.boolean);
      case Kind::kInt:
        return Value(n.integer);
      case Kind::kStr:
        return Value(n.text);
      case Kind::kBytes:
        return Value(to_bytes(n.text));
      default:
        break;
    }
    if (open[id]) {
      return make_error(ErrorCode::kDataLoss, ErrorReason::kUnsupportedPickle,
                        "pickle: a recursive structure (a container inside "
                        "itself) has no tree form",
                        ErrorLocation{.offset = op_at_});
    }
    open[id] = true;
    std::vector<Value> items;
    items.reserve(n.items.size());
    for (uint32_t child : n.items) {
      CP_ASSIGN_OR_RETURN(Value v, build(child, depth + 1, open));
      items.push_back(std::move(v));
    }
    open[id] = false;
    if (n.kind == Kind::kTuple) return Value(Tuple{std::move(items)});
    if (n.kind == Kind::kList) return Value(List{std::move(items)});
    Dict d;
    d.items.reserve(items.size() / 2);
    for (size_t i = 0; i + 1 < items.size(); i += 2) {
      d.items.push_back({std::move(items[i]), std::move(items[i + 1])});
    }
    return Value(std::move(d));
  }

  ByteSpan data_;
  LoadLimits limits_;
  const ClassRef* allowed_ = nullptr;
  uint64_t budget_;
  size_t pos_ = 0;
  size_t op_at_ = 0;
  std::vector<Node> nodes_;
  std::vector<uint32_t> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, uint32_t> memo_;
};

}  // namespace

// ---- Int ---------------------------------------------------------------

namespace {
// Drops redundant sign-extension bytes.
void normalize(Bytes& b) {
  while (!b.empty()) {
    uint8_t last = static_cast<uint8_t>(b.back());
    bool prev_negative =
        b.size() >= 2 && (static_cast<uint8_t>(b[b.size() - 2]) & 0x80);
    if ((last == 0x00 && (b.size() == 1 || !prev_negative)) ||
        (last == 0xff && b.size() >= 2 && prev_negative)) {
      b.pop_back();
    } else {
      break;
    }
  }
}

// Magnitude as base-1e9 limbs is overkill for the sizes cached; 32-bit limbs
// with repeated division suffice.
std::vector<uint32_t> magnitude_limbs(const Bytes& le, bool negative) {
  Bytes mag = le;
  if (negative) {  // Two's complement negate.
    for (std::byte& b : mag) b = ~b;
    for (std::byte& b : mag) {
      b = static_cast<std::byte>(static_cast<uint8_t>(b) + 1);
      if (b != std::byte{0}) break;
    }
  }
  std::vector<uint32_t> limbs((mag.size() + 3) / 4, 0);
  for (size_t i = 0; i < mag.size(); ++i) {
    limbs[i / 4] |= static_cast<uint32_t>(static_cast<uint8_t>(mag[i]))
                    << (8 * (i % 4));
  }
  while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
  return limbs;
}
}  // namespace

Int::Int(int64_t value) {
  append_le(bytes_, static_cast<uint64_t>(value), 8);
  normalize(bytes_);
}

Int Int::from_uint64(uint64_t value) {
  Int i;
  i.bytes_.clear();
  append_le(i.bytes_, value, 8);
  i.bytes_.push_back(std::byte{0});
  normalize(i.bytes_);
  return i;
}

Int Int::from_le_bytes(ByteSpan bytes) {
  Int i;
  i.bytes_.assign(bytes.begin(), bytes.end());
  normalize(i.bytes_);
  return i;
}

bool Int::negative() const {
  return !bytes_.empty() && (static_cast<uint8_t>(bytes_.back()) & 0x80);
}

std::optional<int64_t> Int::to_int64() const {
  if (bytes_.size() > 8) return std::nullopt;
  uint64_t v = negative() ? ~uint64_t{0} : 0;
  for (size_t i = 0; i < bytes_.size(); ++i) {
    v &= ~(uint64_t{0xff} << (8 * i));
    v |= uint64_t{static_cast<uint8_t>(bytes_[i])} << (8 * i);
  }
  return static_cast<int64_t>(v);
}

std::string Int::to_decimal() const {
  std::vector<uint32_t> limbs = magnitude_limbs(bytes_, negative());
  std::string digits;
  while (!limbs.empty()) {
    uint64_t rem = 0;
    for (size_t i = limbs.size(); i-- > 0;) {
      uint64_t cur = (rem << 32) | limbs[i];
      limbs[i] = static_cast<uint32_t>(cur / 1000000000);
      rem = cur % 1000000000;
    }
    while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
    for (int k = 0; k < 9; ++k) {
      digits.push_back(static_cast<char>('0' + rem % 10));
      rem /= 10;
      if (limbs.empty() && rem == 0) break;
    }
  }
  if (digits.empty()) digits = "0";
  if (negative()) digits.push_back('-');
  std::reverse(digits.begin(), digits.end());
  return digits;
}

std::optional<Int> Int::from_decimal(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) return std::nullopt;
  std::vector<uint32_t> limbs;  // Magnitude, little-endian.
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t carry = static_cast<uint64_t>(c - '0');
    for (uint32_t& limb : limbs) {
      uint64_t cur = uint64_t{limb} * 10 + carry;
      limb = static_cast<uint32_t>(cur);
      carry = cur >> 32;
    }
    if (carry) limbs.push_back(static_cast<uint32_t>(carry));
  }
  Bytes b;
  for (uint32_t limb : limbs) append_le(b, limb, 4);
  b.push_back(std::byte{0});
  if (negative) {
    for (std::byte& x : b) x = ~x;
    for (std::byte& x : b) {
      x = static_cast<std::byte>(static_cast<uint8_t>(x) + 1);
      if (x != std::byte{0}) break;
    }
  }
  return from_le_bytes(b);
}

// ---- Value -------------------------------------------------------------

bool Value::hashable() const {
  switch (kind()) {
    case Kind::kList:
    case Kind::kDict:
      return false;
    case Kind::kTuple:
      return std::all_of(as<Tuple>()->items.begin(), as<Tuple>()->items.end(),
                         [](const Value& v) { return v.hashable(); });
    default:
      return true;
  }
}

namespace {
// bool is an int in Python's equality.
const Int* numeric(const Value& v, Int& scratch) {
  if (const bool* b = v.as<bool>()) {
    scratch = Int(*b ? 1 : 0);
    return &scratch;
  }
  return v.as<Int>();
}
}  // namespace

bool operator==(const Value& a, const Value& b) {
  Int sa, sb;
  const Int* na = numeric(a, sa);
  const Int* nb = numeric(b, sb);
  if (na || nb) return na && nb && *na == *nb;
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kNone:
      return true;
    case Kind::kStr:
      return *a.as<std::string>() == *b.as<std::string>();
    case Kind::kBytes:
      return *a.as<Bytes>() == *b.as<Bytes>();
    case Kind::kTuple:
      return a.as<Tuple>()->items == b.as<Tuple>()->items;
    case Kind::kList:
      return a.as<List>()->items == b.as<List>()->items;
    case Kind::kDict: {
      const auto& x = a.as<Dict>()->items;
      const auto& y = b.as<Dict>()->items;
      if (x.size() != y.size()) return false;
      std::unordered_map<std::string, const Value*> index;
      for (const DictItem& item : y) {
        index.emplace(equality_key(item.key), &item.value);
      }
      for (const DictItem& item : x) {
        auto it = index.find(equality_key(item.key));
        if (it == index.end() || !(*it->second == item.value)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

std::string equality_key(const Value& value) {
  std::string out;
  std::function<void(const Value&)> walk = [&](const Value& v) {
    Int scratch;
    if (const Int* n = numeric(v, scratch)) {
      out += 'i';
      out += std::to_string(n->le_bytes().size());
      out += ':';
      out += as_chars(n->le_bytes());
      return;
    }
    switch (v.kind()) {
      case Kind::kNone:
        out += 'N';
        return;
      case Kind::kStr:
        out += 's' + std::to_string(v.as<std::string>()->size()) + ':' +
               *v.as<std::string>();
        return;
      case Kind::kBytes:
        out += 'b' + std::to_string(v.as<Bytes>()->size()) + ':';
        out += as_chars(*v.as<Bytes>());
        return;
      case Kind::kTuple:
      case Kind::kList: {
        const auto& items = v.kind() == Kind::kTuple ? v.as<Tuple>()->items
                                                     : v.as<List>()->items;
        out += v.kind() == Kind::kTuple ? 't' : 'l';
        out += std::to_string(items.size()) + ':';
        for (const Value& item : items) walk(item);
        return;
      }
      case Kind::kDict: {
        // Order-insensitive: the items' keys sorted.
        std::vector<std::string> parts;
        for (const DictItem& item : v.as<Dict>()->items) {
          parts.push_back(equality_key(item.key) + equality_key(item.value));
        }
        std::sort(parts.begin(), parts.end());
        out += 'd' + std::to_string(parts.size()) + ':';
        for (const std::string& p : parts) {
          out += std::to_string(p.size()) + ':' + p;
        }
        return;
      }
      default:
        return;
    }
  };
  walk(value);
  return out;
}

namespace {
void repr_text(std::string& out, std::string_view s, bool is_bytes) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = (has_single && !has_double) ? '"' : '\'';
  if (is_bytes) out += 'b';
  out += quote;
  for (size_t i = 0; i < s.size(); ++i) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    char buf[8];
    if (c == static_cast<uint8_t>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f || (is_bytes && c >= 0x80)) {
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);  // Non-ASCII str: printed as is.
    }
  }
  out += quote;
}
}  // namespace

std::string repr(const Value& v) {
  std::string out;
  switch (v.kind()) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return *v.as<bool>() ? "True" : "False";
    case Kind::kInt:
      return v.as<Int>()->to_decimal();
    case Kind::kStr:
      repr_text(out, *v.as<std::string>(), false);
      return out;
    case Kind::kBytes:
      repr_text(out, as_chars(*v.as<Bytes>()), true);
      return out;
    case Kind::kTuple:
    case Kind::kList: {
      bool tuple = v.kind() == Kind::kTuple;
      const auto& items = tuple ? v.as<Tuple>()->items : v.as<List>()->items;
      out += tuple ? '(' : '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        out += repr(items[i]);
      }
      if (tuple && items.size() == 1) out += ',';
      out += tuple ? ')' : ']';
      return out;
    }
    case Kind::kDict: {
      out += '{';
      const auto& items = v.as<Dict>()->items;
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        out += repr(items[i].key) + ": " + repr(items[i].value);
      }
      out += '}';
      return out;
    }
  }
  return out;
}

std::string_view to_string(Kind kind) {
  switch (kind) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kStr:
      return "str";
    case Kind::kBytes:
      return "bytes";
    case Kind::kTuple:
      return "tuple";
    case Kind::kList:
      return "list";
    case Kind::kDict:
      return "dict";
  }
  return "?";
}

Result<Bytes> dumps(const Value& value, DumpOptions options) {
  return Encoder(options).run(value);
}

Result<Value> loads(ByteSpan data, LoadLimits limits) {
  return Decoder(data, limits).run();
}

Result<Bytes> dumps_object(const ClassRef& cls, const Dict& state,
                           DumpOptions options) {
  return Encoder(options).run_object(cls, state);
}

Result<Dict> loads_object(ByteSpan data, const ClassRef& cls,
                          LoadLimits limits) {
  return Decoder(data, limits, &cls).run_object();
}

}  // namespace cachepack::pickle
