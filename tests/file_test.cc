// util/file.h: BufferedWriter keeps its offset across buffered and direct
// writes and closes only a descriptor it owns; pwrite_all writes at an
// offset without moving the file position; MappedFile::release gives back
// memory, never bytes.
#include "util/file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "tests/testing/result_matchers.h"

namespace cachepack {
namespace {

using testing::IsOk;
using testing::IsOkAndHolds;

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/file-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl.data());
    path_ = dir_ + "/out";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Fd create() const {
    return Fd(::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644));
  }

  std::string dir_;
  std::string path_;
};

TEST_F(FileTest, BufferedWriterWritesEverythingInOrder) {
  Bytes big(3 << 20, std::byte{'b'});  // Over the buffer: written directly.
  {
    BufferedWriter out(create(), path_, 0);
    ASSERT_THAT(out.write(to_bytes("small ")), IsOk());
    ASSERT_THAT(out.write(big), IsOk());
    ASSERT_THAT(out.write(to_bytes(" end")), IsOk());
    EXPECT_EQ(out.pos(), 6 + big.size() + 4);
    ASSERT_THAT(out.flush(), IsOk());
    ASSERT_THAT(out.close(), IsOk());
  }
  Bytes expected = to_bytes("small ");
  append_bytes(expected, big);
  append_bytes(expected, to_bytes(" end"));
  EXPECT_THAT(read_file(path_), IsOkAndHolds(expected));
}

TEST_F(FileTest, BufferedWriterLeavesABorrowedDescriptorOpen) {
  Fd fd = create();
  {
    BufferedWriter out = BufferedWriter::borrowing(fd.get(), path_, 0);
    ASSERT_THAT(out.write(to_bytes("x")), IsOk());
    ASSERT_THAT(out.flush(), IsOk());
    ASSERT_THAT(out.close(), IsOk());
  }
  EXPECT_EQ(::fcntl(fd.get(), F_GETFD), 0) << "descriptor was closed";
}

TEST_F(FileTest, BufferedWriterClosesAnOwnedDescriptor) {
  Fd fd = create();
  int raw = fd.get();
  { BufferedWriter out(std::move(fd), path_, 0); }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST_F(FileTest, PwriteAllWritesAtAnOffsetAndKeepsThePosition) {
  Fd fd = create();
  ASSERT_THAT(write_all(fd.get(), to_bytes("0123456789"), path_), IsOk());
  ASSERT_THAT(pwrite_all(fd.get(), to_bytes("ab"), 4, path_), IsOk());
  EXPECT_EQ(::lseek(fd.get(), 0, SEEK_CUR), 10);
  EXPECT_THAT(read_file(path_), IsOkAndHolds(to_bytes("0123ab6789")));
}

// Resident pages of this process (/proc/self/statm, second field).
long resident_pages() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident;
}

TEST_F(FileTest, MappedFileReleaseDropsPagesAndKeepsEveryByte) {
  constexpr size_t kSize = 32 << 20;
  Bytes content(kSize);
  std::mt19937_64 rng(3);
  for (auto& b : content) b = static_cast<std::byte>(rng());
  {
    Fd fd = create();
    ASSERT_THAT(write_all(fd.get(), content, path_), IsOk());
  }
  auto file = MappedFile::open(path_);
  ASSERT_THAT(file, IsOk());
  ByteSpan bytes = file->bytes();
  ASSERT_TRUE(std::equal(bytes.begin(), bytes.end(), content.begin()));
  const long touched = resident_pages();

  // Ranges that start and end inside pages, the whole file, and ranges
  // outside the mapping (ignored).
  file->release(bytes.subspan(1, 5000));
  file->release(bytes.subspan(4097, 3 << 20));
  file->release(bytes);
  file->release(ByteSpan(content).first(4096));
  const long released = resident_pages();
  const long page = ::sysconf(_SC_PAGESIZE);
  EXPECT_GT(touched - released, static_cast<long>(kSize / page) * 3 / 4)
      << "touched " << touched << " pages, " << released << " after release";

  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), content.begin()));
}

TEST_F(FileTest, FsyncDirectoryOfNamesAMissingDirectory) {
  EXPECT_THAT(fsync_directory_of(dir_ + "/no/such/file"),
              testing::HasError(ErrorCode::kNotFound));
  EXPECT_THAT(fsync_directory_of(path_), IsOk());
}

}  // namespace
}  // namespace cachepack
