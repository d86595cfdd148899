#include "support/system.h"

#include <algorithm>
#include <thread>

namespace mimir {

int default_thread_count() {
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

uint64_t fnv1a_64(std::string_view text) {
    uint64_t hash = 0xcbf29ce484222325ull;
    for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ull;
    return hash;
}

}  // namespace mimir
