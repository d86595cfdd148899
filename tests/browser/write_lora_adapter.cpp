// Test fixture for the browser tests: writes a random LoRA adapter for a tiny base model, so that
// `mimir serve` can be started in its "base + adapter" state.
// Usage: write_lora_adapter <base.gguf> <out adapter.gguf>
#include <cstdio>

#include "model/tiny_model.h"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s <base.gguf> <out adapter.gguf>\n", argv[0]);
        return 2;
    }
    mimir::Status written = mimir::write_random_lora_adapter(argv[1], 4, 8.0f, 7, argv[2]);
    if (!written) {
        std::fprintf(stderr, "write_lora_adapter: %s\n", written.error().message.c_str());
        return 1;
    }
    return 0;
}
