// Bundle throughput, each figure against a baseline measured in the same
// run on the same generated data (docs/BUNDLE.md, "Benchmark"):
//   pack / unpack       vs memcpy and the zstd CLI (same level, threads)
//   open + get of one 4 KiB entry in a 100,000-entry bundle vs a full read
//   Mega-Cache blob write / parse (PyTorch's own: 0.26-0.4 GB/s write,
//                                  0.4-1.2 GB/s read)
//   peak RSS of a child process packing 1 GiB (ru_maxrss)
// Usage: bundle_bench [--size-mib N] [--level N] [--threads N]
//                     [--entries N] [--rss-gib N] [--repeat N] [--dir DIR]
// On given files (tools/bench.sh, BENCHMARKS.md), one JSON line each:
//   bundle_bench --codec BLOB REPEAT        Mega-Cache parse / write times
//   bundle_bench --open-get CPK BLOB REPEAT open + get of one random entry
//       vs a full parse of the same artifacts' blob and a copy of that entry
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cachepack/bundle_reader.h"
#include "cachepack/bundle_writer.h"
#include "cachepack/hash.h"
#include "cachepack/megacache.h"
#include "util/file.h"
#include "util/file_lock.h"

namespace cachepack::bundle {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double gbps(uint64_t bytes, double s) { return bytes / s / 1e9; }

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bundle_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T check(Result<T> r, const char* what) {
  if (!r) die(std::string(what) + ": " + r.error().to_string());
  return std::move(*r);
}

void check(Result<void> r, const char* what) {
  if (!r) die(std::string(what) + ": " + r.error().to_string());
}

// Compile-cache-like content: source-ish tokens from a fixed vocabulary
// (generated code, JSON, pickled names) with runs of random bytes (constants,
// weights). zstd -3 gets roughly 3-4x on it, as on real inductor caches.
class ContentGenerator {
 public:
  explicit ContentGenerator(uint32_t seed) : rng_(seed) {
    std::uniform_int_distribution<int> len(3, 12), ch('a', 'z');
    for (auto& word : vocabulary_) {
      int n = len(rng_);
      for (int i = 0; i < n; ++i) word.push_back(static_cast<char>(ch(rng_)));
    }
  }

  void fill(std::byte* out, size_t n) {
    size_t pos = 0;
    while (pos < n) {
      uint32_t r = rng_();
      if (r % 64 == 0) {  // A short run of incompressible bytes.
        size_t run = std::min<size_t>(n - pos, 16 + r % 48);
        for (size_t i = 0; i < run; ++i) {
          out[pos++] = static_cast<std::byte>(rng_());
        }
        continue;
      }
      const std::string& w = vocabulary_[(r >> 8) % vocabulary_.size()];
      size_t k = std::min(w.size(), n - pos);
      std::memcpy(out + pos, w.data(), k);
      pos += k;
      if (pos < n) out[pos++] = std::byte((r >> 20) % 8 == 0 ? '\n' : ' ');
    }
  }

  uint32_t next() { return rng_(); }

