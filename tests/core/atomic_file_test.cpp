#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "temp_folder.h"

using entlab::Error;
using entlab::read_file;
using entlab::write_file_atomically;
using entlab_test::TempFolder;

TEST_CASE("atomic write creates then replaces") {
  TempFolder folder;
  std::string path = folder.file("state.bin");

  write_file_atomically(path, "first version");
  CHECK(read_file(path) == "first version");

  write_file_atomically(path, "second");
  CHECK(read_file(path) == "second");
  CHECK(folder.entries() == std::vector<std::string>{"state.bin"});
}

TEST_CASE("atomic write keeps binary bytes") {
  TempFolder folder;
  std::string path = folder.file("binary.bin");
  std::string bytes("a\0b\xff\n", 5);

  write_file_atomically(path, bytes);
  CHECK(read_file(path) == bytes);

  write_file_atomically(path, "");
  CHECK(read_file(path).empty());
}

TEST_CASE("atomic write reads back a large file") {
  TempFolder folder;
  std::string path = folder.file("large.bin");
  std::string bytes(3 * 65536 + 17, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 31 % 251);

  write_file_atomically(path, bytes);
  CHECK(read_file(path) == bytes);
}

TEST_CASE("atomic write into a missing folder") {
  TempFolder folder;
  std::string path = folder.file("no_such_folder/out.bin");
  CHECK_THROWS_WITH_AS(write_file_atomically(path, "x"), doctest::Contains(path.c_str()), Error);
  CHECK_THROWS_WITH_AS(write_file_atomically(path, "x"), doctest::Contains("No such file or directory"),
                       Error);
}

TEST_CASE("failed rename removes the temporary") {
  // A folder in place of the target makes the final rename fail after the temporary file
  // was written and synced.
  TempFolder folder;
  std::string path = folder.file("target");
  std::filesystem::create_directory(path);
  std::filesystem::create_directory(path + "/keep");

  CHECK_THROWS_WITH_AS(write_file_atomically(path, "new content"), doctest::Contains("rename"), Error);
  CHECK(folder.entries() == std::vector<std::string>{"target"});
  CHECK(std::filesystem::is_directory(path + "/keep"));
}

TEST_CASE("atomic write rejects an empty path") {
  CHECK_THROWS_WITH_AS(write_file_atomically("", "x"), doctest::Contains("path is empty"), Error);
}

TEST_CASE("read_file of a missing file") {
  TempFolder folder;
  std::string path = folder.file("missing.npy");
  CHECK_THROWS_WITH_AS(read_file(path), doctest::Contains(("cannot open '" + path + "'").c_str()), Error);
  CHECK_THROWS_WITH_AS(read_file(path), doctest::Contains("No such file or directory"), Error);
}

TEST_CASE("read_file of a folder") {
  TempFolder folder;
  CHECK_THROWS_WITH_AS(read_file(folder.path()), doctest::Contains("not a regular file"), Error);
}

TEST_CASE("read_file of a fifo does not block") {
  TempFolder folder;
  const std::string path = folder.file("pipe");
  REQUIRE(::mkfifo(path.c_str(), 0644) == 0);
  CHECK_THROWS_WITH_AS(read_file(path), doctest::Contains("not a regular file"), Error);
}

TEST_CASE("read_file of a device") {
  CHECK_THROWS_WITH_AS(read_file("/dev/zero"), doctest::Contains("not a regular file"), Error);
}
