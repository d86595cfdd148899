#include "support/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace mimir {

namespace fs = std::filesystem;

namespace {

std::string os_reason(int error_number = errno) {
    return std::strerror(error_number);
}

Status write_failed(const std::string& path, const std::string& why) {
    return Status::failure("write_failed", "cannot write " + path + ": " + why);
}

// Unique per process and call, so two writers of the same file (threads, or processes sharing a folder)
// never share a temp file.
std::string temp_path_for(const std::string& path) {
    static std::atomic<unsigned> counter{0};
    return path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

std::string folder_of(const std::string& path) {
    const fs::path parent = fs::path(path).parent_path();
    return parent.empty() ? "." : parent.string();
}

// Makes a rename in `folder` durable. Some file systems cannot sync a folder (EINVAL): nothing to do there.
Status sync_folder(const std::string& folder, const std::string& path) {
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return write_failed(path, "cannot open its folder " + folder + ": " + os_reason());
    const bool synced = ::fsync(fd) == 0 || errno == EINVAL;
    const int sync_errno = errno;
    ::close(fd);
    if (!synced) return write_failed(path, "cannot sync its folder " + folder + ": " + os_reason(sync_errno));
    return ok_status();
}

// The one place a finished temp file becomes `path`.
Status rename_into_place(const std::string& temp, const std::string& path) {
    if (std::rename(temp.c_str(), path.c_str()) != 0) return write_failed(path, os_reason());
    return sync_folder(folder_of(path), path);
}

Status sync_file(std::FILE* file, const std::string& path) {
    if (std::fflush(file) != 0 || std::ferror(file)) return write_failed(path, os_reason());
    if (::fsync(::fileno(file)) != 0 && errno != EINVAL) return write_failed(path, os_reason());
    return ok_status();
}

}  // namespace

Status write_file_atomically(const std::string& path, const std::function<bool(std::FILE*)>& write_body) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return write_failed(path, "it is a folder");
    const std::string temp = temp_path_for(path);
    std::FILE* file = std::fopen(temp.c_str(), "wb");
    if (!file)
        return write_failed(path, "cannot create a temp file in " + folder_of(path) + ": " + os_reason());
    errno = 0;
    const bool body_ok = write_body(file);
    const int body_errno = errno;
    Status finished = body_ok ? sync_file(file, path)
                              : write_failed(path, body_errno ? os_reason(body_errno) : "write error");
    if (std::fclose(file) != 0 && finished) finished = write_failed(path, os_reason());
    if (finished) finished = rename_into_place(temp, path);
    if (!finished) fs::remove(temp, ec);
    return finished;
}

Status write_text_atomically(const std::string& path, const std::string& text) {
    return write_file_atomically(
        path, [&](std::FILE* f) { return std::fwrite(text.data(), 1, text.size(), f) == text.size(); });
}

Status replace_file_with(const std::string& written_path, const std::string& path) {
    std::error_code ec;
    std::FILE* file = std::fopen(written_path.c_str(), "rb");
    Status finished = file ? sync_file(file, path) : write_failed(path, written_path + ": " + os_reason());
    if (file) std::fclose(file);
    if (finished) finished = rename_into_place(written_path, path);
    if (!finished) fs::remove(written_path, ec);
    return finished;
}

Result<std::string> read_text_file(const std::string& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        return Result<std::string>::failure("not_a_file", path + " is a folder, not a file");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return Result<std::string>::failure("not_found", "cannot open " + path + ": " + os_reason());
    std::ostringstream contents;
    contents << in.rdbuf();
    if (in.bad()) return Result<std::string>::failure("read_failed", "cannot read " + path);
    return contents.str();
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
