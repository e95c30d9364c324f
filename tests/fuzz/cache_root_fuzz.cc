// libFuzzer target for the export walks of the local backends over a
// hostile directory tree. The input is a list of operations that build a
// tree under a fresh cache root: directories, files, symlinks to a secret
// file and a directory outside the root, links to "..", FIFOs, all under
// names that PyTorch's and cachepack's layouts use. Then torch:// and
// file:// list, read, stat and gc it. Checked: nothing hangs (a FIFO would),
// nothing read is the secret, and nothing outside the root changes.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "backends/disk_backend.h"
#include "backends/torch_dir_backend.h"

namespace {

namespace fs = std::filesystem;
using namespace cachepack;

constexpr std::string_view kSecret = "outside the cache root";

// Names the layouts give meaning to, so the walks reach deep.
const std::array<std::string, 24> kNames = {
    "fxgraph",
    "aotautograd",
    "dynamo",
    "cachepack",
    "inductor_triton",
    "objects",
    "locks",
    "tmp",
    "qq",
    "fqq" + std::string(49, 'q'),
    "a" + std::string(51, 'b'),
    "entry",
    "code_state_x.pkl",
    "code_state_x.pkl.lock",
    std::string(64, 'e'),
    "cx",
    std::string(64, 'e') + ".best_config",
    "0123456789abcdef",
    "ab",
    "ab.lock",
    std::string(64, 'a'),
    ".x.cpk~1~host~2.tmp",
    "..",
    "zz",
};

struct Reader {
  const uint8_t* data;
  size_t size;
  size_t at = 0;
  bool more() const { return at < size; }
  uint8_t next() { return at < size ? data[at++] : 0; }
};

std::string temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/cpfuzz-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

// Relative path of 1-3 components from the input.
std::string path_from(Reader& in) {
  int depth = 1 + in.next() % 3;
  std::string path;
  for (int i = 0; i < depth; ++i) {
    if (!path.empty()) path += "/";
    path += kNames[in.next() % kNames.size()];
  }
  return path;
}

// Whether some existing component of `rel` below `root` is not a plain
// directory: the harness itself must not build through its own links.
bool through_link(const std::string& root, const std::string& rel) {
  std::string at = root;
  size_t from = 0;
  while (true) {
    size_t slash = rel.find('/', from);
    if (slash == std::string::npos) return false;
    at += "/" + rel.substr(from, slash - from);
    struct stat st {};
    if (::lstat(at.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) return true;
    from = slash + 1;
  }
}

void build_tree(Reader& in, const std::string& root,
                const std::string& outside) {
  for (int ops = 0; in.more() && ops < 64; ++ops) {
    uint8_t op = in.next();
    std::string rel = path_from(in);
    if (through_link(root, rel) || rel.find("..") != std::string::npos) {
      continue;
    }
    std::string path = root + "/" + rel;
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    switch (op % 7) {
      case 0:
        fs::create_directories(path, ec);
        break;
      case 1: {
        struct stat st {};
        if (::lstat(path.c_str(), &st) == 0) break;  // Never write via a link.
        std::ofstream(path) << std::string(in.next() % 64, 'c');
        break;
      }
      case 2:
        fs::create_symlink(outside + "/secret", path, ec);
        break;
      case 3:
        fs::create_directory_symlink(outside, path, ec);
        break;
      case 4:
        fs::create_symlink("..", path, ec);
        break;
      case 5:
        ::mkfifo(path.c_str(), 0644);
        break;
      case 6:
        fs::create_symlink(outside + "/missing", path, ec);
        break;
    }
  }
}

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "cache_root_fuzz: %s\n", why.c_str());
  std::abort();
}

void check_not_secret(const Result<std::optional<Bytes>>& v,
                      std::string_view where) {
  if (v && *v && as_chars(**v) == kSecret) {
    fail("read the secret through " + std::string(where));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string base = temp_dir();
  std::string outside = base + "/outside";
  std::string root = base + "/root";
  fs::create_directories(outside + "/dir");
  std::ofstream(outside + "/secret") << kSecret;
  fs::create_directories(root);
  Reader in{data, size};
  build_tree(in, root, outside);

  if (auto torch = TorchDirBackend::open({.root = root})) {
    if (auto types = (*torch)->namespaces()) {
      for (const auto& ns : *types) {
        auto keys = (*torch)->list(ns);
        if (!keys) continue;
        for (const auto& k : *keys) {
          check_not_secret((*torch)->get(ns, k), "torch://" + ns + " " + k);
        }
      }
    }
  }
  if (auto disk = DiskBackend::open({.root = root})) {
    if (auto types = (*disk)->namespaces()) {
      for (const auto& ns : *types) {
        auto keys = (*disk)->list(ns);
        if (!keys) continue;
        for (const auto& k : *keys) {
          check_not_secret((*disk)->get(ns, k), "file://" + ns + " " + k);
        }
      }
    }
    (void)(*disk)->usage();
    (void)(*disk)->gc(0);
  }
  // gc and the walks must leave everything outside as it was.
  std::ifstream secret(outside + "/secret");
  std::string text((std::istreambuf_iterator<char>(secret)), {});
  if (text != kSecret) fail("the secret changed");
  if (!fs::is_directory(outside + "/dir")) fail("outside/dir is gone");
  size_t entries = 0;
  for (auto it = fs::directory_iterator(outside);
       it != fs::directory_iterator(); ++it) {
    ++entries;
  }
  if (entries != 2) {
    std::string names;
    for (const auto& e : fs::directory_iterator(outside)) {
      names += " " + e.path().filename().string();
    }
    fail("outside holds" + names);
  }
  std::error_code ec;
  fs::remove_all(base, ec);
  return 0;
}
