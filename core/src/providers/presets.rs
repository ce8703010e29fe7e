//! Provider types: which wire protocol each speaks, its default base URL and the environment
//! variable its key is read from when the config gives none.

/// The wire protocol an adapter speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    OpenAi,
    AzureOpenAi,
    Anthropic,
    Gemini,
    Cohere,
    Mock,
}

/// A provider type from config (`type:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    pub name: &'static str,
    pub wire: Wire,
    pub api_base: Option<&'static str>,
    pub key_env: Option<&'static str>,
    /// Mistral rejects tool-call ids that are not 9 alphanumerics.
    pub nine_char_tool_ids: bool,
}

const fn preset(name: &'static str, wire: Wire, api_base: &'static str, key_env: &'static str) -> Preset {
    Preset {
        name,
        wire,
        api_base: Some(api_base),
        key_env: Some(key_env),
        nine_char_tool_ids: false,
    }
}

pub static PRESETS: &[Preset] = &[
    preset("openai", Wire::OpenAi, "https://api.openai.com/v1", "OPENAI_API_KEY"),
    Preset {
        name: "azure_openai",
        wire: Wire::AzureOpenAi,
        api_base: None,
        key_env: Some("AZURE_OPENAI_API_KEY"),
        nine_char_tool_ids: false,
    },
    preset(
        "anthropic",
        Wire::Anthropic,
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
    ),
    preset(
        "gemini",
        Wire::Gemini,
        "https://generativelanguage.googleapis.com/v1beta",
        "GEMINI_API_KEY",
    ),
    preset("cohere", Wire::Cohere, "https://api.cohere.com", "COHERE_API_KEY"),
    Preset {
        nine_char_tool_ids: true,
        ..preset("mistral", Wire::OpenAi, "https://api.mistral.ai/v1", "MISTRAL_API_KEY")
    },
    preset("groq", Wire::OpenAi, "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    preset(
        "together",
        Wire::OpenAi,
        "https://api.together.xyz/v1",
        "TOGETHER_API_KEY",
    ),
    preset(
        "fireworks",
        Wire::OpenAi,
        "https://api.fireworks.ai/inference/v1",
        "FIREWORKS_API_KEY",
    ),
    preset(
        "deepseek",
        Wire::OpenAi,
        "https://api.deepseek.com/v1",
        "DEEPSEEK_API_KEY",
    ),
    preset("xai", Wire::OpenAi, "https://api.x.ai/v1", "XAI_API_KEY"),
    preset(
        "openrouter",
        Wire::OpenAi,
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
    ),
    preset("vllm", Wire::OpenAi, "http://127.0.0.1:8000/v1", "VLLM_API_KEY"),
    Preset {
        key_env: None,
        ..preset("ollama", Wire::OpenAi, "http://127.0.0.1:11434/v1", "")
    },
    Preset {
        name: "mock",
        wire: Wire::Mock,
        api_base: None,
        key_env: None,
        nine_char_tool_ids: false,
    },
];

pub fn find(name: &str) -> Option<&'static Preset> {
    let name = if name == "azure" { "azure_openai" } else { name };
    PRESETS.iter().find(|p| p.name == name)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    PRESETS.iter().map(|p| p.name)
}
