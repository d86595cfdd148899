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

// Paths and llama.cpp's messages may hold bytes that are not UTF-8; JSON output must stay valid.
std::string valid_utf8(const std::string& text) {
    return utf8::is_valid(text.begin(), text.end()) ? text : utf8::replace_invalid(text);
}

// When the adapter serves because the fine-tuned model was refused (e.g. checksum_mismatch), why.
std::string fine_tuned_refusal(const ModelInfo& info) {
    for (const TierAttempt& attempt : info.attempts) {
        if (attempt.tier != Tier::FineTuned || attempt.ok || attempt.error.code == "not_configured") continue;
        return ". Fine-tuned model refused: " +
               (attempt.error.message.empty() ? attempt.error.code : attempt.error.message);
    }
    return "";
}

StatusButton button_for_model(const ModelInfo& info) {
    if (info.status == ModelStatus::Loading) return {ButtonState::Warning, "Loading", "Loading the model..."};
    if (info.status == ModelStatus::Error || !info.tier) {
        std::string error = info.error.empty() ? "no model could be loaded" : info.error;
        return {ButtonState::Error, "Error", "Error: " + cut_to_characters(error, kErrorTooltipChars)};
    }
    switch (*info.tier) {
        case Tier::FineTuned:
            return {ButtonState::Success, "Fine-tuned", "Fine-tuned model: " + info.fine_tuned_path};
        case Tier::Adapter:
            return {ButtonState::Success, "Adapter",
                    "Adapter model: " + info.adapter_path + " (base: " + info.base_model_path + ")" +
                        fine_tuned_refusal(info)};
        case Tier::Base:
            break;
    }
    return {ButtonState::Warning, "Base model",
            "Fallback to base model (" + fallback_reason(info) + "). Base: " + info.base_model_path};
}

}  // namespace

const char* button_state_name(ButtonState state) {
    switch (state) {
        case ButtonState::Success:
            return "success";
        case ButtonState::Warning:
            return "warning";
        case ButtonState::Error:
            return "error";
    }
    return "error";
}

StatusButton status_button(const ModelInfo& info, std::string_view activity) {
    StatusButton button = button_for_model(info);
    if (activity.empty()) return button;
    if (info.status == ModelStatus::Loading) {
        button.tooltip = std::string(activity);
    } else if (button.state != ButtonState::Error) {  // an error's tooltip stays within its 50 characters
        button.tooltip.append(" ").append(activity);
    }
    return button;
}

nlohmann::json model_info_json(const ModelInfo& info) {
    nlohmann::json attempts = nlohmann::json::array();
    nlohmann::json load_ms = nlohmann::json::object();
    nlohmann::json errors = nlohmann::json::object();
    for (const TierAttempt& a : info.attempts) {
        nlohmann::json entry = {
            {"tier", tier_name(a.tier)}, {"path", valid_utf8(a.path)}, {"ok", a.ok}, {"load_ms", a.load_ms}};
        if (!a.ok) {
            entry["error"] = {{"code", a.error.code}, {"message", valid_utf8(a.error.message)}};
            if (a.error.code != "not_configured") errors[tier_name(a.tier)] = entry["error"];
        }
        attempts.push_back(entry);
        load_ms[tier_name(a.tier)] = a.load_ms;
    }
    return {{"status", model_status_name(info.status)},
            {"model_type", info.model_type()},
            {"is_adapter", info.is_adapter()},
            {"fine_tuned_path", valid_utf8(info.fine_tuned_path)},
            {"adapter_path", valid_utf8(info.adapter_path)},
            {"base_model_path", valid_utf8(info.base_model_path)},
            {"using_fallback", info.using_fallback()},
            {"attempts", attempts},
            {"load_ms", load_ms},
            {"errors", errors},
            {"error", valid_utf8(info.error)},
            {"architecture", info.architecture},
            {"quantization", info.quantization},
            {"n_params", info.n_params},
            {"model_size_bytes", info.model_size_bytes},
            {"file_sha256", info.file_sha256},
            {"resident_memory_bytes", info.resident_memory_bytes}};
}

nlohmann::json status_json(const ModelInfo& info, const StatusButton& button, std::string_view activity) {
    nlohmann::json out = model_info_json(info);
    out["activity"] = valid_utf8(std::string(activity));
    out["state"] = button_state_name(button.state);
    out["label"] = button.label;
    out["tooltip"] = button.tooltip;
    return out;
}

}  // namespace mimir::serve
