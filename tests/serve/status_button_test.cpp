#include "serve/status_button.h"

#include <gtest/gtest.h>
#include <utf8.h>

namespace mimir::serve {
namespace {

ModelInfo loaded(const std::string& type) {
    ModelInfo info;
    info.status = "loaded";
    info.model_type = type;
    info.is_adapter = type == "adapter";
    info.using_fallback = type == "base";
    info.fine_tuned_path = "/data/mimir-fine-tuned.gguf";
    info.adapter_path = "/data/mimir-adapter.gguf";
    info.base_model_path = "/data/phi-3-mini.gguf";
    return info;
}

TEST(StatusButton, FineTunedIsGreenWithTypeAndPath) {
    StatusButton b = status_button(loaded("fine-tuned"));
    EXPECT_EQ(b.state, "success");
    EXPECT_EQ(b.label, "Fine-tuned");
    EXPECT_EQ(b.tooltip, "Fine-tuned model: /data/mimir-fine-tuned.gguf");
}

TEST(StatusButton, AdapterIsGreenWithAdapterAndBasePaths) {
    StatusButton b = status_button(loaded("adapter"));
    EXPECT_EQ(b.state, "success");
    EXPECT_EQ(b.tooltip, "Adapter model: /data/mimir-adapter.gguf (base: /data/phi-3-mini.gguf)");
}

TEST(StatusButton, BaseFallbackIsOrangeWithReasonAndBasePath) {
    ModelInfo info = loaded("base");
    info.attempts = {
        TierAttempt{Tier::FineTuned, info.fine_tuned_path, false, {"corrupt", "not a GGUF file"}},
        TierAttempt{Tier::Adapter, info.adapter_path, false, {"not_found", "file not found"}},
        TierAttempt{Tier::Base, info.base_model_path, true, {}}};
    StatusButton b = status_button(info);
    EXPECT_EQ(b.state, "warning");
    EXPECT_EQ(b.label, "Base model");
    EXPECT_EQ(b.tooltip,
              "Fallback to base model (fine-tuned: not a GGUF file; adapter: file not found). Base: "
              "/data/phi-3-mini.gguf");
}

TEST(StatusButton, ErrorIsRedAndCutTo50Characters) {
    ModelInfo info;
    info.status = "error";
    info.error = std::string(80, 'e');
    StatusButton b = status_button(info);
    EXPECT_EQ(b.state, "error");
    EXPECT_EQ(b.tooltip, "Error: " + std::string(47, 'e') + "...");
    info.error = "short";
    EXPECT_EQ(status_button(info).tooltip, "Error: short");
}

TEST(StatusButton, LoadingIsOrange) {
    ModelInfo info;
    info.status = "loading";
    EXPECT_EQ(status_button(info).state, "warning");
    EXPECT_EQ(status_button(info).label, "Loading");
}

TEST(CutToCharacters, CountsCodePointsAndNeverSplitsThem) {
    EXPECT_EQ(cut_to_characters("abc", 50), "abc");
    EXPECT_EQ(cut_to_characters(std::string(50, 'x'), 50), std::string(50, 'x'));
    EXPECT_EQ(cut_to_characters(std::string(51, 'x'), 50), std::string(47, 'x') + "...");
    std::string accents;
    for (int i = 0; i < 60; ++i) accents += "\xc3\xa9";  // é, two bytes each
    std::string cut = cut_to_characters(accents, 50);
    EXPECT_TRUE(utf8::is_valid(cut.begin(), cut.end()));
    EXPECT_EQ(utf8::distance(cut.begin(), cut.end()), 50);
    EXPECT_TRUE(cut.ends_with("..."));
}

TEST(StatusJson, AddsStateLabelAndTooltipToModelInfo) {
    ModelInfo info = loaded("fine-tuned");
    nlohmann::json j = status_json(info, status_button(info));
    EXPECT_EQ(j["state"], "success");
    EXPECT_EQ(j["label"], "Fine-tuned");
    EXPECT_EQ(j["tooltip"], "Fine-tuned model: /data/mimir-fine-tuned.gguf");
    EXPECT_EQ(j["model_type"], "fine-tuned");
    EXPECT_EQ(j["status"], "loaded");
}

}  // namespace
}  // namespace mimir::serve
