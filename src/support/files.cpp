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

Status replace_symlink_atomically(const std::string& link, const std::string& target) {
    const std::string temp = temp_path_for(link);
    std::error_code ec;
    fs::create_symlink(target, temp, ec);
    if (ec) return write_failed(link, "cannot create a symlink to " + target + ": " + ec.message());
    if (std::rename(temp.c_str(), link.c_str()) != 0) {
        const Status failed = write_failed(link, os_reason());
        fs::remove(temp, ec);
        return failed;
    }
    return sync_folder(folder_of(link), link);
}

Status rename_durably(const std::string& from, const std::string& to) {
    if (std::rename(from.c_str(), to.c_str()) != 0)
        return write_failed(to, "cannot move " + from + " there: " + os_reason());
    if (Status synced = sync_folder(folder_of(to), to); !synced) return synced;
    return folder_of(from) == folder_of(to) ? ok_status() : sync_folder(folder_of(from), from);
}

Status append_line_durably(const std::string& path, const std::string& line) {
    const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return write_failed(path, os_reason());
    std::string text = line + "\n";
    char last = '\n';
    const off_t size = ::lseek(fd, 0, SEEK_END);
    if (size > 0 && ::pread(fd, &last, 1, size - 1) == 1 && last != '\n') text.insert(0, "\n");
    size_t written = 0;
    while (written < text.size()) {
        const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        written += static_cast<size_t>(n);
    }
    const bool ok = written == text.size() && (::fsync(fd) == 0 || errno == EINVAL);
    const int error_number = errno;
    ::close(fd);
    if (!ok) return write_failed(path, os_reason(error_number));
    // A new file's folder entry must survive too.
    return size == 0 ? sync_folder(folder_of(path), path) : ok_status();
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
