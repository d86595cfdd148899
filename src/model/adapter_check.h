// Whether a LoRA adapter was made for a given base model, checked from the two files' tensor tables before
// llama.cpp applies it (llama.cpp would refuse a mismatch too, but only after loading the whole base).
#pragma once

#include <string>

#include "support/result.h"

namespace mimir {

// Every `<name>.lora_a` / `<name>.lora_b` pair of the adapter must name a weight of the base, with
// lora_a [n_in, r] and lora_b [r, n_out] matching that weight's [n_in, n_out], and the architectures must
// agree. Both files must already have passed inspect_gguf. Error code "adapter_mismatch", naming the
// first tensor that does not fit.
Status check_adapter_fits_base(const std::string& adapter_path, const std::string& base_path);

}  // namespace mimir
