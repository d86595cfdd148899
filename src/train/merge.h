// Folds a LoRA adapter into its base model: W' = W + (alpha / r) * B A for every targeted weight, written
// as a complete GGUF (all of the base's metadata and other tensors) that llama.cpp loads like the base.
// Quantized weights are dequantized, merged and requantized to their own type; `--type` requantizes the
// whole file with llama.cpp's quantizer afterwards.
#pragma once

#include <map>
#include <string>

#include "support/result.h"
#include "train/base_model.h"
#include "train/lora.h"

namespace mimir {

// The storage type of the merged model (--type, --merged-type): each tensor's own (the base's), or the
// whole file requantized with llama.cpp's quantizer.
enum class MergedType { AsBase, F16, Q8_0, Q4_K_M };
const char* merged_type_name(MergedType type);  // "as-base", "f16", "q8_0", "q4_k_m"
// Flag value -> type, for parsing --type / --merged-type (AsBase is the default, not a flag value).
const std::map<std::string, MergedType>& merged_types_by_name();

// Writes `model` (with `adapter` merged when not null; for full fine-tuning pass null: the tensors
// already hold the trained weights) to `out_path` atomically. Errors: "write_failed", "quantize_failed".
Status write_merged_model(const BaseModel& model, const LoraAdapter* adapter, const std::string& out_path,
                          MergedType type = MergedType::AsBase);

// `mimir merge`: loads both files, checks the adapter fits the base, writes the merged model.
Status merge_files(const std::string& base_path, const std::string& adapter_path, const std::string& out_path,
                   MergedType type);

}  // namespace mimir