 private:
  std::mt19937 rng_;
  std::array<std::string, 2048> vocabulary_;
};

struct Corpus {
  Bytes data;
  std::vector<std::pair<size_t, size_t>> entries;  // (offset, size)
};

// Entries of 4 KiB .. 2 MiB (log-uniform), like Triton kernels, FX graphs
// and autotune tables.
Corpus make_corpus(uint64_t total, uint32_t seed) {
  Corpus c;
  c.data.resize(total);
  ContentGenerator gen(seed);
  size_t pos = 0;
  while (pos < total) {
    double exp = 12 + (gen.next() % 1000) / 1000.0 * 9;  // 2^12 .. 2^21
    size_t n = std::min<size_t>(total - pos, size_t(std::pow(2.0, exp)));
    c.entries.emplace_back(pos, n);
    pos += n;
  }
  gen.fill(c.data.data(), total);
  return c;
}

std::string key_of(size_t i) { return "f" + std::to_string(i * 2654435761u); }

uint64_t file_size(const std::string& path) {
  return std::filesystem::file_size(path);
}

double run_shell(const std::string& command) {
  auto t = Clock::now();
  int rc = std::system(command.c_str());
  double s = seconds_since(t);
  if (rc != 0) die("command failed: " + command);
  return s;
}

void pack_and_unpack(const Corpus& corpus, const std::string& dir, int level,
                     int threads, int repeat) {
  uint64_t total = corpus.data.size();
  std::printf(
      "== pack/unpack: %.0f MiB in %zu entries (4 KiB..2 MiB), "
      "level %d, %d threads, best of %d\n",
      total / 1048576.0, corpus.entries.size(), level, threads, repeat);
  Bytes copy(total);
  auto t = Clock::now();
  std::memcpy(copy.data(), corpus.data.data(), total);
  double memcpy_s = seconds_since(t);
  copy = Bytes();

  std::string raw = dir + "/corpus.raw";
  check(write_file_replacing(raw, corpus.data), "write corpus");
  std::string zst = dir + "/corpus.zst";

  std::string cpk = dir + "/corpus.cpk";
  auto pack = [&](const WriterOptions& options) {
    auto writer = check(BundleWriter::create(cpk, options), "create");
    for (size_t i = 0; i < corpus.entries.size(); ++i) {
      auto [off, n] = corpus.entries[i];
      // The corpus outlives the writer: the zero-copy path convert uses.
      check(writer.add_borrowed("inductor", key_of(i),
                                ByteSpan(corpus.data).subspan(off, n)),
            "add");
    }
    check(writer.finish(), "finish");
  };
  WriterOptions options;
  options.level = level;
  options.threads = threads;
  // With dictionaries made by the writer from the first 16 MiB of entries
  // (their making included): entries then start with the context zstd's
  // single stream has for free. Raw-content dictionaries (--dict) cost
  // nothing to make; trained ones (--dict-kind trained) run ZDICT.
  WriterOptions raw_dict = options;
  raw_dict.train_dictionaries_bytes = 16 << 20;
  raw_dict.dictionary_kind = DictionaryKind::kRawContent;
  WriterOptions trained_dict = raw_dict;
  trained_dict.dictionary_kind = DictionaryKind::kTrained;
  t = Clock::now();
  pack(trained_dict);
  double trained_pack_s = seconds_since(t);
  uint64_t trained_size = file_size(cpk);

  // Unpack: every entry decompressed and checked, entries split across
  // the same number of threads.
  auto unpack = [&] {
    auto reader = check(BundleReader::open(cpk), "open");
    std::vector<std::thread> workers;
    std::atomic<uint64_t> unpacked{0};
    for (int w = 0; w < threads; ++w) {
      workers.emplace_back([&, w] {
        for (size_t i = w; i < reader.size(); i += threads) {
          auto content = check(reader.read(i), "read");
          unpacked += content.size();
        }
      });
    }
    for (auto& th : workers) th.join();
    if (unpacked != total) die("unpacked size differs");
  };

  // The machine is shared: each side runs `repeat` times, interleaved, and
  // the best time of each is kept.
  double pack_s = 1e30, unpack_s = 1e30, zstd_pack_s = 1e30,
         zstd_unpack_s = 1e30, dict_pack_s = 1e30;
  uint64_t dict_size = 0;
  for (int r = 0; r < repeat; ++r) {
    t = Clock::now();
    pack(raw_dict);
    dict_pack_s = std::min(dict_pack_s, seconds_since(t));
    dict_size = file_size(cpk);
    zstd_pack_s =
        std::min(zstd_pack_s,
                 run_shell("zstd -q -f -" + std::to_string(level) + " -T" +
                           std::to_string(threads) + " " + raw + " -o " + zst));
    t = Clock::now();
    pack(options);
    pack_s = std::min(pack_s, seconds_since(t));
    zstd_unpack_s = std::min(
        zstd_unpack_s, run_shell("zstd -q -d -c -T" + std::to_string(threads) +
                                 " " + zst + " > /dev/null"));
    t = Clock::now();
    unpack();
    unpack_s = std::min(unpack_s, seconds_since(t));
  }
  uint64_t cpk_size = file_size(cpk);
  uint64_t zstd_size = file_size(zst);

  // The bundle carries the SHA-256 of every entry, which the zstd CLI does
  // not compute: its CPU time, spread over the threads, is what pack pays
  // on top of compression.
  t = Clock::now();
  for (auto [off, n] : corpus.entries) {
    (void)sha256(ByteSpan(corpus.data).subspan(off, n));
  }
  double sha_s = seconds_since(t);

  double ratio = double(total) / cpk_size;
  double zstd_ratio = double(total) / zstd_size;
  std::printf("memcpy                 %7.2f GB/s\n", gbps(total, memcpy_s));
  std::printf("pack   cachepack       %7.2f GB/s  ratio %.3f\n",
              gbps(total, pack_s), ratio);
  std::printf(
      "pack   cachepack --dict %6.2f GB/s  ratio %.3f  (raw-content "
      "dictionaries)\n",
      gbps(total, dict_pack_s), double(total) / dict_size);
  std::printf(
      "pack   cachepack --dict-kind trained %5.2f GB/s  ratio %.3f  (ZDICT "
      "training included, one run)\n",
      gbps(total, trained_pack_s), double(total) / trained_size);
  std::printf("pack   zstd -%d -T%d     %7.2f GB/s  ratio %.3f\n", level,
              threads, gbps(total, zstd_pack_s), zstd_ratio);
  std::printf(
      "sha256 (1 thread)      %7.2f GB/s  = %.0f%% of pack wall time at %d "
      "threads\n",
      gbps(total, sha_s), sha_s / threads / pack_s * 100, threads);
  std::printf("unpack cachepack       %7.2f GB/s\n", gbps(total, unpack_s));
  std::printf("unpack zstd -d         %7.2f GB/s\n",
              gbps(total, zstd_unpack_s));
  std::printf(
      "=> pack speed %.2fx zstd CLI (%.2fx with --dict; target >= 1), "
      "ratio %+.2f%% vs zstd (%+.2f%% with --dict; target within 3%%), "
      "unpack %.2fx zstd CLI; pack at %.1f%% of memcpy\n",
      zstd_pack_s / pack_s, zstd_pack_s / dict_pack_s,
      (ratio / zstd_ratio - 1) * 100,
      (double(total) / dict_size / zstd_ratio - 1) * 100,
      zstd_unpack_s / unpack_s, memcpy_s / pack_s * 100);
  std::filesystem::remove(raw);
  std::filesystem::remove(zst);
  std::filesystem::remove(cpk);
}

void open_and_get(const std::string& dir, size_t count, int threads) {
  std::printf("== open + get one 4 KiB entry of %zu vs a full read\n", count);
  std::string cpk = dir + "/many.cpk";
  ContentGenerator gen(7);
  {
    WriterOptions options;
    options.threads = threads;
    auto writer = check(BundleWriter::create(cpk, options), "create");
    Bytes content(4096);
    for (size_t i = 0; i < count; ++i) {
      gen.fill(content.data(), content.size());
      check(writer.add("autotune", key_of(i), content), "add");
    }
    check(writer.finish(), "finish");
  }
  // Warm the page cache once so both sides read from memory.
  check(read_file(cpk), "warm");
  constexpr int kGets = 200;
  std::mt19937 rng(1);
  auto t = Clock::now();
  for (int g = 0; g < kGets; ++g) {
    auto reader = check(BundleReader::open(cpk), "open");
    auto got = check(reader.get("autotune", key_of(rng() % count)), "get");
    if (!got || got->size() != 4096) die("get missed");
  }
  double get_s = seconds_since(t) / kGets;
  t = Clock::now();
  auto reader = check(BundleReader::open(cpk), "open");
  uint64_t bytes = 0;
  for (size_t i = 0; i < reader.size(); ++i) {
    bytes += check(reader.read(i), "read").size();
  }
  double full_s = seconds_since(t);
  std::printf("open+get   %9.1f us   (%d opens of a %.0f MiB bundle)\n",
              get_s * 1e6, kGets, file_size(cpk) / 1048576.0);
  std::printf("full read  %9.1f ms   (%zu entries, %.0f MiB)\n", full_s * 1e3,
              reader.size(), bytes / 1048576.0);
  std::printf("=> open+get is %.0fx faster than a full read (target >= 100)\n",
              full_s / get_s);
  std::filesystem::remove(cpk);
}

void megacache_throughput(uint64_t total) {
  std::printf("== Mega-Cache blob write/read, %.0f MiB\n", total / 1048576.0);
  Corpus corpus = make_corpus(total, 3);
  std::vector<std::string> keys;
  std::vector<megacache::KeyedContent> entries;
  keys.reserve(corpus.entries.size());
  for (size_t i = 0; i < corpus.entries.size(); ++i) {
    keys.push_back(key_of(i) + "abcdefghijklmnopqrstuvwxyz234567abcdefghij");
  }
  for (size_t i = 0; i < corpus.entries.size(); ++i) {
    auto [off, n] = corpus.entries[i];
    entries.push_back({keys[i], ByteSpan(corpus.data).subspan(off, n)});
  }
  Bytes copy(total);
  auto t = Clock::now();
  std::memcpy(copy.data(), corpus.data.data(), total);
  double memcpy_s = seconds_since(t);
  copy = Bytes();
  t = Clock::now();
  megacache::Writer writer;
  check(writer.append_group("inductor", entries), "append_group");
  ByteSpan blob = writer.bytes();
  double write_s = seconds_since(t);
  t = Clock::now();
  auto parsed = check(megacache::parse(blob), "parse");
  double read_s = seconds_since(t);
  if (parsed.artifact_count() != entries.size()) die("parse lost artifacts");
  std::printf("memcpy            %6.2f GB/s\n", gbps(total, memcpy_s));
  std::printf("write (C++)       %6.2f GB/s   PyTorch: 0.26-0.4 GB/s\n",
              gbps(blob.size(), write_s));
  std::printf(
      "read  (C++)       %6.2f GB/s   PyTorch: 0.4-1.2 GB/s "
      "(target >= 2)\n",
      gbps(blob.size(), read_s));
  std::printf("=> write %.1fx PyTorch's best, read %.1fx PyTorch's best\n",
              gbps(blob.size(), write_s) / 0.4,
              gbps(blob.size(), read_s) / 1.2);
}

// Runs in a fresh process (exec'd), so nothing but packing shows in its
// peak RSS: entries are generated one at a time into a reused buffer.
int rss_child(uint64_t total, const std::string& out, int level, int threads) {
  WriterOptions options;
  options.level = level;
  options.threads = threads;
  auto writer = check(BundleWriter::create(out, options), "create");
  ContentGenerator gen(11);
  Bytes buffer(4 << 20);
  uint64_t done = 0;
  for (size_t i = 0; done < total; ++i) {
    size_t n =
        std::min<uint64_t>(total - done, 64 * 1024 + gen.next() % (4 << 20));
    n = std::min(n, buffer.size());
    gen.fill(buffer.data(), n);
    check(writer.add("inductor", key_of(i), ByteSpan(buffer).first(n)), "add");
    done += n;
  }
  check(writer.finish(), "finish");
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("%ld\n", usage.ru_maxrss);
  return 0;
}

void peak_rss(uint64_t total, const std::string& dir, int level, int threads) {
  std::printf("== peak RSS packing %.1f GiB (child process)\n",
              total / 1073741824.0);
  std::string out = dir + "/rss.cpk";
  std::string command = "/proc/" + std::to_string(::getpid()) +
                        "/exe --rss-child " + std::to_string(total) + " " +
                        out + " " + std::to_string(level) + " " +
                        std::to_string(threads);
  auto t = Clock::now();
  FILE* p = ::popen(command.c_str(), "r");
  long kib = 0;
  if (!p || std::fscanf(p, "%ld", &kib) != 1) die("rss child failed");
  if (::pclose(p) != 0) die("rss child failed");
  double s = seconds_since(t);
  std::printf(
      "peak RSS %.1f MiB while packing %.1f GiB in %.1f s (target < "
      "128 MiB)\n",
      kib / 1024.0, total / 1073741824.0, s);
  std::filesystem::remove(out);
}

std::string json_list(const std::vector<double>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    out += (i ? "," : "") + std::to_string(v[i]);
  }
  return out + "]";
}

