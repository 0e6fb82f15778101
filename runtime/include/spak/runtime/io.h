// spak/runtime/io.h — whole-file reads and atomic writes with precise errors (POSIX: fsync/rename/getpid).
//
//   std::string bytes = spak::rt::read_file("data/names.txt");      // "cannot open 'data/names.txt': No such file..."
//   spak::rt::write_file_atomic("ckpt.safetensors", bytes);           // writes ckpt.safetensors.tmp.<pid>, fsync, rename
//
// A reader never sees a half-written file: either the old file or the complete new one exists at `path`.
#pragma once

#include <cerrno>
#include <cstdio>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spak/runtime/check.h"

namespace spak::rt {

// Reads a whole file in binary mode. Errors name the path and the errno text; a directory is rejected.
inline std::string read_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) fail_io("cannot open", path, errno);
  if (S_ISDIR(st.st_mode)) fail(cat("cannot read '", path, "': it is a directory"));
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail_io("cannot open", path, errno);
  std::string data;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
  bool bad = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  if (bad) fail_io("error reading", path, err);
  return data;
}

inline bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

// The directory part of a path ("." when there is none).
inline std::string parent_dir(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// A file written atomically: bytes go to `<path>.tmp.<pid>`; commit() flushes, fsyncs, renames it over `path` and
// fsyncs the directory. Destroyed without commit() (an error on the way), the temporary file is removed and `path`
// is left untouched.
class AtomicFile {
public:
  explicit AtomicFile(std::string path) : path_(std::move(path)), tmp_(cat(path_, ".tmp.", long(::getpid()))) {
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (!f_) fail_io("cannot create", tmp_, errno);
  }
  ~AtomicFile() {
    if (f_) {
      std::fclose(f_);
      std::remove(tmp_.c_str());
    }
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size) {
    if (size != 0 && std::fwrite(data, 1, size, f_) != size) fail_io("cannot write", path_, errno);
  }
  void write(const std::string& s) { write(s.data(), s.size()); }

  void commit() {
    int err = 0;
    if (std::fflush(f_) != 0 || ::fsync(::fileno(f_)) != 0) err = errno;
    if (std::fclose(f_) != 0 && err == 0) err = errno;
    f_ = nullptr;
    if (err != 0) {
      std::remove(tmp_.c_str());
      fail_io("cannot write", path_, err);
    }
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      err = errno;
      std::remove(tmp_.c_str());
      fail_io("cannot rename the temporary file onto", path_, err);
    }
    int dfd = ::open(parent_dir(path_).c_str(), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {  // best effort: make the rename itself durable
      ::fsync(dfd);
      ::close(dfd);
    }
  }

  const std::string& temp_path() const { return tmp_; }

private:
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
};

// Writes `size` bytes to `path` atomically (see AtomicFile).
inline void write_file_atomic(const std::string& path, const void* data, size_t size) {
  AtomicFile f(path);
  f.write(data, size);
  f.commit();
}

inline void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace spak::rt
