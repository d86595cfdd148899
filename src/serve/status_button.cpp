#include "serve/status_button.h"

#include <utf8.h>

namespace mimir::serve {

std::string cut_to_characters(std::string_view text, size_t max_chars) {
    // Invalid UTF-8 (not expected: messages come from our own code) is cut by bytes after repair.
    std::string valid = utf8::is_valid(text.begin(), text.end()) ? std::string(text)
                                                                 : utf8::replace_invalid(std::string(text));
    size_t count = 0;
    auto keep_end = valid.begin();
    auto it = valid.begin();
    const size_t keep = max_chars >= 3 ? max_chars - 3 : max_chars;
    while (it != valid.end()) {
        if (count == keep) keep_end = it;
        if (count == max_chars) return std::string(valid.begin(), keep_end) + (max_chars >= 3 ? "..." : "");
        utf8::unchecked::next(it);
        ++count;
    }
    return valid;
}

namespace {

// "fine-tuned: file not found (/data/x.gguf); adapter: not configured"
std::string fallback_reason(const ModelInfo& info) {
    std::string reason;
    for (const TierAttempt& attempt : info.attempts) {
        if (attempt.ok || attempt.tier == Tier::Base) continue;
        if (!reason.empty()) reason += "; ";
        reason += std::string(tier_name(attempt.tier)) + ": " +
                  (attempt.error.message.empty() ? attempt.error.code : attempt.error.message);
    }
    return reason.empty() ? "fine-tuned model and adapter not configured" : reason;
}

}  // namespace

StatusButton status_button(const ModelInfo& info) {
    if (info.status == "loading") return {"warning", "Loading", "Loading the model..."};
    if (info.status != "loaded") {
        std::string error = info.error.empty() ? "no model could be loaded" : info.error;
        return {"error", "Error", "Error: " + cut_to_characters(error, kErrorTooltipChars)};
    }
    if (info.model_type == "fine-tuned")
        return {"success", "Fine-tuned", "Fine-tuned model: " + info.fine_tuned_path};
    if (info.model_type == "adapter")
        return {"success", "Adapter",
                "Adapter model: " + info.adapter_path + " (base: " + info.base_model_path + ")"};
    return {"warning", "Base model",
            "Fallback to base model (" + fallback_reason(info) + "). Base: " + info.base_model_path};
}

nlohmann::json status_json(const ModelInfo& info, const StatusButton& button) {
    nlohmann::json out = info.to_json();
    out["state"] = button.state;
    out["label"] = button.label;
    out["tooltip"] = button.tooltip;
    return out;
}

}  // namespace mimir::serve