// The blob parsed (every group, key and length checked, the CRC-32 of the
// whole blob included) and written back from the parsed views, `repeat`
// times each, in this process: the C++ side of PyTorch's serializer.
int codec_file(const std::string& path, int repeat) {
  Bytes blob = check(read_file(path), "read blob");
  std::vector<double> read_s, write_s;
  for (int r = 0; r < repeat; ++r) {
    auto t = Clock::now();
    auto parsed = check(megacache::parse(blob), "parse");
    read_s.push_back(seconds_since(t));
    t = Clock::now();
    megacache::Writer writer;
    for (const auto& group : parsed.groups) {
      std::vector<megacache::KeyedContent> entries;
      entries.reserve(group.artifacts.size());
      for (const auto& a : group.artifacts)
        entries.push_back({a.key, a.content});
      check(writer.append_group(group.type, entries), "append_group");
    }
    uint64_t written = writer.bytes().size();
    write_s.push_back(seconds_since(t));
    if (written != blob.size()) die("wrote back a blob of another size");
  }
  std::printf("{\"read_s\":%s,\"write_s\":%s,\"bytes\":%zu}\n",
              json_list(read_s).c_str(), json_list(write_s).c_str(),
              blob.size());
  return 0;
}

// Random access: per repetition, open the bundle and get one entry chosen
// at random, against reading the blob that holds the same artifacts,
// parsing all of it and copying that one artifact out (what a reader of
// PyTorch's format must do; this is its fastest form, zero-copy C++).
// Both from the page cache: the files are read once first.
int open_get_file(const std::string& cpk, const std::string& blob_path,
                  int repeat) {
  (void)check(read_file(cpk), "warm");
  std::vector<std::pair<std::string, std::string>> keys;
  {
    auto reader = check(BundleReader::open(cpk), "open");
    for (const auto& e : check(reader.entries(), "entries")) {
      keys.emplace_back(e.type, e.key);
    }
  }
  if (keys.empty()) die(cpk + " holds no entry");
  std::mt19937 rng(1);
  std::vector<double> get_s, parse_s;
  for (int r = 0; r < repeat; ++r) {
    const auto& [type, key] = keys[rng() % keys.size()];
    auto t = Clock::now();
    auto reader = check(BundleReader::open(cpk), "open");
    auto got = check(reader.get(type, key), "get");
    get_s.push_back(seconds_since(t));
    if (!got) die("get missed " + key);
    t = Clock::now();
    Bytes blob = check(read_file(blob_path), "read blob");
    auto parsed = check(megacache::parse(blob), "parse");
    Bytes copy;
    for (const auto& group : parsed.groups) {
      if (group.type != type) continue;
      for (const auto& a : group.artifacts) {
        if (a.key == key) copy.assign(a.content.begin(), a.content.end());
      }
    }
    parse_s.push_back(seconds_since(t));
    if (copy.size() != got->size()) die("blob and bundle differ on " + key);
  }
  std::printf("{\"open_get_s\":%s,\"full_parse_s\":%s,\"entries\":%zu}\n",
              json_list(get_s).c_str(), json_list(parse_s).c_str(),
              keys.size());
  return 0;
}

}  // namespace
}  // namespace cachepack::bundle

