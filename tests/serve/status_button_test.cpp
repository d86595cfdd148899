#include "serve/status_button.h"

#include <gtest/gtest.h>
#include <utf8.h>

namespace mimir::serve {
namespace {

ModelInfo loaded(Tier tier) {
    ModelInfo info;
    info.status = ModelStatus::Loaded;
    info.tier = tier;
    info.fine_tuned_path = "/data/mimir-fine-tuned.gguf";
    info.adapter_path = "/data/mimir-adapter.gguf";
    info.base_model_path = "/data/phi-3-mini.gguf";
    return info;
}

TEST(StatusButton, FineTunedIsGreenWithTypeAndPath) {
    StatusButton b = status_button(loaded(Tier::FineTuned));
    EXPECT_EQ(b.state, ButtonState::Success);
    EXPECT_EQ(b.label, "Fine-tuned");
    EXPECT_EQ(b.tooltip, "Fine-tuned model: /data/mimir-fine-tuned.gguf");
}

TEST(StatusButton, AdapterIsGreenWithAdapterAndBasePaths) {
    StatusButton b = status_button(loaded(Tier::Adapter));
    EXPECT_EQ(b.state, ButtonState::Success);
    EXPECT_EQ(b.tooltip, "Adapter model: /data/mimir-adapter.gguf (base: /data/phi-3-mini.gguf)");
}

TEST(StatusButton, AdapterSaysWhyTheFineTunedModelWasRefused) {
    ModelInfo info = loaded(Tier::Adapter);
    info.attempts = {TierAttempt{Tier::FineTuned,
                                 info.fine_tuned_path,
                                 false,
                                 {"checksum_mismatch", "checksum_mismatch: fine-tuned.gguf has SHA-256 ab"}},
                     TierAttempt{Tier::Adapter, info.adapter_path, true, {}}};
    StatusButton b = status_button(info);
    EXPECT_EQ(b.state, ButtonState::Success);
    EXPECT_EQ(
        b.tooltip,
        "Adapter model: /data/mimir-adapter.gguf (base: /data/phi-3-mini.gguf). Fine-tuned model refused: "
        "checksum_mismatch: fine-tuned.gguf has SHA-256 ab");
}

TEST(StatusButton, BaseFallbackIsOrangeWithReasonAndBasePath) {
    ModelInfo info = loaded(Tier::Base);
    info.attempts = {
        TierAttempt{Tier::FineTuned, info.fine_tuned_path, false, {"corrupt", "not a GGUF file"}},
        TierAttempt{Tier::Adapter, info.adapter_path, false, {"not_found", "file not found"}},
        TierAttempt{Tier::Base, info.base_model_path, true, {}}};
    StatusButton b = status_button(info);
    EXPECT_EQ(b.state, ButtonState::Warning);
    EXPECT_EQ(b.label, "Base model");
    EXPECT_EQ(b.tooltip,
              "Fallback to base model (fine-tuned: not a GGUF file; adapter: file not found). Base: "
              "/data/phi-3-mini.gguf");
}

TEST(StatusButton, ErrorIsRedAndCutTo50Characters) {
    ModelInfo info;
    info.status = ModelStatus::Error;
    info.error = std::string(80, 'e');
    StatusButton b = status_button(info);
    EXPECT_EQ(b.state, ButtonState::Error);
    EXPECT_EQ(b.tooltip, "Error: " + std::string(47, 'e') + "...");
    info.error = "short";
    EXPECT_EQ(status_button(info).tooltip, "Error: short");
}

TEST(StatusButton, LoadingIsOrange) {
    ModelInfo info;
    info.status = ModelStatus::Loading;
    EXPECT_EQ(status_button(info).state, ButtonState::Warning);
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
    ModelInfo info = loaded(Tier::FineTuned);
    nlohmann::json j = status_json(info, status_button(info));
    EXPECT_EQ(j["state"], "success");
    EXPECT_EQ(j["label"], "Fine-tuned");
    EXPECT_EQ(j["tooltip"], "Fine-tuned model: /data/mimir-fine-tuned.gguf");
    EXPECT_EQ(j["model_type"], "fine-tuned");
    EXPECT_EQ(j["status"], "loaded");
}

TEST(ModelInfoJson, HasTheSeedFieldsAndDiagnostics) {
    ModelInfo info = loaded(Tier::Base);
    info.attempts = {
        TierAttempt{Tier::FineTuned, info.fine_tuned_path, false, {"not_found", "file not found"}, 0.5},
        TierAttempt{Tier::Adapter, "", false, {"not_configured", "no adapter"}, 0},
        TierAttempt{Tier::Base, info.base_model_path, true, {}, 812.5}};
    info.architecture = "phi3";
    info.n_params = 3821079552;
    nlohmann::json j = model_info_json(info);
    EXPECT_EQ(j["status"], "loaded");
    EXPECT_EQ(j["model_type"], "base");
    EXPECT_EQ(j["is_adapter"], false);
    EXPECT_EQ(j["using_fallback"], true);
    EXPECT_EQ(j["base_model_path"], "/data/phi-3-mini.gguf");
    ASSERT_EQ(j["attempts"].size(), 3u);
    EXPECT_EQ(j["attempts"][0]["error"]["code"], "not_found");
    EXPECT_EQ(j["errors"]["fine-tuned"]["code"], "not_found");
    EXPECT_FALSE(j["errors"].contains("adapter"));  // never configured: not an error
    EXPECT_EQ(j["load_ms"]["base"], 812.5);
    EXPECT_EQ(j["n_params"], 3821079552u);
    EXPECT_EQ(j["architecture"], "phi3");

    ModelInfo nothing;
    nothing.status = ModelStatus::Error;
    EXPECT_EQ(model_info_json(nothing)["model_type"], "");
    EXPECT_EQ(model_info_json(nothing)["status"], "error");
}

TEST(ModelInfoJson, RepairsPathsThatAreNotUtf8) {
    ModelInfo info = loaded(Tier::FineTuned);
    info.fine_tuned_path = "/data/caf\xe9-not-utf8.gguf";
    info.attempts = {TierAttempt{Tier::FineTuned, info.fine_tuned_path, true, {}, 1}};
    const std::string dumped = model_info_json(info).dump();  // would throw on bad UTF-8
    EXPECT_NE(dumped.find("not-utf8"), std::string::npos);
}

TEST(StatusButton, ActivityFollowsTheTooltipAndIsTheTooltipWhileLoading) {
    const std::string activity = "Training the demo adapter: epoch 3 of 20";
    ModelInfo base = loaded(Tier::Base);
    StatusButton b = status_button(base, activity);
    EXPECT_EQ(b.state, ButtonState::Warning);
    EXPECT_TRUE(b.tooltip.starts_with(status_button(base).tooltip)) << b.tooltip;
    EXPECT_TRUE(b.tooltip.ends_with(" " + activity)) << b.tooltip;

    ModelInfo loading;
    EXPECT_EQ(status_button(loading, activity).tooltip, activity);
    EXPECT_EQ(status_button(loading, activity).label, "Loading");

    ModelInfo failed;
    failed.status = ModelStatus::Error;
    failed.error = "no model could be loaded";
    EXPECT_EQ(status_button(failed, activity).tooltip, status_button(failed).tooltip);  // stays <= 50 chars
}

TEST(StatusJson, CarriesTheActivity) {
    ModelInfo info = loaded(Tier::Adapter);
    EXPECT_EQ(status_json(info, status_button(info), "Training")["activity"], "Training");
    EXPECT_EQ(status_json(info, status_button(info))["activity"], "");
}

}  // namespace
}  // namespace mimir::serve
