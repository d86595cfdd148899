// Result<T>: the return type of every operation that can fail for a reason the user controls
// (a file, a request, a data row). The error message names the file, row or field; exceptions are kept
// for bugs. Example:
//     Result<Rows> rows = read_csv(path);
//     if (!rows) return Result<Report>::failure(rows.error());
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace mimir {

// What went wrong, for a person to read. `code` is a short machine-readable kind (e.g. "not_found",
// "invalid_request", "vocab_mismatch") used by the HTTP layer and the metrics; `message` is the sentence.
struct Error {
    std::string code;
    std::string message;
};

// Placeholder value for Result<Unit>, i.e. "succeeded, nothing to return".
struct Unit {};

template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : state_(std::move(value)) {}
    Result(Error error) : state_(std::move(error)) {}
    static Result failure(std::string code, std::string message) {
        return Result(Error{std::move(code), std::move(message)});
    }

    bool ok() const { return std::holds_alternative<T>(state_); }
    explicit operator bool() const { return ok(); }

    T& value() & {
        assert(ok());
        return std::get<T>(state_);
    }
    const T& value() const& {
        assert(ok());
        return std::get<T>(state_);
    }
    T&& value() && {
        assert(ok());
        return std::get<T>(std::move(state_));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const {
        assert(!ok());
        return std::get<Error>(state_);
    }

  private:
    std::variant<T, Error> state_;
};

using Status = Result<Unit>;

inline Status ok_status() {
    return Status(Unit{});
}

}  // namespace mimir