int main(int argc, char** argv) {
  using namespace cachepack::bundle;
  if (argc == 4 && std::string(argv[1]) == "--codec") {
    return codec_file(argv[2], std::max(1, std::atoi(argv[3])));
  }
  if (argc == 5 && std::string(argv[1]) == "--open-get") {
    return open_get_file(argv[2], argv[3], std::max(1, std::atoi(argv[4])));
  }
  if (argc == 6 && std::string(argv[1]) == "--rss-child") {
    return rss_child(std::stoull(argv[2]), argv[3], std::atoi(argv[4]),
                     std::atoi(argv[5]));
  }
  uint64_t size_mib = 256, entries = 100000, rss_gib = 1;
  int level = 3, threads = 2, repeat = 3;
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = tmp ? tmp : "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--size-mib")
      size_mib = std::stoull(value);
    else if (flag == "--level")
      level = std::stoi(value);
    else if (flag == "--threads")
      threads = std::stoi(value);
    else if (flag == "--entries")
      entries = std::stoull(value);
    else if (flag == "--rss-gib")
      rss_gib = std::stoull(value);
    else if (flag == "--dir")
      dir = value;
    else if (flag == "--repeat")
      repeat = std::max(1, std::stoi(value));
    else
      die("unknown flag " + flag);
  }
  std::string work = dir + "/bundle_bench.XXXXXX";
  if (!::mkdtemp(work.data())) die("mkdtemp in " + dir);
  // The RSS child goes first, before this process holds any data.
  peak_rss(rss_gib << 30, work, level, threads);
  {
    Corpus corpus = make_corpus(size_mib << 20, 1);
    pack_and_unpack(corpus, work, level, threads, repeat);
  }
  open_and_get(work, entries, threads);
  megacache_throughput(size_mib << 20);
  std::filesystem::remove_all(work);
  return 0;
}
