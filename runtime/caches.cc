// The typed caches of cachepack/runtime_cache.h.
#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "cachepack/hash.h"
#include "cachepack/runtime_cache.h"
#include "util/file.h"

namespace cachepack::runtime {
namespace {

std::string string_of(ByteSpan b) { return std::string(as_chars(b)); }

// os.path.abspath: absolute, with ".", ".." and repeated slashes resolved
// textually.
std::string python_abspath(const std::string& path) {
  std::string full = path;
  if (full.empty() || full[0] != '/') {
    std::error_code ec;
    std::string cwd = std::filesystem::current_path(ec).string();
    full = cwd + "/" + full;
  }
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= full.size()) {
    size_t j = full.find('/', i);
    if (j == std::string::npos) j = full.size();
    std::string part = full.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out;
  for (const std::string& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

// tempfile's test of a candidate: a file can be created, written and
// removed in it.
bool usable_temp_dir(const std::string& dir) {
  std::random_device rd;
  std::string probe = dir + "/cachepack-probe-" + std::to_string(rd());
  int fd = ::open(probe.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = ::write(fd, "blat", 4) == 4;
  ::close(fd);
  ::unlink(probe.c_str());
  return ok;
}

std::string python_getuser() {
  for (const char* name : {"LOGNAME", "USER", "LNAME", "USERNAME"}) {
    const char* v = std::getenv(name);
    if (v && *v) return v;
  }
  if (struct passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_name) {
    return pw->pw_name;
  }
  return "uid_" + std::to_string(::getuid());
}

// An exclusive flock on `path` (created 0644 with its directories, as
// filelock's UnixFileLock does), held until destruction. Blocking.
class FlockGuard {
 public:
  static Result<FlockGuard> acquire(const std::string& path) {
    std::error_code ec;
    std::filesystem::create_directories(
        std::filesystem::path(path).parent_path(), ec);
    Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd.valid()) return io_error("open lock file", path, errno);
    while (::flock(fd.get(), LOCK_EX) != 0) {
      if (errno != EINTR) return io_error("flock", path, errno);
    }
    return FlockGuard(std::move(fd));
  }

 private:
  explicit FlockGuard(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;  // Closing releases the lock.
};

}  // namespace

// ---- Kinds -------------------------------------------------------------

Result<void> check_key(const Value& key) {
  switch (key.kind()) {
    case pickle::Kind::kStr:
    case pickle::Kind::kInt:
    case pickle::Kind::kBool:
    case pickle::Kind::kTuple:
      return {};
    default:
      return make_error(ErrorCode::kInvalidArgument, ErrorReason::kInvalidKey,
                        "a cache key is a str, int or tuple, not a " +
                            std::string(pickle::to_string(key.kind())));
  }
}

Result<void> check_value(const Value& value) {
  if (value.kind() == pickle::Kind::kNone) {
    return make_error(ErrorCode::kInvalidArgument, ErrorReason::kInvalidContent,
                      "a cache value is a str, int, tuple, bytes, dict or "
                      "list, not None (a stored None reads as a miss)");
  }
  return {};
}

// ---- InMemoryCache -----------------------------------------------------

Result<std::optional<Value>> InMemoryCache::get(const Value& key) {
  CP_TRY(check_key(key));
  std::string k = pickle::equality_key(key);
  std::lock_guard lock(mutex_);
  auto it = entries_.find(k);
  if (it == entries_.end()) return std::nullopt;
  return it->second.second;
}

Result<bool> InMemoryCache::insert(const Value& key, const Value& value) {
  CP_TRY(check_key(key));
  CP_TRY(check_value(value));
  std::string k = pickle::equality_key(key);
  std::lock_guard lock(mutex_);
  return entries_.emplace(std::move(k), std::make_pair(key, value)).second;
}

size_t InMemoryCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

Result<std::unique_ptr<InMemoryCache>> InMemoryCache::from_env_var(
    std::string_view name) {
  const char* v = std::getenv(std::string(name).c_str());
  return from_env_text(name,
                       v ? std::optional<std::string_view>(v) : std::nullopt);
}

namespace {
std::string_view strip(std::string_view s) {
  const char* ws = " \t\n\r\f\v";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}
}  // namespace

Result<std::unique_ptr<InMemoryCache>> InMemoryCache::from_env_text(
    std::string_view name, std::optional<std::string_view> text) {
  auto cache = std::make_unique<InMemoryCache>();
  if (!text) return cache;
  std::string where = "environment variable " + std::string(name);
  std::string_view rest = *text;
  while (true) {
    size_t semi = rest.find(';');
    std::string_view pair = strip(rest.substr(0, semi));
    if (!pair.empty()) {
      size_t comma = pair.find(',');
      if (comma == std::string_view::npos) {
        return make_error(ErrorCode::kInvalidArgument,
                          ErrorReason::kInvalidContent,
                          "malformed pair \"" + std::string(pair) + "\" in " +
                              where + ": no comma between key and value");
      }
      std::string_view sides[2] = {strip(pair.substr(0, comma)),
                                   strip(pair.substr(comma + 1))};
      Value kv[2];
      for (int i = 0; i < 2; ++i) {
        const char* side = i == 0 ? "key" : "value";
        Result<Bytes> bytes = parse_bytes_literal(sides[i]);
        if (!bytes) {
          return make_error(
              ErrorCode::kInvalidArgument, ErrorReason::kInvalidContent,
              std::string("malformed ") + side + " \"" + std::string(sides[i]) +
                  "\" in " + where + ": " + bytes.error().message());
        }
        Result<Value> v = pickle::loads(*bytes);
        if (!v) {
          return make_error(ErrorCode::kDataLoss, v.error().reason(),
                            std::string("malformed ") + side + " \"" +
                                std::string(sides[i]) + "\" in " + where +
                                ", not un-pickle-able: " + v.error().message());
        }
        kv[i] = std::move(*v);
      }
      CP_ASSIGN_OR_RETURN(bool inserted, cache->insert(kv[0], kv[1]));
      if (!inserted) {
        CP_ASSIGN_OR_RETURN(std::optional<Value> old, cache->get(kv[0]));
        if (!(*old == kv[1])) {
          return make_error(ErrorCode::kAlreadyExists,
                            ErrorReason::kInvalidContent,
                            "multiple values for key " + pickle::repr(kv[0]) +
                                " in " + where + ": " + pickle::repr(*old) +
                                " and " + pickle::repr(kv[1]));
        }
      }
    }
    if (semi == std::string_view::npos) break;
    rest.remove_prefix(semi + 1);
  }
  return cache;
}

Result<std::unique_ptr<InMemoryCache>> InMemoryCache::from_file_path(
    const std::string& path) {
  auto cache = std::make_unique<InMemoryCache>();
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return cache;
  CP_ASSIGN_OR_RETURN(Bytes data, read_file(path));
  CP_ASSIGN_OR_RETURN(Value v, in_file(pickle::loads(data), path));
  const pickle::Dict* d = v.as<pickle::Dict>();
  if (!d) {
    return make_error(ErrorCode::kDataLoss, ErrorReason::kInvalidContent,
                      "cache file holds a pickled " +
                          std::string(pickle::to_string(v.kind())) +
                          ", not a dict",
                      ErrorLocation{.file = path});
  }
  for (const pickle::DictItem& item : d->items) {
    CP_TRY(in_file(cache->insert(item.key, item.value), path));
  }
  return cache;
}

// ---- Bytes literals ----------------------------------------------------

Result<Bytes> parse_bytes_literal(std::string_view text) {
  auto bad = [&](std::string why) {
    return make_error(ErrorCode::kInvalidArgument, ErrorReason::kInvalidContent,
                      "not a Python bytes literal (" + why + ")");
  };
  Bytes out;
  std::string_view s = strip(text);
  if (s.empty()) return bad("empty");
  while (!s.empty()) {
    bool is_bytes = false, raw = false;
    size_t i = 0;
    while (i < s.size() && i < 2 &&
           std::string_view("bBrR").find(s[i]) != std::string_view::npos) {
      if (s[i] == 'b' || s[i] == 'B') {
        if (is_bytes) return bad("prefix");
        is_bytes = true;
      } else {
        if (raw) return bad("prefix");
        raw = true;
      }
      ++i;
    }
    if (!is_bytes) return bad("no b prefix");
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) return bad("quote");
    char q = s[i];
    bool triple = s.substr(i, 3) == std::string(3, q);
    size_t open = triple ? 3 : 1;
    i += open;
    bool closed = false;
    while (i < s.size()) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c >= 0x80) return bad("non-ASCII character");
      if (c == static_cast<unsigned char>(q) &&
          (!triple || s.substr(i, 3) == std::string(3, q))) {
        i += open;
        closed = true;
        break;
      }
      if (c == '\n' && !triple) return bad("newline in a one-line literal");
      if (c != '\\') {
        out.push_back(static_cast<std::byte>(c));
        ++i;
        continue;
      }
      if (i + 1 >= s.size()) return bad("unterminated escape");
      char e = s[i + 1];
      if (raw) {
        out.push_back(std::byte{'\\'});
        out.push_back(static_cast<std::byte>(e));
        i += 2;
        continue;
      }
      i += 2;
      switch (e) {
        case '\n':
          break;
        case '\\':
        case '\'':
        case '"':
          out.push_back(static_cast<std::byte>(e));
          break;
        case 'a':
          out.push_back(std::byte{7});
          break;
        case 'b':
          out.push_back(std::byte{8});
          break;
        case 'f':
          out.push_back(std::byte{12});
          break;
        case 'n':
          out.push_back(std::byte{10});
          break;
        case 'r':
          out.push_back(std::byte{13});
          break;
        case 't':
          out.push_back(std::byte{9});
          break;
        case 'v':
          out.push_back(std::byte{11});
          break;
        case 'x': {
          if (i + 2 > s.size() || !std::isxdigit(s[i]) ||
              !std::isxdigit(s[i + 1])) {
            return bad("truncated \\x escape");
          }
          out.push_back(static_cast<std::byte>(
              std::stoi(std::string(s.substr(i, 2)), nullptr, 16)));
          i += 2;
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            int v = e - '0';
            for (int k = 0; k < 2 && i < s.size() && s[i] >= '0' && s[i] <= '7';
                 ++k) {
              v = v * 8 + (s[i++] - '0');
            }
            if (v > 0xff) return bad("octal escape above 0o377");
            out.push_back(static_cast<std::byte>(v));
          } else {  // Unknown escapes stay as written.
            out.push_back(std::byte{'\\'});
            out.push_back(static_cast<std::byte>(e));
          }
      }
    }
    if (!closed) return bad("unterminated");
    s = strip(s.substr(i));
  }
  return out;
}

// ---- OnDiskCache -------------------------------------------------------

Bytes version_header(int version) {
  Sha256Digest d = sha256(as_bytes(std::to_string(version)));
  return Bytes(d.begin(), d.begin() + 4);
}

std::string python_gettempdir() {
  std::vector<std::string> candidates;
  for (const char* name : {"TMPDIR", "TEMP", "TMP"}) {
    if (const char* v = std::getenv(name)) candidates.emplace_back(v);
  }
  for (const char* d : {"/tmp", "/var/tmp", "/usr/tmp"}) {
    candidates.emplace_back(d);
  }
  std::error_code ec;
  candidates.push_back(std::filesystem::current_path(ec).string());
  for (const std::string& c : candidates) {
    std::string dir = python_abspath(c);
    if (usable_temp_dir(dir)) return dir;
  }
  return "/tmp";
}

std::string torch_default_cache_dir() {
  std::string user = python_getuser();
  for (char& c : user) {
    if (std::string_view("\\/:*?\"<>|").find(c) != std::string_view::npos) {
      c = '_';
    }
  }
  return python_gettempdir() + "/torchinductor_" + user;
}

OnDiskCache::OnDiskCache(std::string name)
    : base_dir_(python_gettempdir() + "/cache/" +
                (name.empty() ? std::string("on_disk_cache") : name)) {}

std::unique_ptr<OnDiskCache> OnDiskCache::inductor() {
  return at(torch_default_cache_dir() + "/cache/inductor_on_disk_cache");
}

std::unique_ptr<OnDiskCache> OnDiskCache::at(std::string base_dir) {
  return std::unique_ptr<OnDiskCache>(
      new OnDiskCache(AtDir{}, std::move(base_dir)));
}

Result<std::string> OnDiskCache::path_for(const Value& key) const {
  CP_TRY(check_key(key));
  Result<Bytes> pickled = pickle::dumps(key);
  if (!pickled) {
    return make_error(ErrorCode::kInvalidArgument, ErrorReason::kKeyEncoding,
                      "key " + pickle::repr(key) +
                          " is not pickle-able: " + pickled.error().message());
  }
  return base_dir_ + "/" + sha256_hex(*pickled).substr(0, 32);
}

namespace {
std::string lock_path(const std::string& file) {
  std::filesystem::path p(file);
  return (p.parent_path() / "locks" / p.filename().string().substr(0, 4))
             .string() +
         ".lock";
}
}  // namespace

Result<std::optional<Value>> OnDiskCache::get(const Value& key) {
  CP_ASSIGN_OR_RETURN(std::string path, path_for(key));
  CP_ASSIGN_OR_RETURN(FlockGuard lock, FlockGuard::acquire(lock_path(path)));
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return std::nullopt;
  }
  CP_ASSIGN_OR_RETURN(Bytes data, read_file(path));
  Bytes header = version_header();
  if (data.size() < header.size() ||
      !std::equal(header.begin(), header.end(), data.begin())) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return io_error("remove stale cache entry", path, errno);
    }
    return std::nullopt;
  }
  Result<Value> value = pickle::loads(ByteSpan(data).subspan(header.size()));
  if (!value) {
    Error e = std::move(value).error();
    std::optional<uint64_t> at = e.where().offset;
    return tl::unexpected(Error(
        ErrorCode::kDataLoss, ErrorReason::kValueDecoding,
        "value of key " + pickle::repr(key) + " is potentially corrupted (" +
            std::string(to_string(e.reason())) + "): " + e.message(),
        ErrorLocation{
            .file = path,
            .offset = at ? std::optional<uint64_t>(*at + header.size())
                         : std::nullopt}));
  }
  return std::optional<Value>(std::move(*value));
}

