#include "train/run_files.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace mimir {

namespace fs = std::filesystem;

namespace {

std::string os_reason() {
    return std::strerror(errno);
}

Status write_failed(const std::string& path, const std::string& why) {
    return Status::failure("write_failed", "cannot write " + path + ": " + why);
}

}  // namespace

Status finish_writing(std::FILE* file, const std::string& path) {
    if (std::fflush(file) != 0 || std::ferror(file)) return write_failed(path, os_reason());
    if (::fsync(::fileno(file)) != 0 && errno != EINVAL) return write_failed(path, os_reason());
    return ok_status();
}

Status write_file_atomically(const std::string& path, const std::function<bool(std::FILE*)>& write_body) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return write_failed(path, "it is a directory");
    const std::string temp = path + ".tmp-" + std::to_string(::getpid());
    std::FILE* file = std::fopen(temp.c_str(), "wb");
    if (!file) return write_failed(path, os_reason());
    errno = 0;
    const bool body_ok = write_body(file);
    const int body_errno = errno;
    Status finished = body_ok ? finish_writing(file, path)
                              : write_failed(path, body_errno ? std::strerror(body_errno) : "write error");
    if (std::fclose(file) != 0 && finished) finished = write_failed(path, os_reason());
    if (finished && std::rename(temp.c_str(), path.c_str()) != 0) finished = write_failed(path, os_reason());
    if (!finished) fs::remove(temp, ec);
    return finished;
}

Status write_text_atomically(const std::string& path, const std::string& text) {
    return write_file_atomically(
        path, [&](std::FILE* f) { return std::fwrite(text.data(), 1, text.size(), f) == text.size(); });
}

Status write_gguf_atomically(const gguf_context* gguf, const std::string& path) {
    return write_file_atomically(path, [&](std::FILE* f) { return gguf_write_to_file_ptr(gguf, f, false); });
}

Status prepare_output_dir(const std::string& dir) {
    std::error_code ec;
    if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
        return Status::failure("bad_output_dir", dir + " exists and is not a folder");
    }
    fs::create_directories(dir, ec);
    if (ec) return Status::failure("bad_output_dir", "cannot create " + dir + ": " + ec.message());
    if (::access(dir.c_str(), W_OK) != 0) {
        return Status::failure("bad_output_dir", dir + " is not writable: " + os_reason());
    }
    return ok_status();
}

}  // namespace mimir
