// Stops a stream at the first stop string without ever showing part of it: text that could still
// become a stop string is held back until the next piece decides.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mimir {

class StopStringFilter {
  public:
    explicit StopStringFilter(std::vector<std::string> stop_strings)
        : stop_strings_(std::move(stop_strings)) {}

    // Text that is safe to show now. After a stop string was found, `stopped()` is true and the text
    // returned ends just before it; later pushes return nothing.
    std::string push(std::string_view text);
    // The held-back tail when the stream ends for another reason (it was not a stop string after all).
    std::string flush();
    bool stopped() const { return stopped_; }

  private:
    std::vector<std::string> stop_strings_;
    std::string held_;
    bool stopped_ = false;
};

}  // namespace mimir
