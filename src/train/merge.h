// Folds a LoRA adapter into its base model: W' = W + (alpha / r) * B A for every targeted weight, written
// as a complete GGUF (all of the base's metadata and other tensors) that llama.cpp loads like the base.
// Quantized weights are dequantized, merged and requantized to their own type; `--type` requantizes the
// whole file with llama.cpp's quantizer afterwards.
#pragma once

#include <string>

#include "support/result.h"
#include "train/base_model.h"
#include "train/lora.h"

namespace mimir {

// Writes `model` (with `adapter` merged when not null; for full fine-tuning pass null: the tensors
// already hold the trained weights) to `out_path` atomically. `type` is "" (keep each tensor's type),
// "f16", "q8_0" or "q4_k_m". Errors: "bad_type", "write_failed", "quantize_failed".
Status write_merged_model(const BaseModel& model, const LoraAdapter* adapter, const std::string& out_path,
                          const std::string& type = "");

// `mimir merge`: loads both files, checks the adapter fits the base, writes the merged model.
Status merge_files(const std::string& base_path, const std::string& adapter_path, const std::string& out_path,
                   const std::string& type);

}  // namespace mimir