Result<bool> OnDiskCache::insert(const Value& key, const Value& value) {
  CP_ASSIGN_OR_RETURN(std::string path, path_for(key));
  CP_TRY(check_value(value));
  Result<Bytes> pickled = pickle::dumps(value);
  if (!pickled) {
    return make_error(ErrorCode::kInvalidArgument, ErrorReason::kValueEncoding,
                      "value for key " + pickle::repr(key) +
                          " is not pickle-able: " + pickled.error().message());
  }
  std::error_code ec;
  std::filesystem::create_directories(base_dir_, ec);
  if (ec) return io_error("create cache directory", base_dir_, ec.value());
  CP_ASSIGN_OR_RETURN(FlockGuard lock, FlockGuard::acquire(lock_path(path)));
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
  if (!fd.valid()) {
    if (errno == EEXIST) return false;
    return io_error("create cache entry", path, errno);
  }
  UnlinkUnlessKept guard(path);
  Bytes content = version_header();
  append_bytes(content, *pickled);
  CP_TRY(write_all(fd.get(), content, path));
  if (fd.close() != 0) return io_error("close cache entry", path, errno);
  guard.keep();
  return true;
}

// ---- AsyncCache --------------------------------------------------------

class AsyncCache::Pool {
 public:
  explicit Pool(size_t threads) {
    for (size_t i = 0; i < std::max<size_t>(1, threads); ++i) {
      workers_.emplace_back([this] { work(); });
    }
  }
  ~Pool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (std::thread& t : workers_) t.join();
  }
  void submit(std::function<void()> job) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    ready_.notify_one();
  }

 private:
  void work() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

AsyncCache::AsyncCache(std::shared_ptr<Cache> cache, size_t threads)
    : cache_(std::move(cache)), pool_(std::make_unique<Pool>(threads)) {}

AsyncCache::~AsyncCache() = default;

std::future<Result<std::optional<Value>>> AsyncCache::get_async(Value key) {
  auto task =
      std::make_shared<std::packaged_task<Result<std::optional<Value>>()>>(
          [cache = cache_, key = std::move(key)] { return cache->get(key); });
  auto future = task->get_future();
  pool_->submit([task] { (*task)(); });
  return future;
}

std::future<Result<bool>> AsyncCache::insert_async(Value key, Value value) {
  auto task = std::make_shared<std::packaged_task<Result<bool>()>>(
      [cache = cache_, key = std::move(key), value = std::move(value)] {
        return cache->insert(key, value);
      });
  auto future = task->get_future();
  pool_->submit([task] { (*task)(); });
  return future;
}

}  // namespace cachepack::runtime
