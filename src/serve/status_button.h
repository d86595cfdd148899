// What the page's model-status button shows for a model state, decided on the server so the API, the
// logs and the page agree: green (success) when the fine-tuned model or the adapter serves, orange
// (warning) when only the base model serves or a load is under way, red (error) when nothing serves.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "model/model_manager.h"

namespace mimir::serve {

enum class ButtonState { Success, Warning, Error };
const char* button_state_name(ButtonState state);  // "success", "warning", "error": the page's CSS classes

struct StatusButton {
    ButtonState state = ButtonState::Warning;
    std::string label;    // short visible text: "Fine-tuned", "Adapter", "Base model", "Loading", "Error"
    std::string tooltip;  // the detail shown on hover; plain text, the page inserts it as text

    bool operator==(const StatusButton&) const = default;
};

inline constexpr size_t kErrorTooltipChars = 50;

// `activity` is what the server is doing besides serving (e.g. "Training the demo adapter: epoch 3 of 20");
// when not empty it follows the state's own text in the tooltip, and is the tooltip while loading.
StatusButton status_button(const ModelInfo& info, std::string_view activity = {});

// The first `max_chars` characters (code points) of `text`; when it is longer, the first max_chars - 3
// followed by "...", so the result never exceeds max_chars characters. Never splits a UTF-8 sequence.
std::string cut_to_characters(std::string_view text, size_t max_chars);

// get_model_info() as the API shows it: ModelInfo's fields (file_sha256 included) plus "model_type",
// "is_adapter", "using_fallback", "load_ms" {tier: ms} and "errors" {tier: {code, message}} for the tiers
// that were configured and failed. Strings that are not UTF-8 (odd paths) are repaired, so dump() never
// throws.
nlohmann::json model_info_json(const ModelInfo& info);

// GET /api/status: get_model_info() plus the button's state, label and tooltip, and the activity.
nlohmann::json status_json(const ModelInfo& info, const StatusButton& button, std::string_view activity = {});

}  // namespace mimir::serve
